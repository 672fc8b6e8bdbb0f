/**
 * The audit search over both trails the control plane keeps: the devices' signed events and the approval
 * transitions (requested, notified, approved, denied, expired, used), merged newest first. Transitions stay in
 * their own per-request hash chain (`approval_events`); search reads them from there, under the same filters
 * and role limits, as events of type `approval` with decision `review`.
 */
import type {AuditEventItem, AuditSearchResponse} from '../../control/api-types.js'
import {badRequest} from '../http-errors.js'
import type {ApprovalTrailRow} from '../store/approval-search-sql.js'
import type {AuditSearchQuery, Store, StoredAuditEvent} from '../store/index.js'

/** The device id search answers carry for approval transitions (they come from no device). */
export const APPROVALS_DEVICE = 'control-plane:approvals'

/** One transition as a search result: an `approval` event, decision `review`, `approval_event` its type. */
export function approvalTrailItem(r: ApprovalTrailRow): AuditEventItem {
  return {
    device_id: APPROVALS_DEVICE,
    server_seq: 0,
    event: {
      id: `${r.approvalId}#${r.n}`,
      type: 'approval',
      time: new Date(r.at).toISOString(),
      // Who acted: the approver of a vote, else the requester (requested, used, and the system's transitions).
      identity: r.actorSub ?? r.requesterSub,
      requester: r.requesterSub,
      requester_name: r.requesterName,
      actor: r.actor,
      agent: r.agent,
      target: r.target,
      statement: r.statement,
      fingerprint: r.fingerprint,
      decision: 'review',
      rule: r.rule,
      policy: r.policyName,
      approval_id: r.approvalId,
      approval_event: r.type,
      detail: r.detail,
      process: r.process,
    },
  }
}

function trailItem(r: StoredAuditEvent): AuditEventItem {
  return {device_id: r.deviceId, server_seq: r.serverSeq, event: {...r.event}}
}

type Ranked =
  | {readonly kind: 'trail'; readonly time: number; readonly row: StoredAuditEvent}
  | {readonly kind: 'approval'; readonly time: number; readonly row: ApprovalTrailRow}

/** Newest first; at one millisecond the trail's events (by server_seq) before transitions (by request, n). */
function newerFirst(a: Ranked, b: Ranked): number {
  if (a.time !== b.time) return b.time - a.time
  if (a.kind === 'trail' && b.kind === 'trail') return b.row.serverSeq - a.row.serverSeq
  if (a.kind === 'trail') return -1
  if (b.kind === 'trail') return 1
  if (a.row.approvalId !== b.row.approvalId) return a.row.approvalId < b.row.approvalId ? 1 : -1
  return b.row.n - a.row.n
}

function cursorAfter(r: Ranked): string {
  const text =
    r.kind === 'trail' ? `${r.time}:${r.row.serverSeq}` : `${r.time}:0:${r.row.n}:${r.row.approvalId}`
  return Buffer.from(text).toString('base64url')
}

/** The position a `cursor` this server handed out stands for. */
export function parseTrailCursor(v: string | undefined): AuditSearchQuery['after'] {
  if (v === undefined) return undefined
  const m = /^(\d+):(\d+)(?::(\d+):(apr_[A-Za-z0-9_-]{1,40}))?$/.exec(
    Buffer.from(v, 'base64url').toString('utf8'),
  )
  if (!m) throw badRequest('cursor is not one this server handed out')
  const time = Number(m[1])
  const serverSeq = Number(m[2])
  return m[4] === undefined ? {time, serverSeq} : {time, serverSeq: 0, approval: {id: m[4], n: Number(m[3])}}
}

/** Runs a search over both trails and answers one page with the cursor of the next. */
export async function searchTrails(store: Store, q: AuditSearchQuery): Promise<AuditSearchResponse> {
  const [trail, approvals] = await Promise.all([store.searchAuditEvents(q), store.searchApprovalEvents(q)])
  const ranked: Ranked[] = [
    ...trail.map((row): Ranked => ({kind: 'trail', time: Date.parse(row.event.time), row})),
    ...approvals.map((row): Ranked => ({kind: 'approval', time: row.at, row})),
  ]
    .sort(newerFirst)
    .slice(0, q.limit)
  const last = ranked[ranked.length - 1]
  return {
    events: ranked.map((r) => (r.kind === 'trail' ? trailItem(r.row) : approvalTrailItem(r.row))),
    next_cursor: ranked.length === q.limit && last !== undefined ? cursorAfter(last) : null,
  }
}
