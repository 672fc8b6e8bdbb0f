import type {ChainedEvent} from '../../audit/event.js'
import type {Identity, TargetProtocol, TargetRoleMapping, TargetTls} from '../../control/api-types.js'
import type {ServerLink} from '../audit/server-chain.js'
import type {
  ApprovalChainRecord,
  ApprovalEventRecord,
  ApprovalRecord,
  ApprovalVoteRecord,
  GrantQuery,
  VoteOutcome,
} from './approval-records.js'
import type {ApprovalTrailRow} from './approval-search-sql.js'

export type * from './approval-records.js'

/**
 * The control plane's one store interface. Two implementations share one SQL text (sql-store.ts) over two
 * drivers: the embedded SQLite file (default) and PostgreSQL (several replicas). Times are epoch
 * milliseconds; secrets are kept only as SHA-256 hashes or encrypted with the server key.
 */

/** The identity a login or token speaks for, without roles (roles are mapped from groups on every issue). */
export type StoredIdentity = Omit<Identity, 'roles'>

/** A key the control plane signs access and id tokens with. */
export interface SigningKeyRecord {
  kid: string
  alg: string
  publicJwk: string
  /** The private JWK, encrypted with the server key. */
  privateJwkEnc: string
  createdAt: number
}

/** A login in progress: what the server remembers between sending the browser to the IdP and its callback. */
export interface AuthRequestRecord {
  /** The `state` sent to the IdP. */
  id: string
  /** `page`: an approval page's sign-in; `cliRedirectUri` then holds the page path to return to. */
  kind: 'cli' | 'device' | 'page'
  /** CLI login: where to send the browser back, and the CLI's own PKCE challenge, state and nonce. */
  cliRedirectUri: string | null
  cliState: string | null
  cliCodeChallenge: string | null
  cliNonce: string | null
  /** Device login: which device authorization this approves. */
  deviceId: string | null
  /** PKCE verifier and nonce of the server's own request to the IdP. */
  idpCodeVerifier: string
  idpNonce: string
  expiresAt: number
}

/** A one-time authorization code handed to the CLI's loopback redirect. */
export interface AuthCodeRecord {
  codeHash: string
  identity: StoredIdentity
  redirectUri: string
  codeChallenge: string
  nonce: string | null
  expiresAt: number
  usedAt: number | null
}

/** The state of a device authorization. */
export type DeviceStatus = 'pending' | 'approved' | 'denied' | 'consumed'

/** A device authorization (RFC 8628). */
export interface DeviceRecord {
  id: string
  deviceCodeHash: string
  /** Normalised: eight letters, no dash. */
  userCode: string
  status: DeviceStatus
  identity: StoredIdentity | null
  intervalSeconds: number
  lastPolledAt: number | null
  expiresAt: number
}

/** A login session: one refresh-token family. Revoking it kills every refresh and access token of the family. */
export interface SessionRecord {
  id: string
  identity: StoredIdentity
  createdAt: number
  expiresAt: number
  revokedAt: number | null
}

/** A refresh token, by hash. */
export interface RefreshTokenRecord {
  tokenHash: string
  sessionId: string
  createdAt: number
  expiresAt: number
  usedAt: number | null
}

/** What happened when a refresh token was presented. */
export type RotateOutcome =
  {kind: 'rotated'; session: SessionRecord} | {kind: 'reused'; sessionId: string} | {kind: 'invalid'}

/** A machine token's stored form. */
export interface MachineTokenRecord {
  id: string
  name: string
  tokenHash: string
  groups: string[]
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  lastUsedAt: number | null
  createdBy: string
}

/** A target with its admin password encrypted. */
export interface TargetRecord {
  name: string
  protocol: TargetProtocol
  host: string
  port: number
  database: string
  tls: TargetTls
  groups: string[]
  /** Database role per group, first match (`targets[].roles`). */
  roles: TargetRoleMapping[]
  /** Seconds; null = the server's `sessions.credential_ttl`. */
  credentialTtl: number | null
  adminUser: string
  adminPasswordEnc: string
  source: 'config' | 'api'
  createdAt: number
}

/** Where a minted database user is in its life: recorded, created, dropped. */
export type DbSessionStatus = 'minting' | 'active' | 'revoked'

/** A database session: the short-lived user minted for it and who owns it. */
export interface DbSessionRecord {
  id: string
  ownerSub: string
  identity: StoredIdentity
  actor: 'human' | 'agent' | 'ci'
  agent: string | null
  target: string
  protocol: TargetProtocol
  dbUser: string
  dbRole: string
  status: DbSessionStatus
  createdAt: number
  expiresAt: number
  /** When the owner ended it (the user is then revoked at once, or by the reaper if that failed). */
  endedAt: number | null
  revokedAt: number | null
}

/** Everything the control plane keeps. Every method is one atomic step. */
export interface Store {
  /** Which backend this is, for logs and tests. */
  readonly kind: 'sqlite' | 'postgres'
  /** Closes connections; the store is unusable afterwards. */
  close(): Promise<void>

  /** Reads a value of the meta table. */
  getMeta(key: string): Promise<string | undefined>
  /** Stores a value unless the key exists; returns the value now stored (a race-free "first writer wins"). */
  putMetaIfAbsent(key: string, value: string): Promise<string>

  /** Signing keys, newest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>
  /** Adds a signing key (it becomes the newest). */
  addSigningKey(key: SigningKeyRecord): Promise<void>

  /** Remembers a login in progress. */
  createAuthRequest(req: AuthRequestRecord): Promise<void>
  /** Removes and returns a login in progress, if it exists and has not expired (one use). */
  takeAuthRequest(id: string, now: number): Promise<AuthRequestRecord | undefined>

  /** Stores a one-time authorization code. */
  createAuthCode(code: AuthCodeRecord): Promise<void>
  /** Marks a code used and returns it, if it was unused and unexpired; otherwise undefined. */
  consumeAuthCode(codeHash: string, now: number): Promise<AuthCodeRecord | undefined>

  /** Stores a new device authorization. */
  createDevice(device: DeviceRecord): Promise<void>
  /** Finds a pending, unexpired device authorization by its normalised user code. */
  findPendingDeviceByUserCode(userCode: string, now: number): Promise<DeviceRecord | undefined>
  /** Finds a device authorization by id. */
  getDevice(id: string): Promise<DeviceRecord | undefined>
  /** Finds a device authorization by the hash of its device code. */
  findDeviceByCodeHash(hash: string): Promise<DeviceRecord | undefined>
  /** Approves or denies a pending device authorization; false if it was not pending. */
  decideDevice(id: string, status: 'approved' | 'denied', identity: StoredIdentity | null): Promise<boolean>
  /** Records a poll and the interval now in force. */
  recordDevicePoll(id: string, now: number, intervalSeconds: number): Promise<void>
  /** Moves an approved device authorization to consumed; false if someone else got there first. */
  consumeDevice(id: string): Promise<boolean>

  /** Starts a session with its first refresh token. */
  createSession(session: SessionRecord, first: RefreshTokenRecord): Promise<void>
  /** Finds a session by id. */
  getSession(id: string): Promise<SessionRecord | undefined>
  /**
   * Spends a refresh token and stores its successor, atomically. A token already spent revokes its session
   * (reuse detection); an unknown, expired or revoked one is invalid.
   */
  rotateRefreshToken(
    oldHash: string,
    next: Omit<RefreshTokenRecord, 'sessionId'>,
    now: number,
  ): Promise<RotateOutcome>
  /** Revokes the session a refresh token belongs to; false if the token is unknown. */
  revokeSessionByRefreshHash(hash: string, now: number): Promise<boolean>

  /** Stores a machine token; throws StoreConflictError when a live token has the same name. */
  createMachineToken(token: MachineTokenRecord): Promise<void>
  /** All machine tokens, newest first. */
  listMachineTokens(): Promise<MachineTokenRecord[]>
  /** Finds a machine token by id. */
  getMachineToken(id: string): Promise<MachineTokenRecord | undefined>
  /** Finds a machine token by the hash of its secret. */
  findMachineTokenByHash(hash: string): Promise<MachineTokenRecord | undefined>
  /** Records that a machine token was exchanged. */
  touchMachineToken(id: string, now: number): Promise<void>
  /** Revokes a live machine token by id, or by name; returns it, or undefined when none matched. */
  revokeMachineToken(idOrName: string, now: number): Promise<MachineTokenRecord | undefined>

  /** Inserts or replaces a target. */
  upsertTarget(target: TargetRecord): Promise<void>
  /** All targets, by name. */
  listTargets(): Promise<TargetRecord[]>
  /** One target by name. */
  getTarget(name: string): Promise<TargetRecord | undefined>
  /** Deletes a target; false if it did not exist. */
  deleteTarget(name: string): Promise<boolean>

  /** Records a session (status minting) before its user is created; StoreConflictError on a name clash. */
  recordDbSession(session: DbSessionRecord): Promise<void>
  /** minting → active; false if it was not minting. */
  activateDbSession(id: string): Promise<boolean>
  /** One session by id. */
  getDbSession(id: string): Promise<DbSessionRecord | undefined>
  /** The session that minted a user on a target. */
  findDbSessionByUser(target: string, dbUser: string): Promise<DbSessionRecord | undefined>
  /** Moves the expiry of an active, unended, unexpired session; undefined when it is none of those. */
  extendDbSession(id: string, expiresAt: number, now: number): Promise<DbSessionRecord | undefined>
  /** Marks a session ended (once); returns it, or undefined if unknown. */
  endDbSession(id: string, now: number): Promise<DbSessionRecord | undefined>
  /** Marks a session's user as dropped. */
  markDbSessionRevoked(id: string, now: number): Promise<void>
  /** Sessions whose user must go: not yet revoked, and ended or expired. */
  listDueDbSessions(now: number): Promise<DbSessionRecord[]>
  /** Targets with a session not yet revoked, or revoked after `since` (for the orphan scan). */
  listDbSessionTargets(since: number): Promise<string[]>
  /** Deletes revoked sessions older than `before`; returns how many went. */
  purgeDbSessions(before: number): Promise<number>

  /** Deletes expired logins in progress, codes and device authorizations; returns how many rows went. */
  purgeExpired(now: number): Promise<number>

  /** Registers a device key unless the device exists; returns the record now stored (first writer wins). */
  registerAuditDevice(device: AuditDeviceRecord): Promise<AuditDeviceRecord>
  /** One audit device by id. */
  getAuditDevice(deviceId: string): Promise<AuditDeviceRecord | undefined>
  /** Every audit device. */
  listAuditDevices(): Promise<AuditDeviceRecord[]>
  /** Stores a signed, already signature-checked batch: chain checks, idempotency and the server chain, atomically. */
  ingestAuditBatch(batch: AuditIngest, now: number): Promise<AuditIngestOutcome>
  /** Records something wrong that was refused before it reached the store (a forged batch). */
  recordAuditIncident(incident: AuditIncidentRecord): Promise<void>
  /** Events matching a search, newest first. */
  searchAuditEvents(query: AuditSearchQuery): Promise<StoredAuditEvent[]>
  /** Approval transitions under the same filters, newest first (approval-search-sql.ts). */
  searchApprovalEvents(query: AuditSearchQuery): Promise<ApprovalTrailRow[]>
  /** A device's batch headers, by (first seq, last seq): all, or `limit` after `after`. */
  listAuditBatches(
    deviceId: string,
    page?: {readonly after: {readonly firstSeq: number; readonly lastSeq: number}; readonly limit: number},
  ): Promise<AuditBatchRecord[]>
  /** The header of a device's batch that holds `seq`. */
  auditBatchHolding(deviceId: string, seq: number): Promise<AuditBatchRecord | undefined>
  /** A device's stored events, in server order: all, or those with seq in [from, to]. */
  listAuditEvents(deviceId: string, range?: {from: number; to: number}): Promise<StoredAuditEvent[]>
  /** Where a check of the events since `since` (epoch ms) starts: server_seq, and batch first seq per device. */
  auditStartSince(since: number): Promise<{serverSeq: number | null; devices: Map<string, number>}>
  /** The server chain in server order: all, or `limit` links after server_seq `after`. */
  listAuditServerChain(page?: {after: number; limit: number}): Promise<ServerLink[]>
  /** Incidents recorded at or after `since`, oldest first. */
  listAuditIncidents(since: number): Promise<AuditIncidentRecord[]>

  /** Stores a new pending approval request (and its `requested` event). */
  createApproval(approval: ApprovalRecord): Promise<void>
  /** One approval request with its votes. */
  getApproval(id: string): Promise<ApprovalRecord | undefined>
  /** Approval requests, newest first. */
  listApprovals(query: {
    requesterSub?: string | undefined
    status?: ApprovalRecord['status'] | undefined
    limit: number
  }): Promise<ApprovalRecord[]>
  /** Records a vote atomically: a deny decides, enough distinct approvals grant. */
  voteApproval(id: string, vote: ApprovalVoteRecord, now: number): Promise<VoteOutcome>
  /** Expires pending requests past their time and ends grants past their window; returns the requests' ids. */
  expireApprovals(now: number): Promise<string[]>
  /** The next time a pending request or an unspent grant expires (epoch ms); null when none waits. */
  nextApprovalDeadline(): Promise<number | null>
  /** Spends one use of a matching grant atomically; undefined when no grant matches. */
  useGrant(query: GrantQuery, now: number): Promise<ApprovalRecord | undefined>
  /** Records a transition (notified, notify_failed). */
  recordApprovalEvent(
    id: string,
    type: ApprovalEventRecord['type'],
    actorSub: string | null,
    detail: string | null,
    at: number,
  ): Promise<void>
  /** A request's transitions, in order. */
  listApprovalEvents(id: string): Promise<ApprovalEventRecord[]>
  /** A page of requests' chains by id, for `audit verify`; `since` > 0: those created or changed since. */
  listApprovalChains(query: {afterId: string; since: number; limit: number}): Promise<ApprovalChainRecord[]>
}

/** A device's registered audit key. */
export interface AuditDeviceRecord {
  deviceId: string
  ownerSub: string
  keyId: string
  /** base64url of the raw 32-byte Ed25519 public key. */
  publicKey: string
  createdAt: number
  /** The registering identity's email, if it has one: `audit search --user EMAIL` finds its events. */
  ownerEmail?: string | undefined
}

/** A signed batch header as stored. */
export interface AuditBatchRecord {
  deviceId: string
  firstSeq: number
  lastSeq: number
  prevHash: string
  hashes: string[]
  keyId: string
  signature: string
  receivedAt: number
}

/** A batch to store: its header, its owner and its events (with their hashes, checked against the header). */
export interface AuditIngest {
  batch: AuditBatchRecord
  ownerSub: string
  events: ChainedEvent[]
}

/** What storing a batch did. */
export type AuditIngestOutcome =
  | {kind: 'accepted'; ackedSeq: number; stored: number; gap: {from: number; to: number} | null}
  | {kind: 'conflict'; message: string}

/** What an incident records. */
export type AuditIncidentKind =
  'gap' | 'conflict' | 'chain_break' | 'replayed' | 'bad_signature' | 'foreign_device'

/** Something wrong with an upload, kept for `audit verify`. */
export interface AuditIncidentRecord {
  id: string
  deviceId: string
  ownerSub: string
  kind: AuditIncidentKind
  firstSeq: number
  lastSeq: number
  detail: string
  at: number
}

/** A stored event with its place in the device's and the server's chains. */
export interface StoredAuditEvent {
  deviceId: string
  seq: number
  batchFirstSeq: number
  batchLastSeq: number
  ownerSub: string
  serverSeq: number
  hash: string
  /** The event as stored (parsed from its canonical JSON). */
  event: ChainedEvent
  /** The indexed columns, which `audit verify` checks against the event. */
  columns: {
    identity: string
    target: string
    decision: string | null
    statement: string | null
    actor: string
    timeMs: number
    /** From tables_json and from the table filter's rows (audit_event_tables), each sorted. */
    tables: string[]
    tableRows: string[]
  }
}

/** A search of the trail; `ownerSub` restricts it to one identity's own devices. */
export interface AuditSearchQuery {
  ownerSub?: string | undefined
  identity?: string | undefined
  target?: string | undefined
  table?: string | undefined
  decision?: 'allow' | 'deny' | 'review' | undefined
  actor?: 'human' | 'agent' | 'ci' | undefined
  since?: number | undefined
  until?: number | undefined
  text?: string | undefined
  limit: number
  /** Continue after this (time, server_seq), exclusive; `approval` when the page ended on an approval transition. */
  after?: {time: number; serverSeq: number; approval?: {id: string; n: number} | undefined} | undefined
}

/** A uniqueness rule was broken (e.g. a live machine token with the same name). */
export class StoreConflictError extends Error {
  /** Builds the error with a message naming what clashed. */
  constructor(message: string) {
    super(message)
    this.name = 'StoreConflictError'
  }
}
