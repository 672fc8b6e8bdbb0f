/**
 * Coalesces forwarded frames into runs: consecutive frames that are adjacent in the same chunk are
 * written with one `write()` of one subarray. Reports backpressure so the reading side can pause.
 */
import type {Socket} from 'node:net'

/** Writes runs of frames to one socket. */
export class RunWriter {
  private buf: Buffer | undefined
  private start = 0
  private end = 0
  /** False once the socket's buffer is full; true again after 'drain'. */
  writable = true

  constructor(private readonly socket: Socket) {}

  /** Adds a frame to the current run, or flushes the run and starts a new one. */
  forward(frame: Buffer): void {
    if (this.buf !== undefined && frame.buffer === this.buf.buffer && frame.byteOffset === this.end) {
      this.end += frame.length
      return
    }
    this.flush()
    this.buf = frame
    this.start = frame.byteOffset
    this.end = frame.byteOffset + frame.length
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
    const run =
      this.start === buf.byteOffset && this.end === buf.byteOffset + buf.length
        ? buf
        : Buffer.from(buf.buffer, this.start, this.end - this.start)
    this.write(run)
  }

  private write(bytes: Buffer): void {
    if (this.socket.destroyed) return
    if (!this.socket.write(bytes)) this.writable = false
  }
}
