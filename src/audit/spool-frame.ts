/**
 * The on-disk format of the durable spool: segment files named after their first seq, each a run of
 * records framed as [length u32 BE][crc32 u32 BE][canonical JSON bytes]. The scanner stops at the first
 * frame that is short, oversized, fails its CRC or does not parse: everything before it is intact.
 */
import * as crypto from 'node:crypto'
import {crc32} from 'node:zlib'

import {parseChainedEvent, type ChainedEvent} from './event.js'

/** Bytes of a frame header: length and CRC. */
export const FRAME_HEADER_BYTES = 8
/** No event is this large; a length beyond it is a torn or corrupt header, not a record. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024

/** Frames one record's canonical JSON bytes. */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.writeUInt32BE(crc32(payload), 4)
  payload.copy(out, FRAME_HEADER_BYTES)
  return out
}

/** The one-shot hash of Node >= 20.12, when this Node has it (no Hash object per record). */
const oneShot = (crypto as {hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string}).hash

/** SHA-256 (hex) of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  if (oneShot !== undefined) return oneShot('sha256', bytes, 'hex')
  return crypto.createHash('sha256').update(bytes).digest('hex')
}

/**
 * Frames a group of records into one reused buffer: each record's text is encoded once, straight into its
 * frame, and its CRC and SHA-256 are taken over those bytes (hashing the text itself would encode it again,
 * which costs several times more than hashing the bytes).
 */
export class FrameBuilder {
  private buf = Buffer.allocUnsafe(64 * 1024)
  private used = 0

  /** Starts a new group (the bytes of the previous one are no longer needed). */
  reset(): void {
    this.used = 0
  }

  /** The length of the last frame added (header included). */
  lastBytes = 0

  /** Frames one record's canonical text; returns the SHA-256 (hex) of its bytes (lastBytes: its length). */
  add(text: string): string {
    const at = this.used
    this.reserve(at + FRAME_HEADER_BYTES + text.length * 3)
    const len = this.buf.write(text, at + FRAME_HEADER_BYTES, 'utf8')
    const payload = this.buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + len)
    this.buf.writeUInt32BE(len, at)
    this.buf.writeUInt32BE(crc32(payload), at + 4)
    this.used = at + FRAME_HEADER_BYTES + len
    this.lastBytes = FRAME_HEADER_BYTES + len
    return sha256Hex(payload)
  }

  /** Drops the last `bytes` framed (a record that did not fit under the spool's bound). */
  drop(bytes: number): void {
    this.used -= bytes
  }

  /** The framed group: a view valid until the next reset or add. */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.used)
  }

  private reserve(size: number): void {
    if (size <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(size, this.buf.length * 2))
    this.buf.copy(bigger, 0, 0, this.used)
    this.buf = bigger
  }
}

/** One record read back, with its hash (SHA-256 of the canonical bytes, i.e. the chain hash). */
export interface ScannedRecord {
  readonly event: ChainedEvent
  readonly hash: string
}

/** What a segment holds: its good records, the bytes they span, and why the scan stopped early, if it did. */
export interface ScanResult {
  readonly records: ScannedRecord[]
  /** Bytes from the start of the segment covered by good records. */
  readonly validBytes: number
  /** Why bytes after `validBytes` were not read (a torn or corrupt record); undefined when none remain. */
  readonly stopped: string | undefined
}

/** Reads every good record of a segment's bytes, stopping at the first bad frame. */
export function scanFrames(buf: Buffer): ScanResult {
  const records: ScannedRecord[] = []
  let at = 0
  let stopped: string | undefined
  while (at < buf.length) {
    if (buf.length - at < FRAME_HEADER_BYTES) {
      stopped = 'short frame header'
      break
    }
    const len = buf.readUInt32BE(at)
    if (len === 0 || len > MAX_RECORD_BYTES) {
      stopped = `impossible record length ${len}`
      break
    }
    if (buf.length - at - FRAME_HEADER_BYTES < len) {
      stopped = 'record shorter than its length'
      break
    }
    const payload = buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + len)
    if (crc32(payload) !== buf.readUInt32BE(at + 4)) {
      stopped = 'CRC mismatch'
      break
    }
    let event: ChainedEvent
    try {
      event = parseChainedEvent(payload.toString('utf8'))
    } catch {
      stopped = 'record is not an audit event'
      break
    }
    records.push({event, hash: sha256Hex(payload)})
    at += FRAME_HEADER_BYTES + len
  }
  return {records, validBytes: at, stopped}
}

/** The file name of the segment whose first record has `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`
}

/** The first seq a segment file name stands for; undefined for any other file. */
export function parseSegmentName(name: string): number | undefined {
  const m = /^seg-(\d{16})\.log$/.exec(name)
  if (m === null) return undefined
  const seq = Number(m[1])
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined
}
