import {randomUUID} from 'node:crypto'

import type {SessionActor, TargetProtocol} from '../../control/api-types.js'
import {messageOf} from '../../errors.js'
import {mappedRole, type LiveConfig, type TargetAccess} from '../bundles/live-config.js'
import type {ServerKey} from '../crypto.js'
import {ApiError, conflict, forbidden, notFound} from '../http-errors.js'
import {hasAnyRole} from '../roles.js'
import {StoreConflictError, type DbSessionRecord, type Store, type TargetRecord} from '../store/index.js'
import {reachableTargets, targetCredentials} from '../targets.js'
import type {AccessClaims} from '../tokens.js'
import {
  isConnectFailure,
  TargetUnavailableError,
  type AdminConnection,
  type CredentialEngine,
} from './engine.js'
import {mysqlEngine} from './mysql.js'
import {mintPassword, mintUserName} from './names.js'
import {postgresEngine} from './postgres.js'

/**
 * Per-session database users (the model of Vault's database secrets engine): open mints a user that joins
 * the role the target maps the caller's groups to, renew moves its expiry, end revokes it. Every name is
 * recorded in the store before the user is created, so the reaper can always tell ours from anyone else's.
 * Admin passwords are decrypted only for the admin connection and never logged or returned.
 */

/** The engines by protocol. */
export const ENGINES: Readonly<Record<TargetProtocol, CredentialEngine>> = {
  postgres: postgresEngine,
  mysql: mysqlEngine,
}

/** What the service needs. */
export interface CredentialDeps {
  readonly store: Store
  readonly serverKey: ServerKey
  readonly live: LiveConfig
  readonly now: () => number
  readonly engines?: Readonly<Record<TargetProtocol, CredentialEngine>>
}

/** A freshly minted session: the record, the password (only here, once) and the target. */
export interface OpenedSession {
  readonly record: DbSessionRecord
  readonly password: string
  readonly target: TargetRecord
  readonly ttlSeconds: number
}

/** When the CLI should renew: a third of the TTL, so two renewals may fail before the login expires. */
export function renewAfter(ttlSeconds: number): number {
  return Math.max(1, Math.floor(ttlSeconds / 3))
}

/** Opens, renews and ends database sessions. */
export class CredentialService {
  readonly engines: Readonly<Record<TargetProtocol, CredentialEngine>>

  /** Creates the service. */
  constructor(private readonly deps: CredentialDeps) {
    this.engines = deps.engines ?? ENGINES
  }

  /** The admin connection of a target (password decrypted just for this call). */
  async adminConnection(target: TargetRecord): Promise<AdminConnection> {
    const creds = await targetCredentials(this.deps.store, target.name, this.deps.serverKey)
    return {host: target.host, port: target.port, database: target.database, tls: target.tls, ...creds}
  }

  /** Role mapping and TTL: from the reloadable config for config targets, from the store for API targets. */
  access(target: TargetRecord): TargetAccess {
    if (target.source === 'config') return this.deps.live.accessFor(target.name)
    return {
      roles: target.roles,
      credentialTtl: target.credentialTtl ?? this.deps.live.config.sessions.credential_ttl,
    }
  }

  /** The target a caller may use, or 404/403 naming the targets they may use. */
  async allowedTarget(caller: Pick<AccessClaims, 'groups'>, name: string): Promise<TargetRecord> {
    const all = await this.deps.store.listTargets()
    const allowed = reachableTargets(all, caller.groups).map((t) => t.name)
    const list = allowed.length === 0 ? 'none' : allowed.join(', ')
    const target = all.find((t) => t.name === name)
    if (!target) throw notFound(`no target named "${name}"; targets you may use: ${list}`)
    if (!allowed.includes(name))
      throw forbidden(`you may not use target "${name}"; targets you may use: ${list}`)
    return target
  }

  /** Mints a user for the caller on a target (the caller already got its bundle, so a policy applies). */
  async open(
    caller: AccessClaims,
    target: TargetRecord,
    actor: SessionActor,
    agent: string | null,
  ): Promise<OpenedSession> {
    const access = this.access(target)
    const role = mappedRole(access, caller.groups)
    if (role === undefined)
      throw forbidden(
        `target "${target.name}" maps no database role to your groups [${caller.groups.join(', ')}]; ask an admin to add one (${target.source === 'config' ? 'targets[].roles in the server config' : 'roles of the target in the admin API'})`,
      )
    const now = this.deps.now()
    const expiresAt = now + access.credentialTtl * 1000
    const record = await this.record(caller, target, role, actor, agent, now, expiresAt)
    const password = mintPassword()
    const conn = await this.adminConnection(target)
    try {
      await this.engines[target.protocol].create(conn, {user: record.dbUser, password, role, expiresAt})
    } catch (err) {
      await this.deps.store.endDbSession(record.id, now)
      throw targetError(target.name, 'create the session user', err)
    }
    await this.deps.store.activateDbSession(record.id)
    return {record: {...record, status: 'active'}, password, target, ttlSeconds: access.credentialTtl}
  }

  private async record(
    caller: AccessClaims,
    target: TargetRecord,
    role: string,
    actor: SessionActor,
    agent: string | null,
    now: number,
    expiresAt: number,
  ): Promise<DbSessionRecord> {
    const {roles: _roles, ...identity} = caller
    for (let attempt = 0; ; attempt++) {
      const record: DbSessionRecord = {
        id: `dbs_${randomUUID()}`,
        ownerSub: caller.sub,
        identity: {
          sub: identity.sub,
          name: identity.name,
          email: identity.email,
          kind: identity.kind,
          groups: identity.groups,
        },
        actor,
        agent,
        target: target.name,
        protocol: target.protocol,
        dbUser: mintUserName(caller, target.protocol),
        dbRole: role,
        status: 'minting',
        createdAt: now,
        expiresAt,
        endedAt: null,
        revokedAt: null,
      }
      try {
        await this.deps.store.recordDbSession(record)
        return record
      } catch (err) {
        if (!(err instanceof StoreConflictError) || attempt >= 3) throw err
      }
    }
  }

  /** A session the caller owns (or any session, for an admin). */
  async owned(caller: AccessClaims, id: string): Promise<DbSessionRecord> {
    const s = await this.deps.store.getDbSession(id)
    if (!s) throw notFound(`no session "${id}"`)
    if (s.ownerSub !== caller.sub && !hasAnyRole(caller.roles, ['admin']))
      throw forbidden('only the identity that opened a session (or an admin) may renew or end it')
    return s
  }

  /** Moves the expiry to now + TTL, in the store and (PostgreSQL) in the database. */
  async renew(caller: AccessClaims, id: string): Promise<{record: DbSessionRecord; ttlSeconds: number}> {
    const s = await this.owned(caller, id)
    const target = await this.deps.store.getTarget(s.target)
    if (!target) throw notFound(`target "${s.target}" no longer exists`)
    const ttl = this.access(target).credentialTtl
    const now = this.deps.now()
    const next = await this.deps.store.extendDbSession(id, now + ttl * 1000, now)
    if (!next) throw conflict(`session "${id}" has ended or expired; open a new one`)
    try {
      await this.engines[target.protocol].renew(await this.adminConnection(target), s.dbUser, next.expiresAt)
    } catch (err) {
      throw targetError(target.name, 'renew the session user', err)
    }
    return {record: next, ttlSeconds: ttl}
  }

  /** Ends a session and revokes its user now; false when revoking failed (the reaper retries). */
  async end(caller: AccessClaims, id: string): Promise<boolean> {
    const s = await this.owned(caller, id)
    const now = this.deps.now()
    await this.deps.store.endDbSession(id, now)
    if (s.status === 'revoked') return true
    return (await this.revoke(s)) === undefined
  }

  /** Revokes one session's user and marks it; returns why it failed (never throws), undefined when done. */
  async revoke(s: DbSessionRecord): Promise<string | undefined> {
    const target = await this.deps.store.getTarget(s.target)
    if (!target) return `target "${s.target}" no longer exists`
    try {
      await this.engines[target.protocol].revoke(await this.adminConnection(target), s.dbUser)
    } catch (err) {
      return messageOf(err)
    }
    await this.deps.store.markDbSessionRevoked(s.id, this.deps.now())
    return undefined
  }
}

function targetError(target: string, what: string, err: unknown): ApiError {
  if (isConnectFailure(err)) return new TargetUnavailableError(target, err)
  return new ApiError(503, 'unavailable', `target "${target}" refused to ${what}: ${messageOf(err)}`)
}
