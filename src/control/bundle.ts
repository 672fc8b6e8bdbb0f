/**
 * Signed policy bundles, CLI side: canonical JSON (the exact bytes the control plane signs), and the checks
 * a bundle must pass before its policy is used: a pinned key id, an Ed25519 signature over the canonical
 * payload, the policy version, the expiry, the target and the identity. Anything else is E_BUNDLE_INVALID.
 */
import {createHash, createPublicKey, verify, type KeyObject} from 'node:crypto'

import {canonicalJson} from '../audit/canonical-json.js'
import {DbgateError, ExitCode, messageOf} from '../errors.js'
import {parsePolicy, type Policy} from '../policy/index.js'
import type {BundleKey, BundlePayload, SignedBundle} from './api-types.js'

export {canonicalJson}

/** The public keys a login pinned: kid → Ed25519 JWK. */
export type BundleKeyRing = Readonly<Record<string, BundleKey>>

/** A bundle that must not be used: tampered, signed by an unpinned key, expired, or for someone else. */
export class BundleInvalidError extends DbgateError {
  /** Builds the error; the message says which check failed. */
  constructor(message: string, suggestions: readonly string[] = []) {
    super('E_BUNDLE_INVALID', `The policy bundle from the control plane was refused: ${message}`, {
      exitCode: ExitCode.error,
      suggestions,
    })
    this.name = 'BundleInvalidError'
  }
}

/** `sha256:<hex>` of a policy document's canonical JSON: the bundle's policy_version. */
export function policyVersion(document: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(document), 'utf8').digest('hex')}`
}

/** The bytes an Ed25519 signature covers. */
export function signingInput(payload: BundlePayload): Buffer {
  return Buffer.from(canonicalJson(payload), 'utf8')
}

/** What a bundle must match to be used. */
export interface BundleExpectation {
  /** The keys pinned at login. */
  readonly keys: BundleKeyRing
  readonly target: string
  /** The `sub` of the identity the CLI is logged in as. */
  readonly identity: string
  /** ms since the epoch. */
  readonly now: number
}

/** A bundle that passed every check, with its policy parsed by the policy language. */
export interface VerifiedBundle {
  readonly bundle: SignedBundle
  readonly payload: BundlePayload
  readonly policy: Policy
  /** ms since the epoch. */
  readonly expiresAt: number
}

function publicKeyOf(key: BundleKey): KeyObject {
  try {
    return createPublicKey({key: {kty: key.kty, crv: key.crv, x: key.x}, format: 'jwk'})
  } catch (err) {
    throw new BundleInvalidError(`the pinned key ${key.kid} is not an Ed25519 key (${messageOf(err)})`)
  }
}

function shapeOf(value: unknown): SignedBundle {
  const b = value as Partial<SignedBundle> | null
  const p = b?.payload as Partial<BundlePayload> | undefined
  const ok =
    typeof b?.kid === 'string' &&
    b.alg === 'EdDSA' &&
    typeof b.signature === 'string' &&
    typeof p === 'object' &&
    p !== null &&
    p.v === 1 &&
    typeof p.identity === 'string' &&
    typeof p.target === 'string' &&
    typeof p.policy_version === 'string' &&
    typeof p.expires_at === 'string' &&
    typeof p.policy === 'object' &&
    p.policy !== null
  if (!ok) throw new BundleInvalidError('it is not a dbgate bundle (fields missing or of the wrong type)')
  return b as SignedBundle
}

function checkSignature(bundle: SignedBundle, keys: BundleKeyRing): void {
  const key = Object.hasOwn(keys, bundle.kid) ? keys[bundle.kid] : undefined
  if (key === undefined)
    throw new BundleInvalidError(
      `it is signed with key "${bundle.kid}", which is not the key pinned at login (${Object.keys(keys).join(', ') || 'none'})`,
      [
        'If the control plane rotated its bundle key on purpose, run `dbgate login` again to pin the new one.',
      ],
    )
  const signature = Buffer.from(bundle.signature, 'base64url')
  // Only the one canonical encoding of 64 bytes: base64url's spare bits must not let an altered string pass.
  if (signature.length !== 64 || signature.toString('base64url') !== bundle.signature)
    throw new BundleInvalidError('its signature is not a base64url Ed25519 signature: it was altered')
  let valid: boolean
  try {
    valid = verify(null, signingInput(bundle.payload), publicKeyOf(key), signature)
  } catch {
    valid = false
  }
  if (!valid) throw new BundleInvalidError('its signature does not verify: it was altered after signing')
}

/** Checks a bundle (parsed JSON from the control plane) and returns its policy; throws BundleInvalidError. */
export function verifyBundle(value: unknown, expect: BundleExpectation): VerifiedBundle {
  const bundle = shapeOf(value)
  checkSignature(bundle, expect.keys)
  const p = bundle.payload
  if (policyVersion(p.policy) !== p.policy_version)
    throw new BundleInvalidError('its policy_version is not the hash of its policy')
  const expiresAt = Date.parse(p.expires_at)
  if (!Number.isFinite(expiresAt) || expiresAt <= expect.now)
    throw new BundleInvalidError(`it expired at ${p.expires_at}`, ['Open a new session to get a fresh one.'])
  if (p.target !== expect.target)
    throw new BundleInvalidError(`it is for target "${p.target}", not "${expect.target}"`)
  if (p.identity !== expect.identity)
    throw new BundleInvalidError(`it is for identity "${p.identity}", not "${expect.identity}"`)
  let policy: Policy
  try {
    policy = parsePolicy(JSON.stringify(p.policy))
  } catch (err) {
    throw new BundleInvalidError(`its policy does not follow the policy language: ${messageOf(err)}`)
  }
  return {bundle, payload: p, policy, expiresAt}
}

/** True when a value looks like a bundle-keys document's key (used when pinning). */
export function isBundleKey(value: unknown): value is BundleKey {
  const k = value as Partial<BundleKey> | null
  return (
    typeof k === 'object' &&
    k !== null &&
    k.kty === 'OKP' &&
    k.crv === 'Ed25519' &&
    typeof k.x === 'string' &&
    typeof k.kid === 'string'
  )
}

/** The well-known path of the bundle keys. */
export const BUNDLE_KEYS_PATH = '/.well-known/dbgate-bundle-keys.json'

/** Fetches the control plane's bundle keys (to pin at login); only well-formed Ed25519 keys are kept. */
export async function fetchBundleKeys(client: {get<T>(path: string): Promise<T>}): Promise<BundleKeyRing> {
  const doc = await client.get<{keys?: unknown}>(BUNDLE_KEYS_PATH)
  const keys: Record<string, BundleKey> = {}
  if (typeof doc.keys === 'object' && doc.keys !== null)
    for (const [kid, key] of Object.entries(doc.keys as Record<string, unknown>))
      if (isBundleKey(key) && key.kid === kid) keys[kid] = {...key, alg: 'EdDSA', use: 'sig'}
  if (Object.keys(keys).length === 0)
    throw new BundleInvalidError(`the control plane publishes no bundle key at ${BUNDLE_KEYS_PATH}`)
  return keys
}
