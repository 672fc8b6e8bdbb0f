/** Pausing a socket for several independent reasons (backpressure, an async decision) at once. */
import type {Socket} from 'node:net'

/** Reasons a socket's reading may be held. */
export type HoldReason = 'backpressure' | 'decision'

/** Pauses a socket while any reason holds it; resumes when the last reason is released. */
export class ReadGate {
  private readonly holds = new Set<HoldReason>()

  constructor(private readonly socket: Socket) {}

  /** Holds reading for a reason. */
  hold(reason: HoldReason): void {
    if (this.holds.size === 0) this.socket.pause()
    this.holds.add(reason)
  }

  /** Releases a reason; resumes reading if none is left. */
  release(reason: HoldReason): void {
    if (!this.holds.delete(reason)) return
    if (this.holds.size === 0 && !this.socket.destroyed) this.socket.resume()
  }

  /** True while some reason holds reading. */
  get held(): boolean {
    return this.holds.size > 0
  }
}
