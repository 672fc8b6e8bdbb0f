import type {TargetProtocol, TargetRoleMapping, TargetTls} from '../../control/api-types.js'
import type {SqlRow, SqlValue} from './driver.js'
import type {
  DbSessionRecord,
  DbSessionStatus,
  AuthCodeRecord,
  AuthRequestRecord,
  DeviceRecord,
  DeviceStatus,
  MachineTokenRecord,
  SessionRecord,
  SigningKeyRecord,
  StoredIdentity,
  TargetRecord,
} from './store.js'

/** Mapping between SQL rows and store records; JSON columns are parsed here and nowhere else. */

function str(row: SqlRow, col: string): string {
  const v = row[col]
  if (typeof v !== 'string') throw new Error(`store: column ${col} is not text`)
  return v
}

function num(row: SqlRow, col: string): number {
  const v = row[col]
  if (typeof v !== 'number') throw new Error(`store: column ${col} is not a number`)
  return v
}

function optStr(row: SqlRow, col: string): string | null {
  const v = row[col]
  return v === null || v === undefined ? null : String(v)
}

function optNum(row: SqlRow, col: string): number | null {
  const v = row[col]
  return v === null || v === undefined ? null : Number(v)
}

function json<T>(row: SqlRow, col: string): T {
  return JSON.parse(str(row, col)) as T
}

/** Serialises a JSON column value. */
export function toJson(value: unknown): SqlValue {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

/** A signing_keys row. */
export function signingKeyFrom(row: SqlRow): SigningKeyRecord {
  return {
    kid: str(row, 'kid'),
    alg: str(row, 'alg'),
    publicJwk: str(row, 'public_jwk'),
    privateJwkEnc: str(row, 'private_jwk_enc'),
    createdAt: num(row, 'created_at'),
  }
}

/** An auth_requests row. */
export function authRequestFrom(row: SqlRow): AuthRequestRecord {
  const kind = str(row, 'kind')
  return {
    id: str(row, 'id'),
    kind: kind === 'device' || kind === 'page' ? kind : 'cli',
    cliRedirectUri: optStr(row, 'cli_redirect_uri'),
    cliState: optStr(row, 'cli_state'),
    cliCodeChallenge: optStr(row, 'cli_code_challenge'),
    cliNonce: optStr(row, 'cli_nonce'),
    deviceId: optStr(row, 'device_id'),
    idpCodeVerifier: str(row, 'idp_code_verifier'),
    idpNonce: str(row, 'idp_nonce'),
    expiresAt: num(row, 'expires_at'),
  }
}

/** An auth_codes row. */
export function authCodeFrom(row: SqlRow): AuthCodeRecord {
  return {
    codeHash: str(row, 'code_hash'),
    identity: json<StoredIdentity>(row, 'identity'),
    redirectUri: str(row, 'redirect_uri'),
    codeChallenge: str(row, 'code_challenge'),
    nonce: optStr(row, 'nonce'),
    expiresAt: num(row, 'expires_at'),
    usedAt: optNum(row, 'used_at'),
  }
}

/** A devices row. */
export function deviceFrom(row: SqlRow): DeviceRecord {
  const identity = optStr(row, 'identity')
  return {
    id: str(row, 'id'),
    deviceCodeHash: str(row, 'device_code_hash'),
    userCode: str(row, 'user_code'),
    status: str(row, 'status') as DeviceStatus,
    identity: identity === null ? null : (JSON.parse(identity) as StoredIdentity),
    intervalSeconds: num(row, 'interval_seconds'),
    lastPolledAt: optNum(row, 'last_polled_at'),
    expiresAt: num(row, 'expires_at'),
  }
}

/** A sessions row. */
export function sessionFrom(row: SqlRow): SessionRecord {
  return {
    id: str(row, 'id'),
    identity: json<StoredIdentity>(row, 'identity'),
    createdAt: num(row, 'created_at'),
    expiresAt: num(row, 'expires_at'),
    revokedAt: optNum(row, 'revoked_at'),
  }
}

/** A machine_tokens row. */
export function machineTokenFrom(row: SqlRow): MachineTokenRecord {
  return {
    id: str(row, 'id'),
    name: str(row, 'name'),
    tokenHash: str(row, 'token_hash'),
    groups: json<string[]>(row, 'groups_json'),
    createdAt: num(row, 'created_at'),
    expiresAt: optNum(row, 'expires_at'),
    revokedAt: optNum(row, 'revoked_at'),
    lastUsedAt: optNum(row, 'last_used_at'),
    createdBy: str(row, 'created_by'),
  }
}

/** A targets row. */
export function targetFrom(row: SqlRow): TargetRecord {
  return {
    name: str(row, 'name'),
    protocol: str(row, 'protocol') as TargetProtocol,
    host: str(row, 'host'),
    port: num(row, 'port'),
    database: str(row, 'database_name'),
    tls: json<TargetTls>(row, 'tls'),
    groups: json<string[]>(row, 'groups_json'),
    roles: json<TargetRoleMapping[]>(row, 'roles_json'),
    credentialTtl: optNum(row, 'credential_ttl'),
    adminUser: str(row, 'admin_user'),
    adminPasswordEnc: str(row, 'admin_password_enc'),
    source: str(row, 'source') === 'config' ? 'config' : 'api',
    createdAt: num(row, 'created_at'),
  }
}

/** A db_sessions row. */
export function dbSessionFrom(row: SqlRow): DbSessionRecord {
  const actor = str(row, 'actor')
  return {
    id: str(row, 'id'),
    ownerSub: str(row, 'owner_sub'),
    identity: json<StoredIdentity>(row, 'identity'),
    actor: actor === 'agent' || actor === 'ci' ? actor : 'human',
    agent: optStr(row, 'agent'),
    target: str(row, 'target'),
    protocol: str(row, 'protocol') as TargetProtocol,
    dbUser: str(row, 'db_user'),
    dbRole: str(row, 'db_role'),
    status: str(row, 'status') as DbSessionStatus,
    createdAt: num(row, 'created_at'),
    expiresAt: num(row, 'expires_at'),
    endedAt: optNum(row, 'ended_at'),
    revokedAt: optNum(row, 'revoked_at'),
  }
}
