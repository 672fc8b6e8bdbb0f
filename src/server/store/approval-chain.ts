import {createHash} from 'node:crypto'

import {GENESIS_HASH} from '../../audit/chain.js'
import type {ApprovalEventRecord} from './approval-records.js'

/**
 * Each approval request's events form a hash chain (the first links to the genesis hash), so an event edited,
 * removed or reordered in the store afterwards is detected when the request is shown.
 */

/** The hash of one event, over its fields and the previous event's hash. */
export function approvalEventHash(e: Omit<ApprovalEventRecord, 'hash'>): string {
  const text = [e.prevHash, e.approvalId, e.n, e.type, e.actorSub ?? '', e.detail ?? '', e.at].join('\n')
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** True when the events (in order) number 1..N, link to each other and hash to what is stored. */
export function approvalChainIntact(events: readonly ApprovalEventRecord[]): boolean {
  let prev = GENESIS_HASH
  return events.every((e, i) => {
    const ok = e.n === i + 1 && e.prevHash === prev && approvalEventHash(e) === e.hash
    prev = e.hash
    return ok
  })
}
