import {GENESIS_HASH} from '../../audit/chain.js'
import type {ApprovalEventType, ApprovalStatus, SessionActor} from '../../control/api-types.js'
import type {ApprovalSettings} from '../../policy/index.js'
import type {
  ApprovalChainRecord,
  ApprovalEventRecord,
  ApprovalRecord,
  ApprovalVoteRecord,
  GrantQuery,
  VoteOutcome,
} from './approval-records.js'
import type {SqlDriver, SqlExecutor, SqlRow} from './driver.js'
import {toJson} from './rows.js'
import {approvalEventHash} from './approval-chain.js'

/**
 * The SQL of approval requests, shared by both stores. Every transition runs in one transaction together
 * with its event, and each starts by bumping the request's event_count: on PostgreSQL that row lock orders
 * concurrent votes and uses of one request; SQLite has a single writer anyway. Spending a grant is one
 * conditional UPDATE (uses_left > 0 rechecked under the lock), so a use can never be spent twice.
 */

const s = (row: SqlRow, col: string): string => String(row[col])
const n = (row: SqlRow, col: string): number => Number(row[col])
const ns = (row: SqlRow, col: string): string | null => (row[col] === null ? null : String(row[col]))
const nn = (row: SqlRow, col: string): number | null => (row[col] === null ? null : Number(row[col]))

function approvalFrom(row: SqlRow, votes: ApprovalVoteRecord[]): ApprovalRecord {
  return {
    id: s(row, 'id'),
    status: s(row, 'status') as ApprovalStatus,
    requesterSub: s(row, 'requester_sub'),
    requesterName: s(row, 'requester_name'),
    actor: s(row, 'actor') as SessionActor,
    agent: ns(row, 'agent'),
    target: s(row, 'target'),
    statement: s(row, 'statement'),
    fingerprint: s(row, 'fingerprint'),
    rule: ns(row, 'rule'),
    policyName: s(row, 'policy_name'),
    reason: s(row, 'reason'),
    process: ns(row, 'process'),
    source: s(row, 'source') as 'cli' | 'proxy',
    settings: JSON.parse(s(row, 'settings_json')) as ApprovalSettings,
    createdAt: n(row, 'created_at'),
    expiresAt: n(row, 'expires_at'),
    decidedAt: nn(row, 'decided_at'),
    usesLeft: n(row, 'uses_left'),
    grantExpiresAt: nn(row, 'grant_expires_at'),
    votes,
  }
}

async function votesOf(db: SqlExecutor, id: string): Promise<ApprovalVoteRecord[]> {
  const rows = await db.query(
    `SELECT * FROM approval_votes WHERE approval_id = ? ORDER BY at, approver_sub`,
    [id],
  )
  return rows.map((r) => ({
    approverSub: s(r, 'approver_sub'),
    approverName: s(r, 'approver_name'),
    decision: s(r, 'decision') as 'approve' | 'deny',
    comment: ns(r, 'comment'),
    at: n(r, 'at'),
  }))
}

async function read(db: SqlExecutor, id: string): Promise<ApprovalRecord | undefined> {
  const rows = await db.query(`SELECT * FROM approvals WHERE id = ?`, [id])
  return rows[0] ? approvalFrom(rows[0], await votesOf(db, id)) : undefined
}

/** Appends an event to a request's trail (inside the caller's transaction). */
async function addEvent(
  db: SqlExecutor,
  id: string,
  type: ApprovalEventType,
  actorSub: string | null,
  detail: string | null,
  at: number,
): Promise<void> {
  const rows = await db.query(
    `UPDATE approvals SET event_count = event_count + 1 WHERE id = ? RETURNING event_count`,
    [id],
  )
  if (!rows[0]) return
  const seq = n(rows[0], 'event_count')
  const prev =
    seq === 1
      ? GENESIS_HASH
      : s(
          (
            await db.query(`SELECT hash FROM approval_events WHERE approval_id = ? AND n = ?`, [id, seq - 1])
          )[0] ?? {hash: GENESIS_HASH},
          'hash',
        )
  const event = {approvalId: id, n: seq, type, actorSub, detail, at, prevHash: prev}
  await db.run(
    `INSERT INTO approval_events (approval_id, n, type, actor_sub, detail, at, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [id, seq, type, actorSub, detail, at, prev, approvalEventHash(event)],
  )
}

/** Stores a new pending request with its `requested` event. */
export async function createApproval(db: SqlDriver, a: ApprovalRecord): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.run(
      `INSERT INTO approvals (id, status, requester_sub, requester_name, actor, agent, target, statement, fingerprint,
         rule, policy_name, reason, process, source, settings_json, any_literals, created_at, expires_at, decided_at,
         uses_left, grant_expires_at, event_count)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      [
        a.id,
        a.status,
        a.requesterSub,
        a.requesterName,
        a.actor,
        a.agent,
        a.target,
        a.statement,
        a.fingerprint,
        a.rule,
        a.policyName,
        a.reason,
        a.process,
        a.source,
        toJson(a.settings),
        a.settings.anyLiterals ? 1 : 0,
        a.createdAt,
        a.expiresAt,
        a.decidedAt,
        a.usesLeft,
        a.grantExpiresAt,
      ],
    )
    await addEvent(tx, a.id, 'requested', a.requesterSub, a.reason, a.createdAt)
  })
}

/** One request with its votes. */
export function getApproval(db: SqlExecutor, id: string): Promise<ApprovalRecord | undefined> {
  return read(db, id)
}

/** Requests, newest first; `requesterSub` restricts to one identity's, `status` to one state. */
export async function listApprovals(
  db: SqlExecutor,
  q: {requesterSub?: string | undefined; status?: ApprovalStatus | undefined; limit: number},
): Promise<ApprovalRecord[]> {
  const where: string[] = []
  const params: (string | number)[] = []
  if (q.requesterSub !== undefined) {
    where.push('requester_sub = ?')
    params.push(q.requesterSub)
  }
  if (q.status !== undefined) {
    where.push('status = ?')
    params.push(q.status)
  }
  const rows = await db.query(
    `SELECT * FROM approvals ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id LIMIT ?`,
    [...params, q.limit],
  )
  return Promise.all(rows.map(async (r) => approvalFrom(r, await votesOf(db, s(r, 'id')))))
}

/** Records one approver's vote; a deny decides at once, enough distinct approvals grant. */
export async function voteApproval(
  db: SqlDriver,
  id: string,
  vote: ApprovalVoteRecord,
  now: number,
): Promise<VoteOutcome> {
  return db.transaction(async (tx): Promise<VoteOutcome> => {
    await tx.run(`UPDATE approvals SET event_count = event_count WHERE id = ?`, [id])
    const before = await read(tx, id)
    if (!before) return {kind: 'not_found'}
    if (before.status !== 'pending' || before.expiresAt <= now) return {kind: 'not_pending', record: before}
    if (before.votes.some((v) => v.approverSub === vote.approverSub))
      return {kind: 'already_voted', record: before}
    await tx.run(
      `INSERT INTO approval_votes (approval_id, approver_sub, approver_name, decision, comment, at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [id, vote.approverSub, vote.approverName, vote.decision, vote.comment, vote.at],
    )
    const approvals = before.votes.filter((v) => v.decision === 'approve').length + 1
    if (vote.decision === 'deny') {
      await tx.run(`UPDATE approvals SET status = 'denied', decided_at = ? WHERE id = ?`, [now, id])
      await addEvent(tx, id, 'denied', vote.approverSub, vote.comment, now)
    } else if (approvals >= before.settings.approvers) {
      await tx.run(
        `UPDATE approvals SET status = 'approved', decided_at = ?, uses_left = ?, grant_expires_at = ? WHERE id = ?`,
        [now, before.settings.uses, now + before.settings.window * 1000, id],
      )
      await addEvent(tx, id, 'approved', vote.approverSub, vote.comment, now)
    } else {
      const detail = `approval ${approvals} of ${before.settings.approvers}${vote.comment ? `: ${vote.comment}` : ''}`
      await addEvent(tx, id, 'approved', vote.approverSub, detail, now)
    }
    return {kind: 'recorded', record: (await read(tx, id)) as ApprovalRecord}
  })
}

/**
 * Marks pending requests past their expiry as expired, and ends grants past their window that still had uses
 * (uses_left = 0), each with its `expired` event; returns the ids of the requests that expired.
 */
export async function expireApprovals(db: SqlDriver, now: number): Promise<string[]> {
  return db.transaction(async (tx) => {
    const rows = await tx.query(
      `UPDATE approvals SET status = 'expired', decided_at = ? WHERE status = 'pending' AND expires_at <= ?
         RETURNING id`,
      [now, now],
    )
    const ids = rows.map((r) => s(r, 'id'))
    for (const id of ids) await addEvent(tx, id, 'expired', null, null, now)
    const grants = await tx.query(
      `SELECT id, uses_left FROM approvals WHERE status = 'approved' AND uses_left > 0 AND grant_expires_at <= ?`,
      [now],
    )
    for (const g of grants) {
      const ended = await tx.query(
        `UPDATE approvals SET uses_left = 0 WHERE id = ? AND uses_left > 0 RETURNING id`,
        [s(g, 'id')],
      )
      if (ended.length === 0) continue
      const left = n(g, 'uses_left')
      await addEvent(tx, s(g, 'id'), 'expired', null, `the grant expired with ${left} use(s) left`, now)
    }
    return ids
  })
}

/** The next time a request or a grant expires (epoch ms), or null when nothing is waiting to expire. */
export async function nextApprovalDeadline(db: SqlExecutor): Promise<number | null> {
  const rows = await db.query(
    `SELECT MIN(d) AS d FROM (
       SELECT MIN(expires_at) AS d FROM approvals WHERE status = 'pending'
       UNION ALL
       SELECT MIN(grant_expires_at) AS d FROM approvals WHERE status = 'approved' AND uses_left > 0) AS deadlines`,
  )
  return nn(rows[0] ?? {d: null}, 'd')
}

/** Spends one use of a matching grant, atomically, with its `used` event; undefined when none matches. */
export async function useGrant(
  db: SqlDriver,
  g: GrantQuery,
  now: number,
): Promise<ApprovalRecord | undefined> {
  return db.transaction(async (tx) => {
    const rows = await tx.query(
      `UPDATE approvals SET uses_left = uses_left - 1
         WHERE uses_left > 0 AND id = (
           SELECT id FROM approvals WHERE status = 'approved' AND uses_left > 0 AND grant_expires_at > ?
             AND requester_sub = ? AND target = ? AND fingerprint = ? AND (any_literals = 1 OR statement = ?)
             ${g.id === undefined ? '' : 'AND id = ?'}
           ORDER BY created_at LIMIT 1)
         RETURNING id, uses_left`,
      [now, g.requesterSub, g.target, g.fingerprint, g.statement, ...(g.id === undefined ? [] : [g.id])],
    )
    const row = rows[0]
    if (!row) return undefined
    const id = s(row, 'id')
    await addEvent(tx, id, 'used', g.requesterSub, `${n(row, 'uses_left')} use(s) left`, now)
    return read(tx, id)
  })
}

/** Records a transition outside a vote (notified, notify_failed). */
export async function recordApprovalEvent(
  db: SqlDriver,
  id: string,
  type: ApprovalEventType,
  actorSub: string | null,
  detail: string | null,
  at: number,
): Promise<void> {
  await db.transaction((tx) => addEvent(tx, id, type, actorSub, detail, at))
}

function eventFrom(r: SqlRow): ApprovalEventRecord {
  return {
    approvalId: s(r, 'approval_id'),
    n: n(r, 'n'),
    type: s(r, 'type') as ApprovalEventType,
    actorSub: ns(r, 'actor_sub'),
    detail: ns(r, 'detail'),
    at: n(r, 'at'),
    prevHash: s(r, 'prev_hash'),
    hash: s(r, 'hash'),
  }
}

/** A request's events, in order. */
export async function listApprovalEvents(db: SqlExecutor, id: string): Promise<ApprovalEventRecord[]> {
  const rows = await db.query(`SELECT * FROM approval_events WHERE approval_id = ? ORDER BY n`, [id])
  return rows.map(eventFrom)
}

/**
 * The chains of up to `limit` requests after `afterId`, by id (a page of `audit verify`): each request's event
 * count and its events in order. With `since` (epoch ms, 0 for all), only requests created or with a
 * transition from then on (the latter through the index on approval_events.at).
 */
export async function listApprovalChains(
  db: SqlExecutor,
  q: {afterId: string; since: number; limit: number},
): Promise<ApprovalChainRecord[]> {
  const recent = `AND (created_at >= ? OR id IN (SELECT approval_id FROM approval_events WHERE at >= ?))`
  const requests = await db.query(
    `SELECT id, event_count FROM approvals WHERE id > ? ${q.since > 0 ? recent : ''} ORDER BY id LIMIT ?`,
    [q.afterId, ...(q.since > 0 ? [q.since, q.since] : []), q.limit],
  )
  const first = requests[0]
  const last = requests.at(-1)
  if (first === undefined || last === undefined) return []
  const chains = new Map<string, ApprovalChainRecord>(
    requests.map((r) => [s(r, 'id'), {id: s(r, 'id'), eventCount: n(r, 'event_count'), events: []}]),
  )
  const events = await db.query(
    `SELECT * FROM approval_events WHERE approval_id >= ? AND approval_id <= ? ORDER BY approval_id, n`,
    [s(first, 'id'), s(last, 'id')],
  )
  for (const e of events) chains.get(s(e, 'approval_id'))?.events.push(eventFrom(e))
  return [...chains.values()]
}
