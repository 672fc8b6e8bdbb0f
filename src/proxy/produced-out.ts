/**
 * Bytes a protocol engine produced (masked rows, scrubbed messages), gathered into slabs and ordered
 * with the frames it forwards unchanged. Both engines write masked rows through it.
 */
import type {ByteSink} from '../masking/index.js'

const SLAB = 64 * 1024
/** The largest fresh slab `prepare` makes for one read (reads are at most 64 KB). */
const MAX_SLAB = 1024 * 1024

/** Where produced bytes are written: the client's RunWriter. */
export interface ProducedTarget {
  /** Writes the pending run of forwarded frames. */
  flush(): void
  /** Writes bytes the proxy produced, after everything forwarded so far. */
  send(bytes: Buffer): void
  /** True when every byte sent so far has left the process (the kernel has it): buffers can be reused. */
  drained?(): boolean
}

/**
 * Bytes the proxy produced (masked rows, scrubbed messages), gathered into slabs so a stream of masked
 * rows costs one write per slab or per network read, not one per row. Ordered with the RunWriter's
 * runs: the caller flushes the slab before forwarding an original frame, and the first produced bytes
 * after forwarded frames flush their run first. A row is built in place between `begin` and `commit`
 * (or `rollback`); `slab[base, used)` is gathered and not yet written, before `base` the socket owns it.
 */
export class ProducedOut implements ByteSink {
  buf: Buffer = Buffer.allocUnsafe(SLAB)
  /** A DataView of `buf`, for word-wise writes. */
  view: DataView = viewOf(this.buf)
  used = 0
  /** Start of the row being built, -1 when none is. */
  mark = -1
  private base = 0
  /**
   * A slab its owner reuses (the Postgres row kernel's memory), once one was lent: rows are written
   * into it directly. `lent`: bytes of it were sent, so it is written from the start again only once
   * the socket has taken everything (drained()).
   */
  private borrowed: Buffer | undefined
  private lent = false

  constructor(private readonly to: ProducedTarget) {}

  /**
   * Makes `slab` (which its owner reuses) the slab produced bytes go to, with `room` bytes free at
   * `used`, sending what it holds first when needed. The caller then writes rows at `used` and calls
   * `wrote`. False while a row is being built here, when `room` is more than the slab, or while the
   * socket may still hold bytes of the slab.
   */
  borrow(slab: Buffer, room: number): boolean {
    if (this.mark >= 0 || room > slab.length) return false
    if (this.buf !== slab || this.used + room > slab.length) {
      this.flush()
      if (this.lent && this.borrowed === slab && this.to.drained?.() !== true) return false
      this.lent = false
      this.borrowed = slab
      this.buf = slab
      this.view = viewOf(slab)
      this.used = this.base = 0
    }
    return true
  }

  /** Keeps the rows the caller wrote into the borrowed slab, from `used` up to `end`. */
  wrote(end: number): void {
    this.mark = this.used
    this.used = end
    this.commit()
  }

  /**
   * Called as a network read of `n` bytes starts: when produced bytes have been written out and the
   * slab has less room left than the read could produce, the next rows go to a fresh slab, so a read's
   * masked rows leave in one write instead of being split at the slab's end. A session that never
   * produced anything allocates nothing.
   */
  prepare(n: number): void {
    if (this.used === 0 || this.used !== this.base || this.mark >= 0) return
    if (this.buf.length - this.used >= n) return
    if (this.buf.length >= n && this.to.drained?.() === true) {
      // Everything written went straight to the operating system: nothing holds the slab, it is reused.
      this.used = this.base = 0
      this.lent = false
      return
    }
    this.buf = Buffer.allocUnsafe(Math.max(SLAB, Math.min(n, MAX_SLAB)))
    this.view = viewOf(this.buf)
    this.used = this.base = 0
  }

  /** Appends produced bytes after everything forwarded so far. */
  append(bytes: Buffer): void {
    this.begin(bytes.length)
    this.buf.set(bytes, this.used)
    this.used += bytes.length
    this.commit()
  }

  /**
   * Room for `size` produced bytes after everything forwarded so far; the caller fills all of it before
   * the next call (the MySQL row masker builds whole packets this way).
   */
  reserve(size: number): Buffer {
    this.begin(size)
    const start = this.used
    this.used += size
    this.commit()
    return this.buf.subarray(start, this.used)
  }

  /** Starts a row at `used`, with room for `size` bytes (more can be ensured). */
  begin(size: number): void {
    this.mark = this.used
    this.ensure(size)
  }

  /** Room for `n` more bytes at `used`; may move the row being built to a new slab (`buf` changes). */
  ensure(n: number): void {
    if (this.used + n <= this.buf.length) return
    const from = this.mark >= 0 ? this.mark : this.used
    if (from > this.base) this.sendRange(from)
    const slab = Buffer.allocUnsafe(Math.max(SLAB, this.used - from + n))
    this.buf.copy(slab, 0, from, this.used)
    this.used -= from
    if (this.mark >= 0) this.mark = 0
    this.buf = slab
    this.view = viewOf(slab)
    this.base = 0
  }

  /** Copies `src[from, to)` (`sv` its DataView) to `used`. */
  copy(src: Buffer, sv: DataView, from: number, to: number): void {
    this.ensure(to - from)
    this.used = this.copyAt(src, sv, from, to, this.used)
  }

  /**
   * Copies `src[from, to)` into `buf` at `at` (room the caller ensured), four bytes at a time; returns
   * the offset after it.
   */
  copyAt(src: Buffer, sv: DataView, from: number, to: number, at: number): number {
    const dst = this.buf
    const dv = this.view
    let w = at
    let i = from
    // Word-wise through DataViews: several times faster than a byte loop, and unlike Buffer#copy it
    // makes no view object per call.
    for (; i + 4 <= to; i += 4, w += 4) dv.setUint32(w, sv.getUint32(i))
    for (; i < to; i++) dst[w++] = src[i] as number
    return w
  }

  /** Keeps the row built since `begin`. */
  commit(): void {
    // The first produced bytes after forwarded frames: those frames go first.
    if (this.mark === this.base) this.to.flush()
    this.mark = -1
  }

  /** Drops the row built since `begin`. */
  rollback(): void {
    this.used = this.mark
    this.mark = -1
  }

  /** Drops the row being built and throws `error`: the row is malformed. */
  abandon(error: Error): never {
    this.rollback()
    throw error
  }

  /** Writes the gathered bytes (before an original frame is forwarded, and at the end of each read). */
  flush(): void {
    if (this.used > this.base && this.mark < 0) this.sendRange(this.used)
  }

  /** True when bytes are waiting. */
  get pending(): boolean {
    return this.used > this.base
  }

  private sendRange(to: number): void {
    const bytes = this.buf.subarray(this.base, to)
    this.to.send(bytes)
    if (this.buf === this.borrowed) this.lent = true
    this.base = to
  }
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length)
}
