/**
 * A review hook for engine tests: every `review` statement is held until the test resolves it (run, refuse) or
 * rejects it (a failing hook), after the hook sent its waiting notice.
 */
import type {ReviewHook, ReviewOutcome, ReviewRequest} from '../../src/proxy/index.js'

/** A statement the hook holds. */
export interface Held {
  readonly request: ReviewRequest
  resolve(outcome: ReviewOutcome): void
  reject(err: Error): void
}

/** The hook, the statements it holds (oldest first), and the next one as it arrives. */
export interface HeldHook {
  readonly hook: ReviewHook
  readonly held: Held[]
  /** The next held statement; throws when none arrives within 5 s. */
  readonly nextHeld: () => Promise<Held>
}

/** A hook for `target` whose notice is `dbgate: waiting for request apr_test`. */
export function heldHook(target: string): HeldHook {
  const held: Held[] = []
  const hook: ReviewHook = {
    target,
    review: (request, notice) =>
      new Promise<ReviewOutcome>((resolve, reject) => {
        notice('dbgate: waiting for request apr_test', 'Approve it somewhere.')
        held.push({request, resolve, reject})
      }),
  }
  const nextHeld = async (): Promise<Held> => {
    for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
    const h = held.shift()
    if (!h) throw new Error('no statement was held')
    return h
  }
  return {hook, held, nextHeld}
}
