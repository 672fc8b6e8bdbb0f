/**
 * `audit verify` over the approval requests: every request's chain of transitions (`approval_events`) is
 * re-hashed as `approvals show` does (approval-chain.ts), a page of requests at a time, and each missing,
 * altered, out-of-order or re-chained transition is named by request id, number and type.
 */
import type {AuditApprovalProblem, AuditApprovalsVerified} from '../../control/api-types.js'
import {verifyApprovalChain} from '../store/approval-chain.js'
import type {Store} from '../store/index.js'

/** Requests (with their transitions) read per page. */
const PAGE_REQUESTS = 500

/** The line `audit verify` prints for a problem in an approval chain. */
export function describeApprovalProblem(p: AuditApprovalProblem): string {
  const at = `approval ${p.approval_id}: transition ${p.n}`
  switch (p.kind) {
    case 'missing':
      return `${at} missing`
    case 'altered':
      return `${at} (${p.type}) altered (hash mismatch)`
    case 'out_of_order':
      return `${at} (${p.type}) out of order (it was recorded as transition ${p.chained_at})`
    case 'chain_break':
      return `${at} (${p.type}) chain break (the transition before it is not the one it followed)`
  }
}

/** Verifies the chains of every request (with `since` > 0, of those created or with a transition since). */
export async function verifyApprovalChains(store: Store, since: number): Promise<AuditApprovalsVerified> {
  const result: AuditApprovalsVerified = {requests: 0, transitions: 0, problems: []}
  for (let afterId = ''; ;) {
    const chains = await store.listApprovalChains({afterId, since, limit: PAGE_REQUESTS})
    if (chains.length === 0) break
    for (const c of chains) {
      result.requests++
      result.transitions += c.events.length
      for (const p of verifyApprovalChain(c.id, c.events, c.eventCount))
        result.problems.push({
          approval_id: p.approvalId,
          kind: p.kind,
          n: p.n,
          type: p.type,
          chained_at: p.chainedAt,
        })
    }
    afterId = (chains[chains.length - 1] as (typeof chains)[number]).id
  }
  return result
}
