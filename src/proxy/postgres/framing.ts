/**
 * Incremental framing of protocol messages in either direction. Whole messages inside a chunk are
 * handed out as zero-copy subarrays of that chunk; only a message split across chunks is copied.
 */

/** Framing failed: the peer sent something that is not a protocol message, or one too large. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly sqlState: '08P01' | '54000',
  ) {
    super(message)
    this.name = 'FrameError'
  }
}

/**
 * Receives one whole message: `type` is its type byte (0 for an untyped startup-phase packet) and
 * `frame` the whole message including its header. Return false to stop framing after this message;
 * the rest stays buffered until `resume()`.
 */
export type FrameHandler = (type: number, frame: Buffer) => boolean | void

/**
 * Receives one whole message as the range `buf[start, end)`, without a subarray object per message
 * (the relay's hot path). Same contract as FrameHandler otherwise, and one more answer: a number is
 * the offset in `buf` up to which the handler took the messages after this one as well (a run of
 * rows masked in one go); framing goes on from there.
 */
export type RangeHandler = (type: number, buf: Buffer, start: number, end: number) => boolean | number | void

/** Either kind of handler: a function gets frames, `{range}` gets ranges. */
export type AnyFrameHandler = FrameHandler | {readonly range: RangeHandler}

/** Options of a Framer. */
export interface FramerOptions {
  /** Largest message accepted, header included. */
  readonly maxMessageBytes: number
  /** Start in the startup phase: packets have a length but no type byte. */
  readonly startup?: boolean
}

/** libpq refuses startup packets over 10000 bytes; so does the server. */
const MAX_STARTUP_BYTES = 10_000

/**
 * The end of the run of whole messages of `type` in `buf` from `from` on, each one a Framer with the
 * limit `max` would hand out: a message it would refuse (a bad length, over the limit), or one cut off
 * at the end of `buf`, ends the run and is framed as usual. For handlers that take a run in one go.
 */
export function runOf(type: number, buf: Buffer, from: number, max: number): number {
  let p = from
  const n = buf.length
  while (p + 5 <= n && buf[p] === type) {
    const length = buf.readInt32BE(p + 1)
    if (length < 4 || length + 1 > max || length > n - p - 1) break
    p += length + 1
  }
  return p
}

/** Splits a byte stream into protocol messages. One instance per direction of a connection. */
export class Framer {
  private startup: boolean
  private readonly max: number
  /** Pieces of a message split across chunks; `need` is -1 while its header is incomplete. */
  private parts: Buffer[] = []
  private partsBytes = 0
  private need = 0
  /** Bytes received while stopped, in order. */
  private held: Buffer[] = []
  private stopped = false
  private readonly handler: RangeHandler

  constructor(options: FramerOptions, handler: AnyFrameHandler) {
    this.max = options.maxMessageBytes
    this.startup = options.startup ?? false
    this.handler =
      typeof handler === 'function'
        ? (type, buf, start, end) =>
            // Only `false` means something from a frame handler (an offset is the range form's).
            handler(type, start === 0 && end === buf.length ? buf : buf.subarray(start, end)) !== false
        : handler.range
  }

  /** Leaves the startup phase: from now on every message has a type byte. */
  endStartup(): void {
    this.startup = false
  }

  /** True when framing stopped because the handler returned false. */
  get isStopped(): boolean {
    return this.stopped
  }

  /** Bytes received but not yet handed out. */
  get bufferedBytes(): number {
    let n = this.partsBytes
    for (const b of this.held) n += b.length
    return n
  }

  /** Feeds a chunk; throws FrameError on a malformed or oversized message. */
  push(chunk: Buffer): void {
    if (this.stopped) {
      if (chunk.length > 0) this.held.push(chunk)
      return
    }
    if (this.partsBytes > 0) {
      const rest = this.completeSplit(chunk)
      if (rest === null) return
      if (this.stopped) {
        if (rest.length > 0) this.held.push(rest)
        return
      }
      chunk = rest
    }
    this.run(chunk)
  }

  /** Hands back every byte received but not yet handed out, and forgets them. */
  takeRemaining(): Buffer[] {
    const out = [...this.parts, ...this.held]
    this.parts = []
    this.partsBytes = 0
    this.need = 0
    this.held = []
    return out
  }

  /** Continues after the handler stopped framing. */
  resume(): void {
    this.stopped = false
    const held = this.held
    this.held = []
    for (const chunk of held) this.push(chunk)
  }

  private headerLength(): number {
    return this.startup ? 4 : 5
  }

  private run(chunk: Buffer): void {
    let off = 0
    const end = chunk.length
    while (off < end) {
      if (this.stopped) {
        this.held.push(chunk.subarray(off))
        return
      }
      const have = end - off
      if (have < this.headerLength()) {
        this.startSplit(chunk.subarray(off), -1)
        return
      }
      const total = this.totalLength(chunk, off)
      if (have < total) {
        this.startSplit(chunk.subarray(off), total - have)
        return
      }
      const type = this.startup ? 0 : (chunk[off] as number)
      const start = off
      off += total
      const r = this.handler(type, chunk, start, off)
      if (r === false) this.stopped = true
      else if (typeof r === 'number') {
        if (r < off || r > end) throw new Error(`frame handler took up to ${r}, outside [${off}, ${end}]`)
        off = r
      }
    }
  }

  private startSplit(piece: Buffer, need: number): void {
    this.parts = [piece]
    this.partsBytes = piece.length
    this.need = need
  }

  /** Adds bytes to a split message; hands it out when whole and returns the rest of the chunk. */
  private completeSplit(chunk: Buffer): Buffer | null {
    let used = 0
    if (this.need < 0) {
      const headerLen = this.headerLength()
      used = Math.min(headerLen - this.partsBytes, chunk.length)
      this.parts.push(chunk.subarray(0, used))
      this.partsBytes += used
      if (this.partsBytes < headerLen) return null
      const head = Buffer.concat(this.parts, this.partsBytes)
      this.parts = [head]
      this.need = this.totalLength(head, 0) - headerLen
    }
    const take = Math.min(this.need, chunk.length - used)
    if (take > 0) {
      this.parts.push(chunk.subarray(used, used + take))
      this.partsBytes += take
      this.need -= take
      used += take
    }
    if (this.need > 0) return null
    const whole =
      this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partsBytes)
    this.parts = []
    this.partsBytes = 0
    this.need = 0
    const type = this.startup ? 0 : (whole[0] as number)
    if (this.handler(type, whole, 0, whole.length) === false) this.stopped = true
    return chunk.subarray(used)
  }

  /** Reads and checks the length in a header; returns the whole message's size in bytes. */
  private totalLength(buf: Buffer, off: number): number {
    if (this.startup) {
      const length = buf.readInt32BE(off)
      if (length < 8 || length > MAX_STARTUP_BYTES)
        throw new FrameError(`invalid startup packet length ${length}`, '08P01')
      return length
    }
    const length = buf.readInt32BE(off + 1)
    if (length < 4) throw new FrameError(`invalid message length ${length}`, '08P01')
    if (length + 1 > this.max)
      throw new FrameError(`message of ${length + 1} bytes exceeds the limit of ${this.max} bytes`, '54000')
    return length + 1
  }
}
