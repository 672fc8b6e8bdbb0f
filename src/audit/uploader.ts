/**
 * The background uploader: reads runs of unacknowledged events from the durable spool, signs each run with
 * the device key, sends it, and acknowledges it in the spool only once the control plane answered. Any
 * failure (unreachable, 5xx, a refused batch) waits with exponential backoff and full jitter, bounded, and
 * tries again; nothing escapes the loop. Uploads are idempotent on the server, so a batch resent after a
 * lost answer is stored once.
 */
import type {ChainedEvent} from './event.js'
import {signBatch, type SignedBatch, type SigningKey} from './signing.js'

/** What the uploader needs of the spool (DurableSpool has it). */
export interface UploadSource {
  /** Runs of consecutive, durable, unacknowledged events. */
  unacknowledged(maxEvents?: number): AsyncIterable<ChainedEvent[]>
  /** Persists that the server stores everything up to `lastSeq`. */
  ack(lastSeq: number): void
}

/** Options of the uploader. */
export interface UploaderOptions {
  readonly source: UploadSource
  readonly key: SigningKey
  /** Sends one batch; resolves with the seq the server acknowledged, rejects on any failure. */
  readonly send: (batch: SignedBatch) => Promise<{acked_seq: number}>
  /** Events per batch (the server takes at most 1000, and 1 MiB per request). */
  readonly batchSize?: number | undefined
  /** How often to look for new events when idle. */
  readonly intervalMs?: number | undefined
  /** The first retry delay; doubles per consecutive failure. */
  readonly minBackoffMs?: number | undefined
  /** The longest retry delay. */
  readonly maxBackoffMs?: number | undefined
  /** Told about each failed attempt (for a status line); must not throw. */
  readonly onError?: ((err: unknown, attempt: number) => void) | undefined
  /** Randomness for jitter, in [0, 1); tests pass a fixed one. */
  readonly random?: (() => number) | undefined
}

/** The delay before retry `attempt` (1-based): exponential, capped, with full jitter. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30))
  return Math.max(minMs, Math.floor(ceiling * random()))
}

/** Uploads the spool in the background; start(), flush(), stop(). */
export class Uploader {
  private readonly o: Required<Omit<UploaderOptions, 'onError'>> & Pick<UploaderOptions, 'onError'>
  private running = false
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  private failures = 0

  /** Builds an uploader; nothing happens before start() or flush(). */
  constructor(options: UploaderOptions) {
    this.o = {
      batchSize: 200,
      intervalMs: 1000,
      minBackoffMs: 200,
      maxBackoffMs: 30_000,
      random: Math.random,
      ...options,
    }
  }

  /** Consecutive failed attempts so far (0 after a success). */
  get consecutiveFailures(): number {
    return this.failures
  }

  /** Starts the background loop. */
  start(): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Stops the loop after the attempt in flight; resolves once it has stopped. */
  async stop(): Promise<void> {
    this.running = false
    this.poke()
    await this.loop
    this.loop = undefined
  }

  /** Uploads everything unacknowledged now, once; true when the spool is fully acknowledged. */
  async flush(): Promise<boolean> {
    try {
      await this.uploadAll()
      this.failures = 0
      return true
    } catch (err) {
      this.failures++
      this.report(err)
      return false
    }
  }

  /** Wakes the loop early (e.g. after new events were written). */
  poke(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.wake?.()
  }

  private async run(): Promise<void> {
    while (this.running) {
      const ok = await this.flush()
      if (!this.running) break
      const delay = ok
        ? this.o.intervalMs
        : backoffDelay(this.failures, this.o.minBackoffMs, this.o.maxBackoffMs, this.o.random)
      await new Promise<void>((resolve) => {
        this.wake = resolve
        this.timer = setTimeout(resolve, delay)
      })
      this.wake = undefined
    }
  }

  private async uploadAll(): Promise<void> {
    for await (const run of this.o.source.unacknowledged(this.o.batchSize)) {
      if (run.length === 0) continue
      const answer = await this.o.send(signBatch(this.o.key, run))
      const last = run[run.length - 1] as ChainedEvent
      this.o.source.ack(Math.min(answer.acked_seq, last.seq))
      if (!this.running && this.loop !== undefined) return
    }
  }

  private report(err: unknown): void {
    try {
      this.o.onError?.(err, this.failures)
    } catch {
      // A failing status line must not stop uploads.
    }
  }
}
