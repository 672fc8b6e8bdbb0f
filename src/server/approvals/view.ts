import type {ApprovalDetail, ApprovalInfo} from '../../control/api-types.js'
import {approvalChainIntact} from '../store/approval-chain.js'
import type {ApprovalEventRecord, ApprovalRecord} from '../store/index.js'

/** Store records of approval requests as the API shows them. */

const iso = (ms: number): string => new Date(ms).toISOString()

/** The API form of a request; `baseUrl` builds the link to its page. */
export function approvalInfo(r: ApprovalRecord, baseUrl: string): ApprovalInfo {
  return {
    id: r.id,
    status: r.status,
    requester: r.requesterSub,
    requester_name: r.requesterName,
    actor: r.actor,
    agent: r.agent,
    target: r.target,
    statement: r.statement,
    fingerprint: r.fingerprint,
    decision: 'review',
    rule: r.rule,
    policy_name: r.policyName,
    reason: r.reason,
    process: r.process,
    source: r.source,
    settings: {
      approvers: r.settings.approvers,
      groups: [...r.settings.groups],
      mode: r.settings.mode,
      uses: r.settings.uses,
      window_seconds: r.settings.window,
      any_literals: r.settings.anyLiterals,
    },
    votes: r.votes.map((v) => ({
      approver: v.approverSub,
      approver_name: v.approverName,
      decision: v.decision,
      comment: v.comment,
      at: iso(v.at),
    })),
    created_at: iso(r.createdAt),
    expires_at: iso(r.expiresAt),
    decided_at: r.decidedAt === null ? null : iso(r.decidedAt),
    grant:
      r.status === 'approved' && r.grantExpiresAt !== null
        ? {uses_left: r.usesLeft, expires_at: iso(r.grantExpiresAt)}
        : null,
    url: `${baseUrl}/approvals/${encodeURIComponent(r.id)}`,
  }
}

/** The API form of a request with its transitions. */
export function approvalDetail(
  r: ApprovalRecord,
  events: readonly ApprovalEventRecord[],
  baseUrl: string,
): ApprovalDetail {
  return {
    ...approvalInfo(r, baseUrl),
    events: events.map((e) => ({type: e.type, actor: e.actorSub, detail: e.detail, at: iso(e.at)})),
    events_intact: approvalChainIntact(events),
  }
}
