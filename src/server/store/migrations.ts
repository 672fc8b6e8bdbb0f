import type {SqlDriver} from './driver.js'

/**
 * Schema migrations, applied in order on start. The DDL is written once in the subset SQLite and
 * PostgreSQL share (TEXT, BIGINT, partial indexes); times are epoch milliseconds. Never edit a shipped
 * migration: add the next one.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, public_jwk TEXT NOT NULL,
       private_jwk_enc TEXT NOT NULL, created_at BIGINT NOT NULL)`,
    `CREATE TABLE auth_requests (id TEXT PRIMARY KEY, kind TEXT NOT NULL, cli_redirect_uri TEXT, cli_state TEXT,
       cli_code_challenge TEXT, cli_nonce TEXT, device_id TEXT, idp_code_verifier TEXT NOT NULL,
       idp_nonce TEXT NOT NULL, expires_at BIGINT NOT NULL)`,
    `CREATE TABLE auth_codes (code_hash TEXT PRIMARY KEY, identity TEXT NOT NULL, redirect_uri TEXT NOT NULL,
       code_challenge TEXT NOT NULL, nonce TEXT, expires_at BIGINT NOT NULL, used_at BIGINT)`,
    `CREATE TABLE devices (id TEXT PRIMARY KEY, device_code_hash TEXT NOT NULL UNIQUE, user_code TEXT NOT NULL,
       status TEXT NOT NULL, identity TEXT, interval_seconds BIGINT NOT NULL, last_polled_at BIGINT,
       expires_at BIGINT NOT NULL)`,
    `CREATE UNIQUE INDEX devices_pending_user_code ON devices (user_code) WHERE status = 'pending'`,
    `CREATE TABLE sessions (id TEXT PRIMARY KEY, identity TEXT NOT NULL, created_at BIGINT NOT NULL,
       expires_at BIGINT NOT NULL, revoked_at BIGINT)`,
    `CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions (id),
       created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)`,
    `CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)`,
    `CREATE TABLE machine_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
       groups_json TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT,
       last_used_at BIGINT, created_by TEXT NOT NULL)`,
    `CREATE UNIQUE INDEX machine_tokens_live_name ON machine_tokens (name) WHERE revoked_at IS NULL`,
    `CREATE TABLE targets (name TEXT PRIMARY KEY, protocol TEXT NOT NULL, host TEXT NOT NULL, port BIGINT NOT NULL,
       database_name TEXT NOT NULL, tls TEXT NOT NULL, groups_json TEXT NOT NULL, admin_user TEXT NOT NULL,
       admin_password_enc TEXT NOT NULL, source TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  ],
  [
    // Every minted database user is recorded here BEFORE it is created, so the reaper only ever drops
    // users this control plane made.
    `CREATE TABLE db_sessions (id TEXT PRIMARY KEY, owner_sub TEXT NOT NULL, identity TEXT NOT NULL,
       actor TEXT NOT NULL, agent TEXT, target TEXT NOT NULL, protocol TEXT NOT NULL, db_user TEXT NOT NULL,
       db_role TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
       ended_at BIGINT, revoked_at BIGINT)`,
    `CREATE UNIQUE INDEX db_sessions_user ON db_sessions (target, db_user)`,
    `CREATE INDEX db_sessions_due ON db_sessions (status, expires_at)`,
  ],
]

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** Brings the schema up to date; safe to run from several replicas at once (PostgreSQL advisory lock). */
export async function migrate(driver: SqlDriver, now: number): Promise<void> {
  await driver.transaction(async (tx) => {
    if (driver.dialect === 'postgres') await tx.query(`SELECT pg_advisory_xact_lock(4242424242)`)
    await tx.run(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`,
    )
    const rows = await tx.query(`SELECT MAX(version) AS v FROM schema_migrations`)
    const current = Number(rows[0]?.v ?? 0)
    if (current > MIGRATIONS.length)
      throw new Error(
        `the store has schema version ${current}, newer than this dbgate (${MIGRATIONS.length})`,
      )
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      for (const sql of MIGRATIONS[v - 1] ?? []) await tx.run(sql)
      await tx.run(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, [v, now])
    }
  })
}
