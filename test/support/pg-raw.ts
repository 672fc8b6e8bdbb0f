/** A raw protocol client for tests that need exact control of the bytes on the wire (pipelines, fastpath, fuzz). */
import {connect, type Socket} from 'node:net'

import {Framer} from '../../src/proxy/postgres/framing.js'
import {readErrorFields, startupMessage, typed} from '../../src/proxy/postgres/wire.js'

/** One server message: its type as a character, and the frame. */
export interface RawMessage {
  readonly type: string
  readonly frame: Buffer
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`)
const i16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

/** Frontend message builders. */
export const F = {
  query: (sql: string) => typed(0x51, cstr(sql)),
  parse: (name: string, sql: string) => typed(0x50, Buffer.concat([cstr(name), cstr(sql), i16(0)])),
  bind: (portal: string, stmt: string, params: string[] = []) =>
    typed(
      0x42,
      Buffer.concat([
        cstr(portal),
        cstr(stmt),
        i16(0),
        i16(params.length),
        ...params.flatMap((p) => [i32(Buffer.byteLength(p)), Buffer.from(p)]),
        i16(0),
      ]),
    ),
  describePortal: (portal: string) => typed(0x44, Buffer.concat([Buffer.from('P'), cstr(portal)])),
  execute: (portal: string) => typed(0x45, Buffer.concat([cstr(portal), i32(0)])),
  sync: () => typed(0x53, Buffer.alloc(0)),
  flush: () => typed(0x48, Buffer.alloc(0)),
  copyData: (data: string) => typed(0x64, Buffer.from(data)),
  copyDone: () => typed(0x63, Buffer.alloc(0)),
  functionCall: (oid: number, args: string[]) =>
    typed(
      0x46,
      Buffer.concat([
        i32(oid),
        i16(0),
        i16(args.length),
        ...args.flatMap((a) => [i32(Buffer.byteLength(a)), Buffer.from(a)]),
        i16(0),
      ]),
    ),
  terminate: () => typed(0x58, Buffer.alloc(0)),
}

/** A connected raw client. */
export class RawClient {
  private readonly queue: RawMessage[] = []
  private waiter: (() => void) | undefined
  closed = false

  private constructor(readonly socket: Socket) {
    const framer = new Framer({maxMessageBytes: 1 << 30}, (t, frame) => {
      this.queue.push({type: String.fromCharCode(t), frame: Buffer.from(frame)})
      this.waiter?.()
    })
    socket.on('data', (c: Buffer) => framer.push(c))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      this.closed = true
      this.waiter?.()
    })
  }

  /** Connects and completes the startup (no password). */
  static async connect(port: number, params: Record<string, string>): Promise<RawClient> {
    const socket = connect({host: '127.0.0.1', port})
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const c = new RawClient(socket)
    socket.write(startupMessage(new Map(Object.entries(params))))
    const msgs = await c.readUntil('Z', 1, ['E'])
    const err = msgs.find((m) => m.type === 'E')
    if (err !== undefined) throw new Error(errorMessage(err))
    return c
  }

  /** Opens a bare socket to the port (for fuzzing). */
  static async open(port: number): Promise<RawClient> {
    const socket = connect({host: '127.0.0.1', port})
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawClient(socket)
  }

  /** Writes bytes. */
  send(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs))
  }

  /** Reads messages until `count` messages of `type` (or one of `stopAt`, or close) arrived. */
  async readUntil(type: string, count = 1, stopAt: string[] = [], timeoutMs = 15_000): Promise<RawMessage[]> {
    const out: RawMessage[] = []
    let seen = 0
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.queue.length > 0) {
        const m = this.queue.shift()!
        out.push(m)
        if (m.type === type && ++seen === count) return out
        if (stopAt.includes(m.type)) return out
      }
      if (this.closed) return out
      if (Date.now() > deadline) throw new Error(`timed out; got ${out.map((m) => m.type).join('')}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200)
        this.waiter = () => {
          clearTimeout(t)
          this.waiter = undefined
          resolve()
        }
      })
    }
  }

  /** Closes the socket. */
  end(): void {
    this.socket.end()
  }
}

/** The message field of an ErrorResponse. */
export function errorMessage(m: RawMessage): string {
  return readErrorFields(m.frame).get(0x4d) ?? ''
}

/** The messages of the ErrorResponses among `msgs`. */
export function errorsOf(msgs: readonly RawMessage[]): string[] {
  return msgs.filter((m) => m.type === 'E').map(errorMessage)
}

/** The SQLSTATE of an ErrorResponse. */
export function errorCode(m: RawMessage): string {
  return readErrorFields(m.frame).get(0x43) ?? ''
}

/** Types of messages as a string, e.g. "12DCZ". */
export function types(msgs: readonly RawMessage[]): string {
  return msgs.map((m) => m.type).join('')
}
