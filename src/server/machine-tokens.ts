import {randomUUID} from 'node:crypto'

import {MACHINE_TOKEN_PREFIX, type MachineTokenInfo} from '../control/api-types.js'
import {randomToken, sha256Hex} from './crypto.js'
import {conflict, notFound} from './http-errors.js'
import {StoreConflictError, type MachineTokenRecord, type Store} from './store/index.js'

/**
 * Machine tokens for CI: `dbg_mt_` + 256 random bits, shown once, stored as SHA-256. Used by the admin API
 * and by `dbgate server tokens ...` (which opens the store directly).
 */

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

/** The public view of a token (never its hash). */
export function machineTokenInfo(t: MachineTokenRecord): MachineTokenInfo {
  return {
    id: t.id,
    name: t.name,
    groups: [...t.groups],
    created_at: new Date(t.createdAt).toISOString(),
    expires_at: iso(t.expiresAt),
    revoked_at: iso(t.revokedAt),
    last_used_at: iso(t.lastUsedAt),
    created_by: t.createdBy,
  }
}

/** What creating a token needs. */
export interface NewMachineToken {
  name: string
  groups: readonly string[]
  /** Lifetime in seconds; null for no expiry. */
  ttlSeconds: number | null
  createdBy: string
}

/** Creates a token; the returned secret is the only copy. */
export async function createMachineToken(
  store: Store,
  spec: NewMachineToken,
  now: number,
): Promise<{token: string; info: MachineTokenInfo}> {
  const token = `${MACHINE_TOKEN_PREFIX}${randomToken(32)}`
  const record: MachineTokenRecord = {
    id: `mt_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
    name: spec.name,
    tokenHash: sha256Hex(token),
    groups: [...new Set(spec.groups)],
    createdAt: now,
    expiresAt: spec.ttlSeconds === null ? null : now + spec.ttlSeconds * 1000,
    revokedAt: null,
    lastUsedAt: null,
    createdBy: spec.createdBy,
  }
  try {
    await store.createMachineToken(record)
  } catch (err) {
    if (err instanceof StoreConflictError)
      throw conflict(`a live machine token named "${spec.name}" exists; revoke it first or pick another name`)
    throw err
  }
  return {token, info: machineTokenInfo(record)}
}

/** Every token, newest first. */
export async function listMachineTokens(store: Store): Promise<MachineTokenInfo[]> {
  return (await store.listMachineTokens()).map(machineTokenInfo)
}

/** Revokes a live token by id or name. */
export async function revokeMachineToken(
  store: Store,
  idOrName: string,
  now: number,
): Promise<MachineTokenInfo> {
  const revoked = await store.revokeMachineToken(idOrName, now)
  if (!revoked) throw notFound(`no live machine token with id or name "${idOrName}"`)
  return machineTokenInfo(revoked)
}

/** Why a presented machine token was refused. */
export type MachineTokenProblem = 'unknown' | 'revoked' | 'expired'

/** Looks a presented secret up; returns the record or why it is not usable. */
export async function checkMachineToken(
  store: Store,
  secret: string,
  now: number,
): Promise<MachineTokenRecord | MachineTokenProblem> {
  if (!secret.startsWith(MACHINE_TOKEN_PREFIX)) return 'unknown'
  const t = await store.findMachineTokenByHash(sha256Hex(secret))
  if (!t) return 'unknown'
  if (t.revokedAt !== null) return 'revoked'
  if (t.expiresAt !== null && t.expiresAt <= now) return 'expired'
  return t
}
