import type {SqlDriver} from './driver.js'

/**
 * Schema migrations, applied in order on start. The DDL is written once in the subset SQLite and
 * PostgreSQL share (TEXT, BIGINT, partial indexes); times are epoch milliseconds. Never edit a shipped
 * migration: add the next one.
 */
/** One DDL statement: shared text, or one text per dialect (full-text search differs). */
type Ddl = string | {readonly sqlite: string; readonly postgres: string}

const MIGRATIONS: readonly (readonly Ddl[])[] = [
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
  [
    // The signed audit trail (src/server/audit/): device keys, the signed batch headers, the events with
    // the server's own chain (server_seq, server_prev_hash, server_hash), and incidents (gaps, conflicts,
    // replays, forged batches) that are recorded rather than hidden.
    `CREATE TABLE audit_devices (device_id TEXT PRIMARY KEY, owner_sub TEXT NOT NULL, key_id TEXT NOT NULL,
       public_key TEXT NOT NULL, created_at BIGINT NOT NULL)`,
    `CREATE TABLE audit_batches (device_id TEXT NOT NULL, first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL,
       prev_hash TEXT NOT NULL, hashes_json TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL,
       received_at BIGINT NOT NULL, PRIMARY KEY (device_id, first_seq, last_seq))`,
    `CREATE TABLE audit_events (device_id TEXT NOT NULL, seq BIGINT NOT NULL, batch_first_seq BIGINT NOT NULL,
       batch_last_seq BIGINT NOT NULL, owner_sub TEXT NOT NULL, time_ms BIGINT NOT NULL, identity TEXT NOT NULL,
       actor TEXT NOT NULL, target TEXT NOT NULL, decision TEXT, statement TEXT, tables_json TEXT NOT NULL,
       event_json TEXT NOT NULL, hash TEXT NOT NULL, server_seq BIGINT NOT NULL UNIQUE,
       server_prev_hash TEXT NOT NULL, server_hash TEXT NOT NULL, PRIMARY KEY (device_id, seq))`,
    `CREATE INDEX audit_events_time ON audit_events (time_ms, server_seq)`,
    `CREATE INDEX audit_events_identity ON audit_events (identity, time_ms)`,
    `CREATE INDEX audit_events_owner ON audit_events (owner_sub, time_ms)`,
    `CREATE INDEX audit_events_target ON audit_events (target, time_ms)`,
    `CREATE INDEX audit_events_decision ON audit_events (decision, time_ms)`,
    {
      sqlite: `CREATE VIRTUAL TABLE audit_events_fts USING fts5(statement)`,
      postgres: `CREATE INDEX audit_events_fts ON audit_events
         USING GIN (to_tsvector('simple', COALESCE(statement, '')))`,
    },
    `CREATE TABLE audit_incidents (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, owner_sub TEXT NOT NULL,
       kind TEXT NOT NULL, first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL, detail TEXT NOT NULL,
       at BIGINT NOT NULL)`,
    `CREATE INDEX audit_incidents_device ON audit_incidents (device_id, at)`,
  ],
  [
    // Approval requests (src/server/approvals/): the request, its grant (uses_left, grant_expires_at), each
    // approver's vote, and every transition as an ordered, hash-chained event. event_count orders the events and, being
    // updated with each one, serialises transitions of one request on PostgreSQL (row lock).
    `CREATE TABLE approvals (id TEXT PRIMARY KEY, status TEXT NOT NULL, requester_sub TEXT NOT NULL,
       requester_name TEXT NOT NULL, actor TEXT NOT NULL, agent TEXT, target TEXT NOT NULL,
       statement TEXT NOT NULL, fingerprint TEXT NOT NULL, rule TEXT, policy_name TEXT NOT NULL,
       reason TEXT NOT NULL, process TEXT, source TEXT NOT NULL, settings_json TEXT NOT NULL,
       any_literals BIGINT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, decided_at BIGINT,
       uses_left BIGINT NOT NULL, grant_expires_at BIGINT, event_count BIGINT NOT NULL)`,
    `CREATE INDEX approvals_pending ON approvals (status, expires_at)`,
    `CREATE INDEX approvals_grant ON approvals (requester_sub, target, fingerprint)`,
    `CREATE TABLE approval_votes (approval_id TEXT NOT NULL REFERENCES approvals (id), approver_sub TEXT NOT NULL,
       approver_name TEXT NOT NULL, decision TEXT NOT NULL, comment TEXT, at BIGINT NOT NULL,
       PRIMARY KEY (approval_id, approver_sub))`,
    `CREATE TABLE approval_events (approval_id TEXT NOT NULL REFERENCES approvals (id), n BIGINT NOT NULL,
       type TEXT NOT NULL, actor_sub TEXT, detail TEXT, at BIGINT NOT NULL, prev_hash TEXT NOT NULL,
       hash TEXT NOT NULL, PRIMARY KEY (approval_id, n))`,
  ],
  [
    // 5: a target's database-role mapping and credential lifetime, so targets created through the admin
    // API can open sessions too (config targets keep reading theirs from the reloadable config).
    `ALTER TABLE targets ADD COLUMN roles_json TEXT NOT NULL DEFAULT '[]'`,
    `ALTER TABLE targets ADD COLUMN credential_ttl BIGINT`,
  ],
  [
    // 6: audit search by email (the subs each email registered a device as), an index for the actor filter,
    // and one row per (table, event) for the table filter, filled for the events already stored.
    `CREATE TABLE audit_identities (email TEXT NOT NULL, sub TEXT NOT NULL, seen_at BIGINT NOT NULL,
       PRIMARY KEY (email, sub))`,
    `CREATE INDEX audit_events_actor ON audit_events (actor, time_ms)`,
    `CREATE TABLE audit_event_tables (table_name TEXT NOT NULL, time_ms BIGINT NOT NULL,
       server_seq BIGINT NOT NULL, PRIMARY KEY (table_name, time_ms, server_seq))`,
    `CREATE INDEX audit_event_tables_event ON audit_event_tables (server_seq)`,
    {
      sqlite: `INSERT INTO audit_event_tables (table_name, time_ms, server_seq)
         SELECT DISTINCT j.value, e.time_ms, e.server_seq FROM audit_events e, json_each(e.tables_json) j`,
      postgres: `INSERT INTO audit_event_tables (table_name, time_ms, server_seq)
         SELECT DISTINCT t, e.time_ms, e.server_seq FROM audit_events e, json_array_elements_text(e.tables_json::json) t`,
    },
  ],
  [
    // 7: the audit search reads approval transitions newest first by (at, approval_id, n) with a time range
    // (approval-search-sql.ts); without this index every search scanned all of approval_events.
    `CREATE INDEX approval_events_at ON approval_events (at, approval_id, n)`,
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
      for (const ddl of MIGRATIONS[v - 1] ?? [])
        await tx.run(typeof ddl === 'string' ? ddl : ddl[driver.dialect])
      await tx.run(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, [v, now])
    }
  })
}
