import {randomBytes} from 'node:crypto'

import type {TargetProtocol} from '../../control/api-types.js'
import type {StoredIdentity} from '../store/index.js'

/**
 * Names and passwords of minted database users. A name says whose it is and cannot collide:
 * `dbg_<identity-slug>_<10 random base32 chars>` (50 bits), within PostgreSQL's 63 bytes and within the
 * 32 characters MySQL 8 allows (MariaDB allows 80). Only [a-z0-9_], so it needs no quoting anywhere, though
 * every statement still escapes it.
 */

/** Every minted user starts with this; the reaper never looks at any other name. */
export const MINTED_PREFIX = 'dbg_'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const RANDOM_CHARS = 10
const MAX_LENGTH: Record<TargetProtocol, number> = {postgres: 63, mysql: 32}

/** The readable part of a user name: the email's local part, else the sub (`service:ci` → `svc_ci`). */
export function identitySlug(identity: Pick<StoredIdentity, 'sub' | 'email' | 'kind'>): string {
  const base =
    identity.kind === 'service'
      ? `svc_${identity.sub.replace(/^service:/, '')}`
      : (identity.email?.split('@')[0] ?? identity.sub)
  const slug = base
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
  return slug === '' ? 'user' : slug
}

function randomSuffix(): string {
  const bytes = randomBytes(RANDOM_CHARS)
  let out = ''
  for (const b of bytes) out += ALPHABET[b & 31]
  return out
}

/** A fresh user name for an identity on a protocol. */
export function mintUserName(
  identity: Pick<StoredIdentity, 'sub' | 'email' | 'kind'>,
  protocol: TargetProtocol,
): string {
  const room = MAX_LENGTH[protocol] - MINTED_PREFIX.length - 1 - RANDOM_CHARS
  const slug = identitySlug(identity).slice(0, room).replace(/_+$/, '')
  return `${MINTED_PREFIX}${slug}_${randomSuffix()}`
}

/** True for names this scheme produces (the reaper's first filter; the store is the second). */
export function isMintedName(name: string): boolean {
  return /^dbg_[a-z0-9_]*_[a-z2-7]{10}$/.test(name)
}

/** A password of 32 random bytes, base64url (43 characters, no quoting trouble). */
export function mintPassword(): string {
  return randomBytes(32).toString('base64url')
}
