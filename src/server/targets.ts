import type {AdminTarget, CreateTargetRequest, SessionTarget, TargetSummary} from '../control/api-types.js'
import type {ConfigTarget} from './config.js'
import type {ServerKey} from './crypto.js'
import {MINTED_PREFIX} from './credentials/names.js'
import {badRequest, conflict, notFound} from './http-errors.js'
import type {Store, TargetRecord} from './store/index.js'

/**
 * The targets registry: from the config file (re-synced on every start) and the admin API. The admin
 * password is sealed with the server key (AES-256-GCM, bound to the target's name) and leaves this module
 * only through targetCredentials(), which no route calls.
 */

const aad = (name: string): string => `target-admin:${name}`

/** What a caller sees. */
export function targetSummary(t: TargetRecord): TargetSummary {
  return {name: t.name, protocol: t.protocol, host: t.host, port: t.port, database: t.database}
}

/** What a session's owner gets: the summary and the TLS settings its proxy connects upstream with. */
export function sessionTarget(t: TargetRecord): SessionTarget {
  return {...targetSummary(t), tls: {...t.tls}}
}

/** What an admin sees (no password). */
export function adminTarget(t: TargetRecord): AdminTarget {
  return {
    ...targetSummary(t),
    tls: {...t.tls},
    groups: [...t.groups],
    roles: t.roles.map((r) => ({groups: [...r.groups], db_role: r.db_role})),
    credential_ttl: t.credentialTtl,
    admin_user: t.adminUser,
    source: t.source,
    created_at: new Date(t.createdAt).toISOString(),
  }
}

function recordFrom(
  spec: CreateTargetRequest | ConfigTarget,
  source: 'config' | 'api',
  key: ServerKey,
  now: number,
): TargetRecord {
  return {
    name: spec.name,
    protocol: spec.protocol,
    host: spec.host,
    port: spec.port,
    database: spec.database,
    tls: spec.tls ?? {mode: 'disable'},
    groups: [...new Set(spec.groups)],
    roles: (spec.roles ?? []).map((r) => ({groups: [...new Set(r.groups)], db_role: r.db_role})),
    credentialTtl: spec.credential_ttl ?? null,
    adminUser: spec.admin.user,
    adminPasswordEnc: key.encrypt(spec.admin.password, aad(spec.name)),
    source,
    createdAt: now,
  }
}

/** Makes the store's config-sourced targets equal the config file's list. */
export async function syncConfigTargets(
  store: Store,
  targets: readonly ConfigTarget[],
  key: ServerKey,
  now: number,
): Promise<void> {
  const wanted = new Set(targets.map((t) => t.name))
  for (const existing of await store.listTargets())
    if (existing.source === 'config' && !wanted.has(existing.name)) await store.deleteTarget(existing.name)
  for (const t of targets) await store.upsertTarget(recordFrom(t, 'config', key, now))
}

/** Creates or replaces an API target; a config target of the same name cannot be replaced. */
export async function putTarget(
  store: Store,
  spec: CreateTargetRequest,
  key: ServerKey,
  now: number,
): Promise<AdminTarget> {
  for (const r of spec.roles ?? [])
    if (r.db_role.startsWith(MINTED_PREFIX))
      // The reaper owns that prefix; a minted user must never become the role others join.
      throw badRequest(`roles: "${r.db_role}" starts with ${MINTED_PREFIX}, which dbgate's minted users use`)
  const existing = await store.getTarget(spec.name)
  if (existing?.source === 'config')
    throw conflict(`target "${spec.name}" comes from the config file; change it there`)
  const record = recordFrom(spec, 'api', key, existing?.createdAt ?? now)
  await store.upsertTarget(record)
  return adminTarget(record)
}

/** Deletes an API target. */
export async function removeTarget(store: Store, name: string): Promise<void> {
  const existing = await store.getTarget(name)
  if (!existing) throw notFound(`no target named "${name}"`)
  if (existing.source === 'config')
    throw conflict(`target "${name}" comes from the config file; remove it there`)
  await store.deleteTarget(name)
}

/** Targets a caller's groups allow (`*` in a target's groups allows everyone). */
export function reachableTargets(all: readonly TargetRecord[], groups: readonly string[]): TargetSummary[] {
  return all.filter((t) => t.groups.some((g) => g === '*' || groups.includes(g))).map(targetSummary)
}

/** The decrypted admin credentials of a target, for minting short-lived users (later issues). */
export async function targetCredentials(
  store: Store,
  name: string,
  key: ServerKey,
): Promise<{user: string; password: string}> {
  const t = await store.getTarget(name)
  if (!t) throw notFound(`no target named "${name}"`)
  return {user: t.adminUser, password: key.decrypt(t.adminPasswordEnc, aad(t.name))}
}
