import type {ServerLink} from '../audit/server-chain.js'
import type {
  ApprovalChainRecord,
  ApprovalEventRecord,
  ApprovalRecord,
  ApprovalVoteRecord,
  GrantQuery,
  VoteOutcome,
} from './approval-records.js'
import * as approvals from './approvals-sql.js'
import * as audit from './audit-sql.js'
import * as dbSessions from './db-sessions-sql.js'
import type {SqlDriver} from './driver.js'
import {migrate} from './migrations.js'
import {
  authCodeFrom,
  authRequestFrom,
  deviceFrom,
  machineTokenFrom,
  sessionFrom,
  signingKeyFrom,
  targetFrom,
  toJson,
} from './rows.js'
import type {
  AuditBatchRecord,
  AuditDeviceRecord,
  AuditIncidentRecord,
  AuditIngest,
  AuditIngestOutcome,
  AuditSearchQuery,
  StoredAuditEvent,
  AuthCodeRecord,
  AuthRequestRecord,
  DbSessionRecord,
  DeviceRecord,
  MachineTokenRecord,
  RefreshTokenRecord,
  RotateOutcome,
  SessionRecord,
  SigningKeyRecord,
  Store,
  StoredIdentity,
  TargetRecord,
} from './store.js'
import {searchApprovalEvents, type ApprovalTrailRow} from './approval-search-sql.js'

/**
 * The Store, written once in the SQL SQLite and PostgreSQL share. Every "use once" step is a single
 * conditional UPDATE … RETURNING (or DELETE … RETURNING), so two replicas can never both spend a code.
 */
export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres'

  private constructor(private readonly db: SqlDriver) {
    this.kind = db.dialect
  }

  /** Migrates the schema and returns the store. */
  static async open(driver: SqlDriver, now: number): Promise<SqlStore> {
    try {
      await migrate(driver, now)
    } catch (err) {
      await driver.close().catch(() => undefined)
      throw err
    }
    return new SqlStore(driver)
  }

  /** Closes the driver. */
  close(): Promise<void> {
    return this.db.close()
  }

  /** Reads a meta value. */
  async getMeta(key: string): Promise<string | undefined> {
    const rows = await this.db.query(`SELECT value FROM meta WHERE key = ?`, [key])
    const v = rows[0]?.value
    return typeof v === 'string' ? v : undefined
  }

  /** First writer wins. */
  async putMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.db.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, [
      key,
      value,
    ])
    return (await this.getMeta(key)) ?? value
  }

  /** Newest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.query(`SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC`)
    return rows.map(signingKeyFrom)
  }

  /** Adds a key. */
  async addSigningKey(k: SigningKeyRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_enc, created_at) VALUES (?, ?, ?, ?, ?)`,
      [k.kid, k.alg, k.publicJwk, k.privateJwkEnc, k.createdAt],
    )
  }

  /** Remembers a login in progress. */
  async createAuthRequest(r: AuthRequestRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO auth_requests (id, kind, cli_redirect_uri, cli_state, cli_code_challenge, cli_nonce, device_id,
         idp_code_verifier, idp_nonce, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.kind,
        r.cliRedirectUri,
        r.cliState,
        r.cliCodeChallenge,
        r.cliNonce,
        r.deviceId,
        r.idpCodeVerifier,
        r.idpNonce,
        r.expiresAt,
      ],
    )
  }

  /** One use: deleted as it is read. */
  async takeAuthRequest(id: string, now: number): Promise<AuthRequestRecord | undefined> {
    const rows = await this.db.query(`DELETE FROM auth_requests WHERE id = ? RETURNING *`, [id])
    const row = rows[0]
    if (!row) return undefined
    const req = authRequestFrom(row)
    return req.expiresAt > now ? req : undefined
  }

  /** Stores a code. */
  async createAuthCode(c: AuthCodeRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO auth_codes (code_hash, identity, redirect_uri, code_challenge, nonce, expires_at, used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [c.codeHash, toJson(c.identity), c.redirectUri, c.codeChallenge, c.nonce, c.expiresAt, c.usedAt],
    )
  }

  /** One use, before expiry. */
  async consumeAuthCode(codeHash: string, now: number): Promise<AuthCodeRecord | undefined> {
    const rows = await this.db.query(
      `UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *`,
      [now, codeHash, now],
    )
    return rows[0] ? authCodeFrom(rows[0]) : undefined
  }

  /** Stores a device authorization. */
  async createDevice(d: DeviceRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO devices (id, device_code_hash, user_code, status, identity, interval_seconds, last_polled_at,
         expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        d.id,
        d.deviceCodeHash,
        d.userCode,
        d.status,
        toJson(d.identity),
        d.intervalSeconds,
        d.lastPolledAt,
        d.expiresAt,
      ],
    )
  }

  /** Pending and unexpired only. */
  async findPendingDeviceByUserCode(userCode: string, now: number): Promise<DeviceRecord | undefined> {
    const rows = await this.db.query(
      `SELECT * FROM devices WHERE user_code = ? AND status = 'pending' AND expires_at > ?`,
      [userCode, now],
    )
    return rows[0] ? deviceFrom(rows[0]) : undefined
  }

  /** By id. */
  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM devices WHERE id = ?`, [id])
    return rows[0] ? deviceFrom(rows[0]) : undefined
  }

  /** By device code hash. */
  async findDeviceByCodeHash(hash: string): Promise<DeviceRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM devices WHERE device_code_hash = ?`, [hash])
    return rows[0] ? deviceFrom(rows[0]) : undefined
  }

  /** Only a pending authorization can be decided. */
  async decideDevice(
    id: string,
    status: 'approved' | 'denied',
    identity: StoredIdentity | null,
  ): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE devices SET status = ?, identity = ? WHERE id = ? AND status = 'pending'`,
      [status, toJson(identity), id],
    )
    return n === 1
  }

  /** Records a poll. */
  async recordDevicePoll(id: string, now: number, intervalSeconds: number): Promise<void> {
    await this.db.run(`UPDATE devices SET last_polled_at = ?, interval_seconds = ? WHERE id = ?`, [
      now,
      intervalSeconds,
      id,
    ])
  }

  /** approved → consumed, once. */
  async consumeDevice(id: string): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE devices SET status = 'consumed' WHERE id = ? AND status = 'approved'`,
      [id],
    )
    return n === 1
  }

  /** A session and its first refresh token, together. */
  async createSession(s: SessionRecord, first: RefreshTokenRecord): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO sessions (id, identity, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?)`,
        [s.id, toJson(s.identity), s.createdAt, s.expiresAt, s.revokedAt],
      )
      await tx.run(
        `INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)`,
        [first.tokenHash, s.id, first.createdAt, first.expiresAt, first.usedAt],
      )
    })
  }

  /** By id. */
  async getSession(id: string): Promise<SessionRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM sessions WHERE id = ?`, [id])
    return rows[0] ? sessionFrom(rows[0]) : undefined
  }

  /** Spend, detect reuse, store the successor. */
  async rotateRefreshToken(
    oldHash: string,
    next: Omit<RefreshTokenRecord, 'sessionId'>,
    now: number,
  ): Promise<RotateOutcome> {
    return this.db.transaction(async (tx): Promise<RotateOutcome> => {
      const spent = await tx.query(
        `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL RETURNING *`,
        [now, oldHash],
      )
      const row = spent[0]
      if (!row) {
        const old = await tx.query(`SELECT session_id FROM refresh_tokens WHERE token_hash = ?`, [oldHash])
        const sessionId = old[0]?.session_id
        if (typeof sessionId !== 'string') return {kind: 'invalid'}
        await tx.run(`UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, [
          now,
          sessionId,
        ])
        return {kind: 'reused', sessionId}
      }
      const sessionRows = await tx.query(`SELECT * FROM sessions WHERE id = ?`, [String(row.session_id)])
      const session = sessionRows[0] ? sessionFrom(sessionRows[0]) : undefined
      if (!session || session.revokedAt !== null || session.expiresAt <= now || Number(row.expires_at) <= now)
        return {kind: 'invalid'}
      await tx.run(
        `INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)`,
        [next.tokenHash, session.id, next.createdAt, Math.min(next.expiresAt, session.expiresAt), null],
      )
      return {kind: 'rotated', session}
    })
  }

  /** Logout. */
  async revokeSessionByRefreshHash(hash: string, now: number): Promise<boolean> {
    const rows = await this.db.query(`SELECT session_id FROM refresh_tokens WHERE token_hash = ?`, [hash])
    const sessionId = rows[0]?.session_id
    if (typeof sessionId !== 'string') return false
    await this.db.run(`UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, [
      now,
      sessionId,
    ])
    return true
  }

  /** Stores a machine token. */
  async createMachineToken(t: MachineTokenRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO machine_tokens (id, name, token_hash, groups_json, created_at, expires_at, revoked_at, last_used_at,
         created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        t.id,
        t.name,
        t.tokenHash,
        toJson(t.groups),
        t.createdAt,
        t.expiresAt,
        t.revokedAt,
        t.lastUsedAt,
        t.createdBy,
      ],
    )
  }

  /** Newest first. */
  async listMachineTokens(): Promise<MachineTokenRecord[]> {
    const rows = await this.db.query(`SELECT * FROM machine_tokens ORDER BY created_at DESC, id`)
    return rows.map(machineTokenFrom)
  }

  /** By id. */
  async getMachineToken(id: string): Promise<MachineTokenRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM machine_tokens WHERE id = ?`, [id])
    return rows[0] ? machineTokenFrom(rows[0]) : undefined
  }

  /** By secret hash. */
  async findMachineTokenByHash(hash: string): Promise<MachineTokenRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM machine_tokens WHERE token_hash = ?`, [hash])
    return rows[0] ? machineTokenFrom(rows[0]) : undefined
  }

  /** Last use. */
  async touchMachineToken(id: string, now: number): Promise<void> {
    await this.db.run(`UPDATE machine_tokens SET last_used_at = ? WHERE id = ?`, [now, id])
  }

  /** By id, else by the live token's name. */
  async revokeMachineToken(idOrName: string, now: number): Promise<MachineTokenRecord | undefined> {
    const rows = await this.db.query(
      `UPDATE machine_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (id = ? OR name = ?) RETURNING *`,
      [now, idOrName, idOrName],
    )
    return rows[0] ? machineTokenFrom(rows[0]) : undefined
  }

  /** Insert or replace. */
  async upsertTarget(t: TargetRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO targets (name, protocol, host, port, database_name, tls, groups_json, admin_user, admin_password_enc,
         source, created_at, roles_json, credential_ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, host = excluded.host, port = excluded.port,
         database_name = excluded.database_name, tls = excluded.tls, groups_json = excluded.groups_json,
         admin_user = excluded.admin_user, admin_password_enc = excluded.admin_password_enc, source = excluded.source,
         roles_json = excluded.roles_json, credential_ttl = excluded.credential_ttl`,
      [
        t.name,
        t.protocol,
        t.host,
        t.port,
        t.database,
        toJson(t.tls),
        toJson(t.groups),
        t.adminUser,
        t.adminPasswordEnc,
        t.source,
        t.createdAt,
        toJson(t.roles),
        t.credentialTtl,
      ],
    )
  }

  /** By name. */
  async listTargets(): Promise<TargetRecord[]> {
    return (await this.db.query(`SELECT * FROM targets ORDER BY name`)).map(targetFrom)
  }

  /** One target. */
  async getTarget(name: string): Promise<TargetRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM targets WHERE name = ?`, [name])
    return rows[0] ? targetFrom(rows[0]) : undefined
  }

  /** Deletes a target. */
  async deleteTarget(name: string): Promise<boolean> {
    return (await this.db.run(`DELETE FROM targets WHERE name = ?`, [name])) === 1
  }

  /** Records a session before its user exists. */
  recordDbSession = (s: DbSessionRecord): Promise<void> => dbSessions.recordDbSession(this.db, s)
  /** minting → active. */
  activateDbSession = (id: string): Promise<boolean> => dbSessions.activateDbSession(this.db, id)
  /** By id. */
  getDbSession = (id: string): Promise<DbSessionRecord | undefined> => dbSessions.getDbSession(this.db, id)
  /** By minted user. */
  findDbSessionByUser = (target: string, user: string): Promise<DbSessionRecord | undefined> =>
    dbSessions.findDbSessionByUser(this.db, target, user)
  /** Renewal. */
  extendDbSession = (id: string, expiresAt: number, now: number): Promise<DbSessionRecord | undefined> =>
    dbSessions.extendDbSession(this.db, id, expiresAt, now)
  /** Ends a session. */
  endDbSession = (id: string, now: number): Promise<DbSessionRecord | undefined> =>
    dbSessions.endDbSession(this.db, id, now)
  /** The user was dropped. */
  markDbSessionRevoked = (id: string, now: number): Promise<void> =>
    dbSessions.markDbSessionRevoked(this.db, id, now)
  /** What the reaper must revoke. */
  listDueDbSessions = (now: number): Promise<DbSessionRecord[]> => dbSessions.listDueDbSessions(this.db, now)
  /** Targets for the orphan scan. */
  listDbSessionTargets = (since: number): Promise<string[]> => dbSessions.listDbSessionTargets(this.db, since)
  /** Forgets long-revoked sessions. */
  purgeDbSessions = (before: number): Promise<number> => dbSessions.purgeDbSessions(this.db, before)

  /** Housekeeping of short-lived rows. */
  async purgeExpired(now: number): Promise<number> {
    let n = 0
    n += await this.db.run(`DELETE FROM auth_requests WHERE expires_at <= ?`, [now])
    n += await this.db.run(`DELETE FROM auth_codes WHERE expires_at <= ?`, [now])
    n += await this.db.run(`DELETE FROM devices WHERE expires_at <= ?`, [now])
    return n
  }

  /** First writer wins. */
  registerAuditDevice = (d: AuditDeviceRecord): Promise<AuditDeviceRecord> =>
    audit.registerAuditDevice(this.db, d)
  /** By id. */
  getAuditDevice = (id: string): Promise<AuditDeviceRecord | undefined> => audit.getAuditDevice(this.db, id)
  /** All devices. */
  listAuditDevices = (): Promise<AuditDeviceRecord[]> => audit.listAuditDevices(this.db)
  /** One atomic ingest. */
  ingestAuditBatch = (x: AuditIngest, now: number): Promise<AuditIngestOutcome> =>
    audit.ingestAuditBatch(this.db, x, now)
  /** Records an incident. */
  recordAuditIncident = (i: AuditIncidentRecord): Promise<void> => audit.recordAuditIncident(this.db, i)
  /** Search. */
  searchAuditEvents = (q: AuditSearchQuery): Promise<StoredAuditEvent[]> =>
    audit.searchAuditEvents(this.db, q)
  searchApprovalEvents = (q: AuditSearchQuery): Promise<ApprovalTrailRow[]> =>
    searchApprovalEvents(this.db, q)
  /** Batch headers. */
  listAuditBatches = (id: string, page?: audit.BatchPage): Promise<AuditBatchRecord[]> =>
    audit.listAuditBatches(this.db, id, page)
  /** The batch holding a seq. */
  auditBatchHolding = (id: string, seq: number): Promise<AuditBatchRecord | undefined> =>
    audit.auditBatchHolding(this.db, id, seq)
  /** Events in server order. */
  listAuditEvents = (id: string, range?: {from: number; to: number}): Promise<StoredAuditEvent[]> =>
    audit.listAuditEvents(this.db, id, range)
  /** Where a verification since a time starts. */
  auditStartSince = (since: number): Promise<{serverSeq: number | null; devices: Map<string, number>}> =>
    audit.auditStartSince(this.db, since)
  /** The server chain. */
  listAuditServerChain = (page?: {after: number; limit: number}): Promise<ServerLink[]> =>
    audit.listAuditServerChain(this.db, page)
  /** Incidents. */
  listAuditIncidents = (since: number): Promise<AuditIncidentRecord[]> =>
    audit.listAuditIncidents(this.db, since)

  // Approval requests: approvals-sql.ts.
  /** See Store. */
  createApproval = (a: ApprovalRecord): Promise<void> => approvals.createApproval(this.db, a)
  /** See Store. */
  getApproval = (id: string): Promise<ApprovalRecord | undefined> => approvals.getApproval(this.db, id)
  /** See Store. */
  listApprovals = (q: Parameters<Store['listApprovals']>[0]): Promise<ApprovalRecord[]> =>
    approvals.listApprovals(this.db, q)
  /** See Store. */
  voteApproval = (id: string, vote: ApprovalVoteRecord, now: number): Promise<VoteOutcome> =>
    approvals.voteApproval(this.db, id, vote, now)
  /** See Store. */
  expireApprovals = (now: number): Promise<string[]> => approvals.expireApprovals(this.db, now)
  nextApprovalDeadline = (): Promise<number | null> => approvals.nextApprovalDeadline(this.db)
  /** See Store. */
  useGrant = (q: GrantQuery, now: number): Promise<ApprovalRecord | undefined> =>
    approvals.useGrant(this.db, q, now)
  /** See Store. */
  recordApprovalEvent = (
    id: string,
    type: ApprovalEventRecord['type'],
    actorSub: string | null,
    detail: string | null,
    at: number,
  ): Promise<void> => approvals.recordApprovalEvent(this.db, id, type, actorSub, detail, at)
  /** See Store. */
  listApprovalEvents = (id: string): Promise<ApprovalEventRecord[]> =>
    approvals.listApprovalEvents(this.db, id)
  /** See Store. */
  listApprovalChains = (q: Parameters<Store['listApprovalChains']>[0]): Promise<ApprovalChainRecord[]> =>
    approvals.listApprovalChains(this.db, q)
}
