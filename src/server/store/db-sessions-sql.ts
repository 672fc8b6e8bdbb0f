import type {SqlExecutor} from './driver.js'
import {dbSessionFrom, toJson} from './rows.js'
import type {DbSessionRecord} from './store.js'

/**
 * The SQL of the db_sessions table (minted database users), shared by both stores; SqlStore delegates here
 * to stay one readable file. Status moves minting → active → revoked and never back.
 */

/** Inserts a session in state minting. */
export async function recordDbSession(db: SqlExecutor, s: DbSessionRecord): Promise<void> {
  await db.run(
    `INSERT INTO db_sessions (id, owner_sub, identity, actor, agent, target, protocol, db_user, db_role, status,
       created_at, expires_at, ended_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      s.id,
      s.ownerSub,
      toJson(s.identity),
      s.actor,
      s.agent,
      s.target,
      s.protocol,
      s.dbUser,
      s.dbRole,
      s.status,
      s.createdAt,
      s.expiresAt,
      s.endedAt,
      s.revokedAt,
    ],
  )
}

/** minting → active. */
export async function activateDbSession(db: SqlExecutor, id: string): Promise<boolean> {
  return (
    (await db.run(`UPDATE db_sessions SET status = 'active' WHERE id = ? AND status = 'minting'`, [id])) === 1
  )
}

/** By id. */
export async function getDbSession(db: SqlExecutor, id: string): Promise<DbSessionRecord | undefined> {
  const rows = await db.query(`SELECT * FROM db_sessions WHERE id = ?`, [id])
  return rows[0] ? dbSessionFrom(rows[0]) : undefined
}

/** By minted user name on a target. */
export async function findDbSessionByUser(
  db: SqlExecutor,
  target: string,
  dbUser: string,
): Promise<DbSessionRecord | undefined> {
  const rows = await db.query(`SELECT * FROM db_sessions WHERE target = ? AND db_user = ?`, [target, dbUser])
  return rows[0] ? dbSessionFrom(rows[0]) : undefined
}

/** Renewal: only an active, unended session that has not expired yet. */
export async function extendDbSession(
  db: SqlExecutor,
  id: string,
  expiresAt: number,
  now: number,
): Promise<DbSessionRecord | undefined> {
  const rows = await db.query(
    `UPDATE db_sessions SET expires_at = ?
       WHERE id = ? AND status = 'active' AND ended_at IS NULL AND expires_at > ? RETURNING *`,
    [expiresAt, id, now],
  )
  return rows[0] ? dbSessionFrom(rows[0]) : undefined
}

/** Sets ended_at once; returns the session either way. */
export async function endDbSession(
  db: SqlExecutor,
  id: string,
  now: number,
): Promise<DbSessionRecord | undefined> {
  await db.run(`UPDATE db_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`, [now, id])
  return getDbSession(db, id)
}

/** The user is gone. */
export async function markDbSessionRevoked(db: SqlExecutor, id: string, now: number): Promise<void> {
  await db.run(
    `UPDATE db_sessions SET status = 'revoked', revoked_at = ? WHERE id = ? AND status <> 'revoked'`,
    [now, id],
  )
}

/** Not revoked, and ended or expired. */
export async function listDueDbSessions(db: SqlExecutor, now: number): Promise<DbSessionRecord[]> {
  const rows = await db.query(
    `SELECT * FROM db_sessions WHERE status <> 'revoked' AND (ended_at IS NOT NULL OR expires_at <= ?)
       ORDER BY expires_at`,
    [now],
  )
  return rows.map(dbSessionFrom)
}

/** Targets the orphan scan should look at. */
export async function listDbSessionTargets(db: SqlExecutor, since: number): Promise<string[]> {
  const rows = await db.query(
    `SELECT DISTINCT target FROM db_sessions WHERE status <> 'revoked' OR revoked_at > ? ORDER BY target`,
    [since],
  )
  return rows.map((r) => String(r.target))
}

/** Forgets long-revoked sessions. */
export async function purgeDbSessions(db: SqlExecutor, before: number): Promise<number> {
  return db.run(`DELETE FROM db_sessions WHERE status = 'revoked' AND revoked_at < ?`, [before])
}
