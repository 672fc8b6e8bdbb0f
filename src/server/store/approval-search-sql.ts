import type {ApprovalEventType, SessionActor} from '../../control/api-types.js'
import type {SqlDriver, SqlRow, SqlValue} from './driver.js'
import type {AuditSearchQuery} from './store.js'

/**
 * Approval transitions as the audit search sees them: the rows of `approval_events` with their request, under
 * the same filters as the trail (see searchAuditEvents). They are read where they are stored (each request's
 * own hash chain) rather than copied into the device trail. A transition is a `review` event: `--decision
 * allow|deny` and `--table` (requests record no table list) match none. A caller limited to their own events
 * sees the transitions of their requests and their own votes.
 */

/** One approval transition with the request it belongs to. */
export interface ApprovalTrailRow {
  readonly approvalId: string
  readonly n: number
  readonly type: ApprovalEventType
  readonly actorSub: string | null
  readonly detail: string | null
  readonly at: number
  readonly requesterSub: string
  readonly requesterName: string
  readonly actor: SessionActor
  readonly agent: string | null
  readonly target: string
  readonly statement: string
  readonly fingerprint: string
  readonly rule: string | null
  readonly policyName: string
  readonly process: string | null
}

const opt = (row: SqlRow, c: string): string | null => (row[c] === null ? null : String(row[c]))

function rowFrom(r: SqlRow): ApprovalTrailRow {
  return {
    approvalId: String(r.approval_id),
    n: Number(r.n),
    type: String(r.type) as ApprovalEventType,
    actorSub: opt(r, 'actor_sub'),
    detail: opt(r, 'detail'),
    at: Number(r.at),
    requesterSub: String(r.requester_sub),
    requesterName: String(r.requester_name),
    actor: String(r.actor) as SessionActor,
    agent: opt(r, 'agent'),
    target: String(r.target),
    statement: String(r.statement),
    fingerprint: String(r.fingerprint),
    rule: opt(r, 'rule'),
    policyName: String(r.policy_name),
    process: opt(r, 'process'),
  }
}

/** LIKE pattern of one word, with its wildcards escaped (`\` is the escape character). */
function likeWord(w: string): string {
  return `%${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/**
 * Newest first, `(at, approval_id, n)` descending; `q.after` continues after a trail event (every transition
 * at that millisecond comes after the trail's events) or after a transition (`after.approval`).
 */
export async function searchApprovalEvents(db: SqlDriver, q: AuditSearchQuery): Promise<ApprovalTrailRow[]> {
  if ((q.decision !== undefined && q.decision !== 'review') || q.table !== undefined) return []
  const where: string[] = []
  const params: SqlValue[] = []
  const add = (sql: string, ...values: SqlValue[]): void => {
    where.push(sql)
    params.push(...values)
  }
  if (q.ownerSub !== undefined) add(`(a.requester_sub = ? OR e.actor_sub = ?)`, q.ownerSub, q.ownerSub)
  if (q.identity !== undefined) add(`(a.requester_sub = ? OR e.actor_sub = ?)`, q.identity, q.identity)
  if (q.target !== undefined) add(`a.target = ?`, q.target)
  if (q.actor !== undefined) add(`a.actor = ?`, q.actor)
  if (q.since !== undefined) add(`e.at >= ?`, q.since)
  if (q.until !== undefined) add(`e.at < ?`, q.until)
  const after = q.after
  if (after?.approval !== undefined) {
    const {id, n} = after.approval
    add(
      `(e.at < ? OR (e.at = ? AND (e.approval_id < ? OR (e.approval_id = ? AND e.n < ?))))`,
      after.time,
      after.time,
      id,
      id,
      n,
    )
  } else if (after !== undefined) add(`e.at <= ?`, after.time)
  const text = q.text?.trim() ?? ''
  if (text !== '') {
    if (db.dialect === 'postgres')
      add(
        `to_tsvector('simple', a.statement || ' ' || COALESCE(e.detail, '')) @@ plainto_tsquery('simple', ?)`,
        text,
      )
    else
      for (const w of text.split(/\s+/))
        add(
          `(a.statement LIKE ? ESCAPE '\\' OR COALESCE(e.detail, '') LIKE ? ESCAPE '\\')`,
          likeWord(w),
          likeWord(w),
        )
  }
  const sql = `SELECT e.approval_id, e.n, e.type, e.actor_sub, e.detail, e.at, a.requester_sub, a.requester_name,
      a.actor, a.agent, a.target, a.statement, a.fingerprint, a.rule, a.policy_name, a.process
    FROM approval_events e JOIN approvals a ON a.id = e.approval_id
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY e.at DESC, e.approval_id DESC, e.n DESC LIMIT ?`
  return (await db.query(sql, [...params, q.limit])).map(rowFrom)
}
