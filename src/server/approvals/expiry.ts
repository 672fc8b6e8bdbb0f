/**
 * Expiry at the deadline, not at the next read: one timer armed for the earliest deadline the store knows (a
 * pending request's `expires`, an unspent grant's window), re-armed after every sweep and whenever a request
 * or grant is created. A sweep expires what is due (with its `expired` event) and notifies the sinks of each
 * request that expired undecided. The timer never waits longer than `maxWaitMs`, so deadlines another replica
 * created are swept too; the store's conditional UPDATE makes a request expire once across replicas.
 */
import {notifyApproval, type NotifyContext} from './notify.js'

/** The longest the timer waits before looking at the store again. */
export const EXPIRY_MAX_WAIT_MS = 60_000

/** The expiry timer of one control plane. */
export class ApprovalExpiry {
  private timer: NodeJS.Timeout | undefined
  private armedAt = Number.POSITIVE_INFINITY
  private sweeping: Promise<void> | undefined
  private again = false
  private stopped = false

  /** `ctx` supplies the store, the clock and the notification sinks. */
  constructor(
    private readonly ctx: NotifyContext,
    private readonly maxWaitMs = EXPIRY_MAX_WAIT_MS,
  ) {}

  /** Sweeps once now (what expired while the server was down) and arms the timer. */
  start(): Promise<void> {
    return this.sweep()
  }

  /** A new deadline (a request created, a grant issued): the timer fires by then. */
  schedule(at: number): void {
    if (this.stopped || at >= this.armedAt) return
    this.arm(at)
  }

  /** Stops the timer; a sweep in progress finishes. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.sweeping
  }

  private arm(at: number): void {
    clearTimeout(this.timer)
    if (this.stopped) return
    const now = this.ctx.now()
    // Never a busy loop: a deadline already due is swept shortly, not at once again and again.
    const delay = Math.min(Math.max(at - now, 20), this.maxWaitMs)
    this.armedAt = now + delay
    this.timer = setTimeout(() => void this.sweep(), delay)
    this.timer.unref()
  }

  /** Expires what is due; one sweep at a time (a deadline that arrives during one sweeps again after it). */
  sweep(): Promise<void> {
    if (this.sweeping !== undefined) {
      this.again = true
      return this.sweeping
    }
    this.armedAt = Number.POSITIVE_INFINITY
    this.sweeping = this.pass().finally(() => {
      this.sweeping = undefined
      if (this.again) {
        this.again = false
        void this.sweep()
      }
    })
    return this.sweeping
  }

  private async pass(): Promise<void> {
    const {store} = this.ctx
    let next: number | null = null
    try {
      const expired = await store.expireApprovals(this.ctx.now())
      for (const id of expired) {
        const r = await store.getApproval(id)
        // Never awaited: a slow receiver must not hold up the sweep.
        if (r !== undefined) void notifyApproval(this.ctx, r, 'expired').catch(() => undefined)
      }
      next = await store.nextApprovalDeadline()
    } catch {
      // The store is unreachable or closing: look again later.
    }
    this.arm(next ?? this.ctx.now() + this.maxWaitMs)
  }
}
