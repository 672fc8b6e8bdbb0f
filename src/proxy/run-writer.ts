/**
 * Coalesces forwarded frames into runs: consecutive frames that are adjacent in the same chunk are
 * written with one `write()`. Frames are ranges of the chunk they were read in, so no object is
 * made per frame; a run that is the whole chunk is written as the chunk itself.
 */
import type {Socket} from 'node:net'

/** Writes runs of frames to one socket. */
export class RunWriter {
  private buf: Buffer | undefined
  private start = 0
  private end = 0
  /** False once the socket's buffer is full; true again after 'drain'. */
  writable = true
  /** Unsettled holds; while any is, output is queued instead of written. */
  private holds = 0
  /** Bumped when held output is dropped, so older holds no longer count. */
  private generation = 0
  private queued: Buffer[] = []

  constructor(private readonly socket: Socket) {}

  /** Adds the frame `buf[start, end)` to the current run, or flushes the run and starts a new one. */
  forward(buf: Buffer, start: number, end: number): void {
    if (buf === this.buf && start === this.end) {
      this.end = end
      return
    }
    this.flush()
    this.buf = buf
    this.start = start
    this.end = end
  }

  /** Writes bytes the proxy produced, after the run so far. */
  send(bytes: Buffer): void {
    this.flush()
    this.write(bytes)
  }

  /** Writes the current run. */
  flush(): void {
    const buf = this.buf
    if (buf === undefined) return
    this.buf = undefined
    this.write(this.start === 0 && this.end === buf.length ? buf : buf.subarray(this.start, this.end))
  }

  /**
   * Holds everything written from now on (the current run included) until release() is called (once)
   * with the returned ticket: true writes it in order once no hold is left, false drops all of it (an
   * audit event was lost; the session ends). A ticket rather than a closure: one hold per statement.
   */
  hold(): number {
    this.holds++
    return this.generation
  }

  /** Settles the hold of `ticket` (see hold()). */
  release(ticket: number, ok: boolean): void {
    if (ticket !== this.generation) return
    if (!ok) {
      this.generation++
      this.holds = 0
      this.queued = []
      this.buf = undefined
      return
    }
    if (--this.holds > 0) return
    const queued = this.queued
    this.queued = []
    for (const bytes of queued) this.write(bytes)
    this.flush()
  }

  /** True when nothing is held, queued or waiting in the socket: every written buffer is free again. */
  drained(): boolean {
    return this.holds === 0 && this.buf === undefined && this.socket.writableLength === 0
  }

  private write(bytes: Buffer): void {
    if (this.holds > 0) {
      this.queued.push(bytes)
      return
    }
    if (this.socket.destroyed) return
    if (!this.socket.write(bytes)) this.writable = false
  }
}
