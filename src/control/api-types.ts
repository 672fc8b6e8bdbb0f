/**
 * The control plane's HTTP API, as TypeScript types shared by the server (src/server) and the CLI's client
 * (src/control). docs/api.md describes the same contract in prose; docs/openapi.json is generated from the
 * server's route schemas, which are checked at compile time against these types.
 */

/** The API version this file describes; `/.well-known/dbgate` reports it. */
export const API_VERSION = 1

/** The public OAuth client id the CLI uses for every grant. */
export const CLI_CLIENT_ID = 'dbgate-cli'

/** Prefix of every machine token; the rest is random. */
export const MACHINE_TOKEN_PREFIX = 'dbg_mt_'

/** OAuth grant types accepted by `POST /auth/token`. */
export const GrantType = {
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  machineToken: 'urn:dbgate:params:oauth:grant-type:machine-token',
} as const
export type GrantType = (typeof GrantType)[keyof typeof GrantType]

/** Roles the control plane maps from groups (config `roles:`). */
export type Role = 'user' | 'approver' | 'auditor' | 'admin'

/** All roles, in a stable order. */
export const ROLES: readonly Role[] = ['user', 'approver', 'auditor', 'admin']

/** Whether an identity is a person (SSO login) or a service (machine token). */
export type IdentityKind = 'user' | 'service'

/** Database protocols a target can speak. */
export type TargetProtocol = 'postgres' | 'mysql'

/** `GET /.well-known/dbgate`: where everything is. All URLs are absolute, under the server's public_url. */
export interface DiscoveryDocument {
  issuer: string
  api_version: 1
  authorization_endpoint: string
  token_endpoint: string
  device_authorization_endpoint: string
  jwks_uri: string
  revocation_endpoint: string
}

/** Who a token speaks for, as returned with every token response. */
export interface Identity {
  /** Stable subject: the IdP's `sub` for people, `service:NAME` for machine tokens. */
  sub: string
  name: string
  email?: string
  kind: IdentityKind
  groups: string[]
  roles: Role[]
}

/** `POST /auth/token` with grant_type=authorization_code (form-encoded or JSON). */
export interface AuthorizationCodeTokenRequest {
  grant_type: 'authorization_code'
  code: string
  code_verifier: string
  redirect_uri: string
  client_id: string
}

/** `POST /auth/token` with grant_type=refresh_token. The old refresh token dies; reusing it revokes the family. */
export interface RefreshTokenRequest {
  grant_type: 'refresh_token'
  refresh_token: string
  client_id: string
}

/** `POST /auth/token` with the RFC 8628 device_code grant. */
export interface DeviceCodeTokenRequest {
  grant_type: 'urn:ietf:params:oauth:grant-type:device_code'
  device_code: string
  client_id: string
}

/** `POST /auth/token` exchanging a machine token (`dbg_mt_...`) for an access token. */
export interface MachineTokenRequest {
  grant_type: 'urn:dbgate:params:oauth:grant-type:machine-token'
  machine_token: string
  client_id?: string
}

/** Any body `POST /auth/token` accepts. */
export type TokenRequest =
  AuthorizationCodeTokenRequest | RefreshTokenRequest | DeviceCodeTokenRequest | MachineTokenRequest

/** Successful `POST /auth/token`. */
export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  /** Seconds until access_token expires. */
  expires_in: number
  /** Absent for the machine-token grant. */
  refresh_token?: string
  /** Only for the authorization_code grant: a JWT (aud dbgate-cli) carrying the CLI's nonce. */
  id_token?: string
  identity: Identity
}

/** OAuth error codes `POST /auth/token` and `POST /auth/device/code` may return (HTTP 400 or 401). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'access_denied'
  | 'server_error'

/** OAuth-format error body used on /auth/* endpoints (RFC 6749 §5.2, RFC 8628 §3.5). */
export interface OAuthErrorResponse {
  error: OAuthErrorCode
  error_description?: string
}

/** `POST /auth/device/code` body (form-encoded or JSON). */
export interface DeviceAuthorizationRequest {
  client_id: string
  scope?: string
}

/** `POST /auth/device/code` response (RFC 8628 §3.2). */
export interface DeviceAuthorizationResponse {
  device_code: string
  /** Eight letters shown as "ABCD-EFGH"; matched case-insensitively, the dash optional. */
  user_code: string
  verification_uri: string
  verification_uri_complete: string
  expires_in: number
  interval: number
}

/** `POST /auth/revoke` body (RFC 7009). Always answers 200 `{}`. */
export interface RevocationRequest {
  token: string
  token_type_hint?: string
  client_id?: string
}

/** `GET /api/v1/me`. */
export interface MeResponse extends Identity {
  /** When the bearer access token expires, ISO 8601. */
  token_expires_at: string
}

/** A target as a caller sees it: where it is, never its credentials. */
export interface TargetSummary {
  name: string
  protocol: TargetProtocol
  host: string
  port: number
  database: string
}

/** `GET /api/v1/targets`: the targets the caller's groups may reach. */
export interface TargetsResponse {
  targets: TargetSummary[]
}

/**
 * TLS settings of a target: for the control plane's own (admin) connections, and given to the CLI with each
 * session so that its proxy connects upstream the same way.
 */
export interface TargetTls {
  /** disable: plain TCP; require: TLS without verification; verify-full: TLS, CA and host name checked. */
  mode: 'disable' | 'require' | 'verify-full'
  /** PEM of the CA to trust (verify-full). */
  ca?: string
  /** Host name to check instead of `host`. */
  server_name?: string
}

/** Which database role a session's minted user joins: the first entry naming one of the caller's groups. */
export interface TargetRoleMapping {
  /** Groups it applies to (`*` = everyone). */
  groups: string[]
  /** An existing role on the target database; minted users become members of it. */
  db_role: string
}

/** A target as an admin sees it (still without the admin password). */
export interface AdminTarget extends TargetSummary {
  tls: TargetTls
  /** Groups allowed to use the target. */
  groups: string[]
  /** Database role per group; empty: no sessions. */
  roles: TargetRoleMapping[]
  /** Seconds minted credentials live before renewal; null: the server's default. */
  credential_ttl: number | null
  /** The admin user the control plane uses to mint short-lived users; its password is never returned. */
  admin_user: string
  /** `config` when it comes from the config file (not deletable through the API), `api` otherwise. */
  source: 'config' | 'api'
  created_at: string
}

/** `POST /api/v1/admin/targets` body. Creating an existing API target replaces it. */
export interface CreateTargetRequest {
  name: string
  protocol: TargetProtocol
  host: string
  port: number
  database: string
  tls?: TargetTls
  admin: {user: string; password: string}
  groups: string[]
  /** Database role per group (first match); without it the target cannot open sessions. */
  roles?: TargetRoleMapping[]
  /** Seconds (30 to 86400); default the server's `sessions.credential_ttl`. */
  credential_ttl?: number
}

/** `GET /api/v1/admin/targets`. */
export interface AdminTargetsResponse {
  targets: AdminTarget[]
}

/** A machine token's metadata; the secret itself is shown only once, at creation. */
export interface MachineTokenInfo {
  id: string
  name: string
  groups: string[]
  created_at: string
  /** ISO time, or null for a token that never expires. */
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
  /** The sub of whoever created it (`local-admin` for `dbgate server tokens create`). */
  created_by: string
}

/** `POST /api/v1/admin/tokens` body. */
export interface CreateMachineTokenRequest {
  /** Letters, digits, `-`, `_`, `.`; unique among live tokens. */
  name: string
  groups: string[]
  /** Lifetime in seconds; omitted means 90 days. */
  ttl_seconds?: number
}

/** `POST /api/v1/admin/tokens` response: the only time the secret is shown. */
export interface CreateMachineTokenResponse {
  token: string
  info: MachineTokenInfo
}

/** `GET /api/v1/admin/tokens`. */
export interface MachineTokensResponse {
  tokens: MachineTokenInfo[]
}

/** Error codes of /api/* endpoints. */
export type ApiErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'bad_request'
  | 'conflict'
  | 'payload_too_large'
  | 'internal'
  /** 503: the control plane could not reach a target database (to mint or revoke a user). */
  | 'unavailable'

/** The body of every non-2xx answer on /api/* (and on non-OAuth endpoints). */
export interface ApiErrorResponse {
  error: {code: ApiErrorCode; message: string}
}

/** Who is acting in a database session: a person, an AI agent acting for a person, or a CI job. */
export type SessionActor = 'human' | 'agent' | 'ci'

/** `POST /api/v1/sessions` body. Machine tokens always get actor `ci`, whatever is asked. */
export interface CreateSessionRequest {
  target: string
  /** Default `human`. */
  actor?: 'human' | 'agent'
  /** The agent's name (e.g. "claude-code"), for actor `agent`. */
  agent?: string
}

/** The short-lived database user minted for one session. Kept in memory only by the CLI. */
export interface SessionCredentials {
  user: string
  password: string
  /** ISO 8601: when the database stops accepting the login unless renewed. */
  expires_at: string
}

/** What a bundle says: the policy for one identity on one target, for a limited time. */
export interface BundlePayload {
  /** Format version of the bundle. */
  v: 1
  /** The control plane that issued it (its public URL). */
  iss: string
  /** The identity's `sub`. */
  identity: string
  groups: string[]
  actor: SessionActor
  /** The agent's name for actor `agent`, else null. */
  agent: string | null
  target: string
  /** The name of the config policy that matched. */
  policy_name: string
  /** `sha256:<hex>` of the canonical JSON of `policy`. */
  policy_version: string
  /** The policy document (policy language version 1), as JSON. */
  policy: Record<string, unknown>
  /** ISO 8601. */
  issued_at: string
  /** ISO 8601. */
  expires_at: string
}

/** A bundle and its Ed25519 signature over the canonical JSON (sorted keys, no spaces) of `payload`. */
export interface SignedBundle {
  /** The key that signed, listed at `/.well-known/dbgate-bundle-keys.json`. */
  kid: string
  alg: 'EdDSA'
  payload: BundlePayload
  /** base64url Ed25519 signature. */
  signature: string
}

/** The target of a session: where it is and how to reach it over TLS (the CLI's upstream uses this). */
export interface SessionTarget extends TargetSummary {
  tls: TargetTls
}

/** `POST /api/v1/sessions` answer (201). */
export interface SessionResponse {
  session_id: string
  target: SessionTarget
  credentials: SessionCredentials
  bundle: SignedBundle
  /** Renew (POST /api/v1/sessions/:id/renew) after this many seconds, well before expiry. */
  renew_after_seconds: number
}

/** `POST /api/v1/sessions/:id/renew` answer. */
export interface RenewSessionResponse {
  session_id: string
  /** ISO 8601: the credentials' new expiry. */
  expires_at: string
  /** A freshly signed bundle (it also carries a policy reloaded since the last one). */
  bundle: SignedBundle
  renew_after_seconds: number
}

/** `GET /api/v1/bundle?target=T[&actor=agent&agent=NAME]`: the bundle the caller would get. */
export interface BundleResponse {
  bundle: SignedBundle
}

/** One public key that signs bundles (an Ed25519 JWK). */
export interface BundleKey {
  kty: 'OKP'
  crv: 'Ed25519'
  x: string
  kid: string
  alg: 'EdDSA'
  use: 'sig'
}

/** `GET /.well-known/dbgate-bundle-keys.json`: kid → public key. The CLI pins it at login. */
export interface BundleKeysDocument {
  keys: Record<string, BundleKey>
}

/** `POST /api/v1/admin/reload` answer: what the reloaded config now holds. */
export interface ReloadResponse {
  policies: number
  targets: number
  /** ISO 8601. */
  reloaded_at: string
}

/** `DELETE /api/v1/sessions/:id` answer: false when the user could not be dropped now (the reaper will). */
export interface EndSessionResponse {
  revoked: boolean
}

/** `POST /api/v1/audit/devices`: registers the caller's device key (idempotent for the same key). */
export interface RegisterAuditDeviceRequest {
  device_id: string
  /** base64url of the raw 32-byte Ed25519 public key. */
  public_key: string
}

/** `POST /api/v1/audit/devices` answer. */
export interface AuditDeviceResponse {
  device_id: string
  key_id: string
  /** The last seq the server stores for the device (0 when none): where uploads continue. */
  last_seq: number
}

/** `POST /api/v1/audit/batches`: a signed run of consecutive events (src/audit/signing.ts). */
export interface AuditBatchRequest {
  device_id: string
  first_seq: number
  last_seq: number
  prev_hash: string
  hashes: string[]
  key_id: string
  signature: string
  /** The chained events (src/audit/event.ts ChainedEvent), in seq order. */
  events: Record<string, unknown>[]
}

/** `POST /api/v1/audit/batches` answer: every seq up to `acked_seq` of the batch is stored. */
export interface AuditBatchResponse {
  acked_seq: number
  stored: number
  /** Seqs the server has never received before this batch (recorded as a gap, never hidden). */
  gap: {from: number; to: number} | null
}

/** One event as `GET /api/v1/audit/events` returns it. */
export interface AuditEventItem {
  device_id: string
  server_seq: number
  event: Record<string, unknown>
}

/** `GET /api/v1/audit/events` answer: newest first; pass `next_cursor` as `cursor` for the next page. */
export interface AuditSearchResponse {
  events: AuditEventItem[]
  next_cursor: string | null
}

/** `GET /api/v1/audit/verify` answer (auditor or admin). */
export interface AuditVerifyResponse {
  ok: boolean
  devices: number
  verified: number
  /** One line per problem: which records are missing, altered, out of order, replayed or forged. */
  problems: string[]
  /** The approval requests' chains of transitions: how many were checked, and each problem (also in problems). */
  approvals: AuditApprovalsVerified
}

/** What `audit verify` found in the approval requests' chains. */
export interface AuditApprovalsVerified {
  requests: number
  transitions: number
  problems: AuditApprovalProblem[]
}

/** A transition of an approval request that is missing, altered, out of order, or chained to a replaced one. */
export interface AuditApprovalProblem {
  approval_id: string
  kind: 'missing' | 'altered' | 'out_of_order' | 'chain_break'
  /** The transition's number in its request's chain. */
  n: number
  /** The transition as stored (`approved`, `denied`, …); null when it is missing. */
  type: ApprovalEventType | null
  /** For out_of_order: the position its hash was made at. */
  chained_at: number | null
}

/** Where an approval request is in its life. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired'

/** The transitions of an approval request, each an audit event. */
export type ApprovalEventType =
  'requested' | 'notified' | 'notify_failed' | 'approved' | 'denied' | 'expired' | 'used'

/** `POST /api/v1/approvals`: ask for approval of one statement on a target. */
export interface CreateApprovalRequest {
  target: string
  statement: string
  reason: string
  /** `agent` when an AI agent acts for the caller (machine tokens are always `ci`). */
  actor?: 'human' | 'agent'
  agent?: string
  /** Who created it: `dbgate request-approval` (cli) or the guarding proxy on a `review` (proxy). */
  source?: 'cli' | 'proxy'
  /** The local process behind the statement, when the proxy knows it (one line). */
  process?: string
}

/** How a request is approved and what its grant allows (the rule's `approval:` settings). */
export interface ApprovalSettingsInfo {
  approvers: number
  groups: string[]
  mode: 'hold' | 'reject'
  uses: number
  window_seconds: number
  any_literals: boolean
}

/** One approver's decision. */
export interface ApprovalVote {
  approver: string
  approver_name: string
  decision: 'approve' | 'deny'
  comment: string | null
  at: string
}

/** One transition of a request. */
export interface ApprovalEventItem {
  type: ApprovalEventType
  actor: string | null
  detail: string | null
  at: string
}

/** An approval request as the API shows it. */
export interface ApprovalInfo {
  id: string
  status: ApprovalStatus
  requester: string
  requester_name: string
  actor: SessionActor
  agent: string | null
  target: string
  statement: string
  fingerprint: string
  decision: 'review'
  rule: string | null
  policy_name: string
  reason: string
  process: string | null
  source: 'cli' | 'proxy'
  settings: ApprovalSettingsInfo
  votes: ApprovalVote[]
  created_at: string
  expires_at: string
  decided_at: string | null
  /** The grant of an approved request: uses left and until when; null before approval. */
  grant: {uses_left: number; expires_at: string} | null
  /** The control plane's page for this request (approve or deny in a browser). */
  url: string
}

/** `GET /api/v1/approvals/:id`: the request and its transitions. */
export interface ApprovalDetail extends ApprovalInfo {
  events: ApprovalEventItem[]
  /** False when the stored events no longer hash-chain: something edited the store. */
  events_intact: boolean
}

/** `GET /api/v1/approvals`. */
export interface ApprovalsResponse {
  approvals: ApprovalInfo[]
}

/** `POST /api/v1/approvals/:id/approve` and `/deny`. */
export interface ApprovalDecisionRequest {
  comment?: string
}

/** `POST /api/v1/approvals/use`: spend one use of a grant for this exact statement. */
export interface UseApprovalRequest {
  target: string
  statement: string
  /** A given request's grant; without it, any approved grant of the caller matching the statement. */
  id?: string
}

/** `POST /api/v1/approvals/use` answer. */
export interface UseApprovalResponse {
  approval: ApprovalInfo
  uses_left: number
}
