/**
 * Encoders for the few messages the proxy writes itself, and decoders for the fields it reads.
 * Decoders take whole frames (header included) and throw WireError on malformed input.
 */
import type {AuthCode} from './messages.js'
import {Backend, ErrorField, Frontend, StartupCode} from './messages.js'

/** A message whose fields do not match its declared length or format. */
export class WireError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WireError'
  }
}

/** Builds a typed message from its body. */
export function typed(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length)
  out[0] = type
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8')
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeInt32BE(n, 0)
  return b
}

/** Fields of an ErrorResponse or NoticeResponse the proxy writes. */
export interface ErrorFields {
  readonly severity: 'ERROR' | 'FATAL'
  readonly code: string
  readonly message: string
  readonly detail?: string | undefined
  readonly hint?: string | undefined
  readonly routine?: string | undefined
}

/** ErrorResponse ('E'). */
export function errorResponse(f: ErrorFields): Buffer {
  const parts: Buffer[] = []
  const add = (code: ErrorField, value: string | undefined): void => {
    if (value !== undefined) parts.push(Buffer.from([code]), cstr(value))
  }
  add(ErrorField.Severity, f.severity)
  add(ErrorField.SeverityNonLocalized, f.severity)
  add(ErrorField.Code, f.code)
  add(ErrorField.Message, f.message)
  add(ErrorField.Detail, f.detail)
  add(ErrorField.Hint, f.hint)
  add(ErrorField.Routine, f.routine)
  parts.push(Buffer.from([0]))
  return typed(Backend.ErrorResponse, Buffer.concat(parts))
}

/** ReadyForQuery ('Z') with a transaction status byte. */
export function readyForQuery(status: number): Buffer {
  return typed(Backend.ReadyForQuery, Buffer.from([status]))
}

/** Authentication ('R') with a sub-code and optional data. */
export function authentication(code: AuthCode, data: Buffer = Buffer.alloc(0)): Buffer {
  return typed(Backend.Authentication, Buffer.concat([int32(code), data]))
}

/** BackendKeyData ('K'). */
export function backendKeyData(pid: number, secret: number): Buffer {
  return typed(Backend.BackendKeyData, Buffer.concat([int32(pid), int32(secret)]))
}

/** StartupMessage for protocol 3.0 (untyped). */
export function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const parts: Buffer[] = [int32(StartupCode.Protocol3)]
  for (const [k, v] of params) parts.push(cstr(k), cstr(v))
  parts.push(Buffer.from([0]))
  const body = Buffer.concat(parts)
  return Buffer.concat([int32(body.length + 4), body])
}

/** SSLRequest (untyped). */
export function sslRequest(): Buffer {
  return Buffer.concat([int32(8), int32(StartupCode.SSLRequest)])
}

/** CancelRequest (untyped). */
export function cancelRequest(pid: number, secret: number): Buffer {
  return Buffer.concat([int32(16), int32(StartupCode.CancelRequest), int32(pid), int32(secret)])
}

/** PasswordMessage ('p') with a password or md5 hash. */
export function passwordMessage(password: string): Buffer {
  return typed(Frontend.Password, cstr(password))
}

/** SASLInitialResponse ('p'). */
export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  return typed(Frontend.Password, Buffer.concat([cstr(mechanism), int32(data.length), data]))
}

/** SASLResponse ('p'). */
export function saslResponse(data: Buffer): Buffer {
  return typed(Frontend.Password, data)
}

/** Query ('Q'). */
export function query(sql: string): Buffer {
  return typed(Frontend.Query, cstr(sql))
}

/** Terminate ('X'). */
export function terminate(): Buffer {
  return typed(Frontend.Terminate, Buffer.alloc(0))
}

/** Reads NUL-terminated strings and integers from a frame, with bounds checks. */
export class FieldReader {
  private off: number

  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.off = start
  }

  /** Bytes left. */
  get remaining(): number {
    return this.buf.length - this.off
  }

  /** The raw bytes of a NUL-terminated string, without the NUL. */
  cstringBytes(): Buffer {
    const end = this.buf.indexOf(0, this.off)
    if (end < 0) throw new WireError('unterminated string in message')
    const out = this.buf.subarray(this.off, end)
    this.off = end + 1
    return out
  }

  /** A NUL-terminated string decoded as UTF-8. */
  cstring(): string {
    return this.cstringBytes().toString('utf8')
  }

  /** A big-endian Int32. */
  int32(): number {
    if (this.remaining < 4) throw new WireError('message too short')
    const v = this.buf.readInt32BE(this.off)
    this.off += 4
    return v
  }

  /** A big-endian Int16. */
  int16(): number {
    if (this.remaining < 2) throw new WireError('message too short')
    const v = this.buf.readInt16BE(this.off)
    this.off += 2
    return v
  }

  /** One byte. */
  byte(): number {
    if (this.remaining < 1) throw new WireError('message too short')
    return this.buf[this.off++] as number
  }

  /** `n` raw bytes. */
  bytes(n: number): Buffer {
    if (n < 0 || this.remaining < n) throw new WireError('message too short')
    const out = this.buf.subarray(this.off, this.off + n)
    this.off += n
    return out
  }
}

/** Index of the NUL ending the C string at `start`, before `limit`; throws WireError when there is none. */
export function cstringEnd(buf: Buffer, start: number, limit: number): number {
  const end = buf.indexOf(0, start)
  if (end < 0 || end >= limit) throw new WireError('unterminated string in message')
  return end
}

/** Names up to this many bytes are decoded in JS: short names are the rule (`P0_1`, `S_12`). */
const SHORT_NAME = 64

/**
 * The UTF-8 C string `frame[start, end)`; the empty name (unnamed statement or portal) costs nothing.
 * A short ASCII name is built in JS: measured twice as fast as toString, whose call into C++
 * dominates for a few bytes (every Bind and Execute of a named statement or portal pays it).
 */
export function nameAt(frame: Buffer, start: number, end: number): string {
  if (end === start) return ''
  if (end - start > SHORT_NAME) return frame.toString('utf8', start, end)
  let name = ''
  for (let i = start; i < end; i++) {
    const b = frame[i] as number
    if (b >= 0x80) return frame.toString('utf8', start, end)
    name += String.fromCharCode(b)
  }
  return name
}

/** A reader positioned after the header of a typed frame. */
export function bodyOf(frame: Buffer): FieldReader {
  return new FieldReader(frame, 5)
}

/** The fields of an ErrorResponse/NoticeResponse frame, by field code. */
export function readErrorFields(frame: Buffer): Map<number, string> {
  const r = bodyOf(frame)
  const out = new Map<number, string>()
  for (;;) {
    const code = r.byte()
    if (code === 0) return out
    out.set(code, r.cstring())
  }
}
