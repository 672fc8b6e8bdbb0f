/**
 * Incremental framing of MySQL packets in either direction: a 4-byte header (3-byte little-endian
 * payload length, 1-byte sequence id). A payload of exactly 0xFFFFFF bytes continues in the next
 * packet; the parts form one logical packet. Logical packets inside a chunk are handed out as ranges
 * of that chunk; only a packet split across chunks is copied.
 */

/** Length of a packet header. */
export const HEADER_BYTES = 4
/** A part of this payload length means the logical packet goes on in the next part. */
export const MAX_PART = 0xffffff

/** The peer sent a packet larger than allowed, or parts out of sequence. */
export class PacketError extends Error {
  constructor(
    message: string,
    readonly tooLarge: boolean,
    /** Sequence id of the offending part (the peer's reply would carry the next); -1 when unknown. */
    readonly seq = -1,
  ) {
    super(message)
    this.name = 'PacketError'
  }
}

/**
 * Receives one logical packet as the raw range `buf[start, end)`, headers of every part included.
 * `seq` is the sequence id of its last part (a reply carries `seq + 1`).
 */
export type PacketHandler = (seq: number, buf: Buffer, start: number, end: number) => void

/** Splits a byte stream into logical packets. One instance per direction of a connection. */
export class PacketFramer {
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Bytes a split packet needs at least before scanning it again is worthwhile. */
  private need = 0
  /** Sequence id of the last part of the packet `scan` found. */
  private lastSeq = 0

  /** `maxPacketBytes`: the largest logical payload accepted. */
  constructor(
    private readonly maxPacketBytes: number,
    private readonly handler: PacketHandler,
  ) {}

  /** Sequence id of the last part of the last packet handed out. */
  get lastSequence(): number {
    return this.lastSeq
  }

  /** Bytes received but not yet handed out. */
  get bufferedBytes(): number {
    return this.pendingBytes
  }

  /** Feeds a chunk; throws PacketError on an oversized or misnumbered packet. */
  push(chunk: Buffer): void {
    if (this.pendingBytes > 0) {
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      if (this.pendingBytes < this.need) return
      chunk = Buffer.concat(this.pending, this.pendingBytes)
      this.pending = []
      this.pendingBytes = 0
    }
    let off = 0
    while (off < chunk.length) {
      const end = this.scan(chunk, off)
      if (end < 0) {
        const rest = chunk.subarray(off)
        this.pending = [rest]
        this.pendingBytes = rest.length
        this.need = -end
        return
      }
      this.handler(this.lastSeq, chunk, off, end)
      off = end
    }
  }

  /** Hands back every byte received but not yet handed out, and forgets them. */
  takeRemaining(): Buffer[] {
    const out = this.pending
    this.pending = []
    this.pendingBytes = 0
    this.need = 0
    return out
  }

  /** The end of the logical packet at `off`, or minus the bytes from `off` needed to know more. */
  private scan(buf: Buffer, off: number): number {
    let p = off
    let payload = 0
    let seq = -1
    for (;;) {
      if (buf.length - p < HEADER_BYTES) return -(p - off + HEADER_BYTES)
      const len = (buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16)
      const s = buf[p + 3] as number
      if (seq >= 0 && s !== ((seq + 1) & 0xff))
        throw new PacketError(`packet part with sequence id ${s} after ${seq}`, false, s)
      seq = s
      payload += len
      if (payload > this.maxPacketBytes)
        throw new PacketError(
          `packet of more than ${payload} bytes exceeds the limit of ${this.maxPacketBytes} bytes`,
          true,
          s,
        )
      const next = p + HEADER_BYTES + len
      if (next > buf.length) return -(next - off)
      if (len < MAX_PART) {
        this.lastSeq = s
        return next
      }
      p = next
    }
  }
}

/** The payload of the logical packet `buf[start, end)`: a subarray when it has one part, else joined. */
export function payloadOf(buf: Buffer, start: number, end: number): Buffer {
  const first =
    (buf[start] as number) | ((buf[start + 1] as number) << 8) | ((buf[start + 2] as number) << 16)
  if (first < MAX_PART) return buf.subarray(start + HEADER_BYTES, end)
  const parts: Buffer[] = []
  let p = start
  while (p < end) {
    const len = (buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16)
    parts.push(buf.subarray(p + HEADER_BYTES, p + HEADER_BYTES + len))
    p += HEADER_BYTES + len
  }
  return Buffer.concat(parts)
}

/** Encodes a payload as packets starting at `seq`, split into parts of 0xFFFFFF bytes as needed. */
export function encodePacket(seq: number, payload: Buffer): Buffer {
  if (payload.length < MAX_PART) {
    const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
    out.writeUIntLE(payload.length, 0, 3)
    out[3] = seq & 0xff
    payload.copy(out, HEADER_BYTES)
    return out
  }
  const parts: Buffer[] = []
  let off = 0
  let s = seq
  for (;;) {
    const len = Math.min(MAX_PART, payload.length - off)
    const head = Buffer.allocUnsafe(HEADER_BYTES)
    head.writeUIntLE(len, 0, 3)
    head[3] = s & 0xff
    parts.push(head, payload.subarray(off, off + len))
    off += len
    s++
    if (len < MAX_PART) break
  }
  return Buffer.concat(parts)
}

/** The sequence id after the last part `encodePacket(seq, payload)` writes. */
export function nextSeq(seq: number, payloadLength: number): number {
  return (seq + Math.floor(payloadLength / MAX_PART) + 1) & 0xff
}
