/** An audit sink for the durability tests: statement events become durable only when the test says so. */
import type {AuditEvent, AuditSink} from '../../src/audit/types.js'

/** A sink whose statement events become durable only when the test says so (a slow disk). */
export class GatedSink implements AuditSink {
  readonly waiting: {event: AuditEvent; release: () => void}[] = []
  private arrived: (() => void) | undefined
  write(event: AuditEvent): Promise<void> {
    if (event.type !== 'statement') return Promise.resolve()
    return new Promise((release) => {
      this.waiting.push({event, release})
      this.arrived?.()
    })
  }
  /** Resolves once a statement event waits. */
  next(): Promise<void> {
    return this.waiting.length > 0 ? Promise.resolve() : new Promise((resolve) => (this.arrived = resolve))
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}
