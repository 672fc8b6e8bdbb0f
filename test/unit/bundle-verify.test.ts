import {generateKeyPairSync, sign, type KeyObject} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import type {BundleKey, BundlePayload, SignedBundle} from '../../src/control/api-types.js'
import {
  BundleInvalidError,
  canonicalJson,
  policyVersion,
  signingInput,
  verifyBundle,
  type BundleKeyRing,
} from '../../src/control/bundle.js'

// What the CLI accepts as a policy bundle: exactly what the pinned key signed, for this target and identity,
// before it expires. Everything else is E_BUNDLE_INVALID with a message saying which check failed.

const NOW = Date.parse('2030-01-01T00:00:00Z')

function keyPair(kid: string): {ring: BundleKeyRing; priv: KeyObject} {
  const {publicKey, privateKey} = generateKeyPairSync('ed25519')
  const jwk = publicKey.export({format: 'jwk'})
  const key: BundleKey = {kty: 'OKP', crv: 'Ed25519', x: String(jwk.x), kid, alg: 'EdDSA', use: 'sig'}
  return {ring: {[kid]: key}, priv: privateKey}
}

const pinned = keyPair('bundle-a')
const other = keyPair('bundle-b')

const POLICY = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [{name: 'no-ddl', when: {kinds: ['drop', 'truncate']}, action: 'deny', message: 'Use migrations.'}],
}

function payload(over: Partial<BundlePayload> = {}): BundlePayload {
  return {
    v: 1,
    iss: 'http://127.0.0.1:8787',
    identity: 'alice',
    groups: ['eng'],
    actor: 'human',
    agent: null,
    target: 'prod-pg',
    policy_name: 'eng',
    policy_version: policyVersion(POLICY),
    policy: POLICY,
    issued_at: new Date(NOW - 60_000).toISOString(),
    expires_at: new Date(NOW + 3_600_000).toISOString(),
    ...over,
  }
}

function signed(p: BundlePayload, priv: KeyObject = pinned.priv, kid = 'bundle-a'): SignedBundle {
  return {kid, alg: 'EdDSA', payload: p, signature: sign(null, signingInput(p), priv).toString('base64url')}
}

const expectation = {keys: pinned.ring, target: 'prod-pg', identity: 'alice', now: NOW}

function refusal(value: unknown, over: Partial<typeof expectation> = {}): string {
  try {
    verifyBundle(value, {...expectation, ...over})
  } catch (err) {
    expect(err).toBeInstanceOf(BundleInvalidError)
    expect((err as BundleInvalidError).code).toBe('E_BUNDLE_INVALID')
    return (err as Error).message
  }
  throw new Error('the bundle was accepted')
}

describe('canonicalJson', () => {
  it.each([
    [{b: 1, a: [true, null, 'x']}, '{"a":[true,null,"x"],"b":1}'],
    [{z: {y: 2, x: 1}, a: 'é"\n'}, '{"a":"é\\"\\n","z":{"x":1,"y":2}}'],
    [{keep: 1, drop: undefined}, '{"keep":1}'],
    [[], '[]'],
    [{}, '{}'],
  ])('%j → %s', (value, text) => expect(canonicalJson(value)).toBe(text))

  it('does not depend on key order', () => {
    expect(canonicalJson({a: 1, b: {c: 2, d: 3}})).toBe(canonicalJson({b: {d: 3, c: 2}, a: 1}))
  })

  it.each([NaN, Infinity, 10n, () => 1, Symbol('x')])('refuses %s', (bad) =>
    expect(() => canonicalJson({bad})).toThrow(TypeError),
  )
})

describe('verifyBundle', () => {
  it('accepts a bundle the pinned key signed and returns its parsed policy', () => {
    const ok = verifyBundle(signed(payload()), expectation)
    expect(ok.payload.policy_name).toBe('eng')
    expect(ok.policy.defaults).toEqual({action: 'allow', unparseable: 'deny'})
    expect(ok.policy.rules.map((r) => r.name)).toEqual(['no-ddl'])
    expect(ok.expiresAt).toBe(NOW + 3_600_000)
  })

  it('accepts it after a JSON round trip with keys in another order', () => {
    const b = signed(payload())
    const reordered = JSON.parse(
      JSON.stringify({signature: b.signature, payload: b.payload, alg: b.alg, kid: b.kid}),
    )
    expect(verifyBundle(reordered, expectation).payload.identity).toBe('alice')
  })

  it('refuses every bundle with one byte changed, wherever the byte is', () => {
    const text = JSON.stringify(signed(payload()))
    let refused = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      const altered = text.slice(0, i) + String.fromCharCode(c === 0x7a ? 0x79 : c + 1) + text.slice(i + 1)
      let value: unknown
      try {
        value = JSON.parse(altered)
      } catch {
        refused++
        continue // not even JSON: the client refuses it before verification
      }
      expect(refusal(value)).toMatch(/refused/)
      refused++
    }
    expect(refused).toBe(text.length)
  })

  it('names the check that failed', () => {
    const b = signed(payload())
    expect(refusal({...b, payload: {...b.payload, groups: ['eng', 'dba']}})).toMatch(
      /signature does not verify/,
    )
    expect(refusal(signed(payload(), other.priv))).toMatch(/signature does not verify/)
    expect(refusal(signed(payload(), other.priv, 'bundle-b'))).toMatch(
      /key "bundle-b", which is not the key pinned/,
    )
    expect(refusal(signed(payload({expires_at: new Date(NOW - 1).toISOString()})))).toMatch(/expired at/)
    expect(refusal(signed(payload({target: 'other-pg'})))).toMatch(/for target "other-pg", not "prod-pg"/)
    expect(refusal(signed(payload({identity: 'bob'})))).toMatch(/for identity "bob", not "alice"/)
    expect(refusal(signed(payload({policy_version: 'sha256:00'})))).toMatch(/policy_version is not the hash/)
    const badPolicy = {version: 1, defaults: {action: 'maybe'}}
    expect(refusal(signed(payload({policy: badPolicy, policy_version: policyVersion(badPolicy)})))).toMatch(
      /does not follow the policy language/,
    )
    expect(refusal(b, {keys: {}})).toMatch(/pinned at login \(none\)/)
  })

  it.each([
    ['null', null],
    ['a string', 'bundle'],
    ['an empty object', {}],
    ['no payload', {kid: 'bundle-a', alg: 'EdDSA', signature: 'x'}],
    ['another algorithm', {...signed(payload()), alg: 'RS256'}],
    ['a payload of the wrong version', signed({...payload(), v: 2} as unknown as BundlePayload)],
    ['a non-base64 signature', {...signed(payload()), signature: '!!!'}],
    ['a short signature', {...signed(payload()), signature: 'AAAA'}],
    ['a kid like __proto__', {...signed(payload()), kid: '__proto__'}],
  ])('refuses %s', (_what, value) => expect(refusal(value)).toMatch(/refused/))
})
