/**
 * The client's packets that arrive while one of its commands waits (for an approval, or for the catalog
 * before it can be decided): kept in order and handed back to the dispatcher once no wait is left, so the
 * protocol's one-command-at-a-time order holds. Reading from the client pauses once too much waits.
 */
import type {ReadGate} from '../flow.js'
import type {RunWriter} from '../run-writer.js'

/** Bytes of later client packets kept while a command waits, before reading from the client pauses. */
const DEFER_LIMIT = 1 << 20

/** What a ClientWait needs from its session. */
export interface ClientWaitOptions {
  readonly clientGate: ReadGate
  readonly toServer: RunWriter
  /** True once the session is ending. */
  readonly closed: () => boolean
  /** Hands a packet that waited to the dispatcher again. */
  readonly replay: (seq: number, packet: Buffer) => void
}

/** The waits of one session's client side (a wait may start while another ends: they are counted). */
export class ClientWait {
  private waits = 0
  private deferred: {seq: number; packet: Buffer}[] = []
  private deferredBytes = 0

  constructor(private readonly o: ClientWaitOptions) {}

  /** True while some command waits: the client's packets must be deferred. */
  get holding(): boolean {
    return this.waits > 0
  }

  /** A command starts waiting; what was decided before it goes to the server now. */
  begin(): void {
    this.o.toServer.flush()
    this.waits++
  }

  /** Keeps a packet that arrived while a command waits. */
  defer(seq: number, buf: Buffer, start: number, end: number): void {
    this.deferred.push({seq, packet: Buffer.from(buf.subarray(start, end))})
    this.deferredBytes += end - start
    if (this.deferredBytes > DEFER_LIMIT) this.o.clientGate.hold('decision')
  }

  /** A wait ended: once none is left, the packets that waited are handled in order (one may wait in turn). */
  end(): void {
    this.waits--
    if (this.o.closed()) return
    while (this.waits === 0 && this.deferred.length > 0) {
      const next = this.deferred.shift() as {seq: number; packet: Buffer}
      this.deferredBytes -= next.packet.length
      this.o.replay(next.seq, next.packet)
    }
    if (this.waits === 0) this.o.clientGate.release('decision')
    this.o.toServer.flush()
  }
}
