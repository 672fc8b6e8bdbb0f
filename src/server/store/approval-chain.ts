import {createHash} from 'node:crypto'

import {GENESIS_HASH} from '../../audit/chain.js'
import type {ApprovalEventType} from '../../control/api-types.js'
import type {ApprovalEventRecord} from './approval-records.js'

/**
 * Each approval request's events form a hash chain (the first links to the genesis hash), so an event edited,
 * removed or reordered in the store afterwards is detected when the request is shown and by `audit verify`.
 */

/** The hash of one event, over its fields and the previous event's hash. */
export function approvalEventHash(e: Omit<ApprovalEventRecord, 'hash'>): string {
  const text = [e.prevHash, e.approvalId, e.n, e.type, e.actorSub ?? '', e.detail ?? '', e.at].join('\n')
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** What is wrong with one transition of a request's chain (`type` as stored; null for a missing one). */
export interface ApprovalChainProblem {
  readonly approvalId: string
  /**
   * `missing`: no transition n (deleted, or cut from the end); `altered`: its fields do not hash to its hash;
   * `out_of_order`: intact, but hashed at another position (`chainedAt`) than the n it is stored at;
   * `chain_break`: intact, but the transition before it is not the one it was chained to (replaced).
   */
  readonly kind: 'missing' | 'altered' | 'out_of_order' | 'chain_break'
  readonly n: number
  readonly type: ApprovalEventType | null
  readonly chainedAt: number | null
}

/** The position at which an event's stored fields hash to its hash, if any (1..max). */
function hashedAt(e: ApprovalEventRecord, max: number): number | undefined {
  for (let m = 1; m <= max; m++) if (m !== e.n && approvalEventHash({...e, n: m}) === e.hash) return m
  return undefined
}

/**
 * Re-checks one request's chain: `events` in n order, `eventCount` the number of transitions the request
 * recorded (so transitions cut from the end are missing too). One problem per transition, in n order.
 */
export function verifyApprovalChain(
  approvalId: string,
  events: readonly ApprovalEventRecord[],
  eventCount = 0,
): ApprovalChainProblem[] {
  const problems: ApprovalChainProblem[] = []
  const problem = (
    kind: ApprovalChainProblem['kind'],
    n: number,
    e?: ApprovalEventRecord,
    at?: number,
  ): void => {
    problems.push({approvalId, kind, n, type: e?.type ?? null, chainedAt: at ?? null})
  }
  const last = Math.max(eventCount, events.at(-1)?.n ?? 0)
  let expect = 1
  // The hash the next event must link to, or undefined when the one before it is missing or not intact.
  let prev: string | undefined = GENESIS_HASH
  for (const e of events) {
    if (e.n > expect) {
      // A gap: what the event after it links to cannot be checked.
      for (; expect < e.n; expect++) problem('missing', expect)
      prev = undefined
    }
    expect = e.n + 1
    if (approvalEventHash(e) !== e.hash) {
      const at = hashedAt(e, last)
      if (at === undefined) problem('altered', e.n, e)
      else problem('out_of_order', e.n, e, at)
      prev = undefined
      continue
    }
    if (prev !== undefined && e.prevHash !== prev) problem('chain_break', e.n, e)
    prev = e.hash
  }
  for (; expect <= last; expect++) problem('missing', expect)
  return problems
}

/** True when the events (in order) number 1..N, link to each other and hash to what is stored. */
export function approvalChainIntact(events: readonly ApprovalEventRecord[]): boolean {
  return verifyApprovalChain('', events).length === 0
}
