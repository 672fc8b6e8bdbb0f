/**
 * Bounded readers for packet payload fields and encoders for the packets the proxy writes itself
 * (OK, ERR, the auth-phase packets). Readers throw WireError on malformed input.
 */
import {encodePacket, payloadOf} from './framing.js'
import {Header} from './protocol.js'

/** A payload whose fields do not fit its length or format. */
export class WireError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WireError'
  }
}

/** Reads the fields of one payload, never past its end. */
export class PayloadReader {
  private off: number

  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.off = start
  }

  /** Bytes left. */
  get remaining(): number {
    return this.buf.length - this.off
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.off + n > this.buf.length) throw new WireError(`truncated ${what}`)
  }

  /** An unsigned little-endian integer of 1 to 4 bytes. */
  int(bytes: 1 | 2 | 3 | 4): number {
    this.need(bytes, 'integer')
    const v = this.buf.readUIntLE(this.off, bytes)
    this.off += bytes
    return v
  }

  /** A length-encoded integer (0xFB, NULL, is refused: callers never expect one). */
  lenenc(): number {
    const first = this.int(1)
    if (first < 0xfb) return first
    if (first === 0xfc) return this.int(2)
    if (first === 0xfd) return this.int(3)
    if (first === 0xfe) {
      this.need(8, 'integer')
      const v = this.buf.readBigUInt64LE(this.off)
      this.off += 8
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('length-encoded integer too large')
      return Number(v)
    }
    throw new WireError(`invalid length-encoded integer prefix 0x${first.toString(16)}`)
  }

  /** `n` bytes (a subarray). */
  bytes(n: number): Buffer {
    this.need(n, 'field')
    const out = this.buf.subarray(this.off, this.off + n)
    this.off += n
    return out
  }

  /** Bytes up to a NUL (consumed); the whole rest when `orEnd` and there is no NUL. */
  nulBytes(orEnd = false): Buffer {
    const end = this.buf.indexOf(0, this.off)
    if (end < 0) {
      if (!orEnd) throw new WireError('unterminated string')
      return this.rest()
    }
    const out = this.buf.subarray(this.off, end)
    this.off = end + 1
    return out
  }

  /** A NUL-terminated UTF-8 string. */
  nulString(orEnd = false): string {
    return this.nulBytes(orEnd).toString('utf8')
  }

  /** A length-encoded byte string. */
  lenencBytes(): Buffer {
    return this.bytes(this.lenenc())
  }

  /** Everything left. */
  rest(): Buffer {
    const out = this.buf.subarray(this.off)
    this.off = this.buf.length
    return out
  }

  /** Skips `n` bytes. */
  skip(n: number): void {
    this.need(n, 'field')
    this.off += n
  }
}

/** A length-encoded integer. */
export function lenencInt(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n])
  if (n < 0x10000) return Buffer.from([0xfc, n & 0xff, n >> 8])
  if (n < 0x1000000) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16])
  const b = Buffer.alloc(9)
  b[0] = 0xfe
  b.writeBigUInt64LE(BigInt(n), 1)
  return b
}

/** An ERR packet (protocol 4.1: with `#` and a SQLSTATE). */
export function errPacket(seq: number, code: number, sqlState: string, message: string): Buffer {
  const text = Buffer.from(message, 'utf8')
  const payload = Buffer.allocUnsafe(9 + text.length)
  payload[0] = Header.err
  payload.writeUInt16LE(code, 1)
  payload.write('#', 3, 'latin1')
  payload.write(sqlState.padEnd(5, '0').slice(0, 5), 4, 'latin1')
  text.copy(payload, 9)
  return encodePacket(seq, payload)
}

/** An OK packet with no affected rows (protocol 4.1, no session tracking). */
export function okPacket(seq: number, status = 0x0002 /* SERVER_STATUS_AUTOCOMMIT */): Buffer {
  const payload = Buffer.from([Header.ok, 0, 0, status & 0xff, status >> 8, 0, 0])
  return encodePacket(seq, payload)
}

/** The code, SQLSTATE and message of an ERR payload (best effort: used for audit and errors). */
export function readErr(payload: Buffer): {code: number; sqlState: string; message: string} {
  if (payload.length < 3) return {code: 0, sqlState: 'HY000', message: 'unknown error'}
  const code = payload.readUInt16LE(1)
  if (payload[3] === 0x23 /* '#' */ && payload.length >= 9)
    return {code, sqlState: payload.toString('latin1', 4, 9), message: payload.toString('utf8', 9)}
  return {code, sqlState: 'HY000', message: payload.toString('utf8', 3)}
}

/** The status flags of an OK payload (header 0x00 or 0xFE), or of a 4.1 EOF payload. */
export function statusOf(payload: Buffer): number {
  if (payload[0] === Header.eof && payload.length < 9)
    return payload.length >= 5 ? payload.readUInt16LE(3) : 0
  const r = new PayloadReader(payload, 1)
  try {
    r.lenenc() // affected rows
    r.lenenc() // last insert id
    return r.remaining >= 2 ? r.int(2) : 0
  } catch {
    return 0
  }
}

/**
 * An OK payload (header 0x00, or 0xFE ending a result set) with its last-insert-id set to 0, the rest
 * as it was; undefined when the payload is no such OK or its id is 0 already. A malformed OK (the
 * fields do not fit) is returned as a bare OK with the same status, failing closed.
 */
export function withoutInsertId(payload: Buffer): Buffer | undefined {
  if (payload[0] !== Header.ok && !(payload[0] === Header.eof && payload.length >= 9)) return undefined
  const r = new PayloadReader(payload, 1)
  try {
    r.lenenc() // affected rows
    const idAt = payload.length - r.remaining
    if (r.lenenc() === 0) return undefined
    return Buffer.concat([
      payload.subarray(0, idAt),
      Buffer.from([0]),
      payload.subarray(payload.length - r.remaining),
    ])
  } catch {
    const status = statusOf(payload)
    return Buffer.from([payload[0] as number, 0, 0, status & 0xff, status >> 8, 0, 0])
  }
}

/**
 * The status flags of the logical packet `buf[start, end)` (as statusOf): an EOF, the one a result set
 * ends with, is read in place, without a view of its payload.
 */
export function statusAt(buf: Buffer, start: number, end: number): number {
  const length = end - start - 4
  if (buf[start + 4] === Header.eof && length < 9) return length >= 5 ? buf.readUInt16LE(start + 7) : 0
  return statusOf(payloadOf(buf, start, end))
}
