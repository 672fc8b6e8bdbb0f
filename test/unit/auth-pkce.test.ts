import {describe, expect, it} from 'vitest'

import {codeChallengeS256, createCodeVerifier, createLoginSecrets, sameSecret} from '../../src/auth/pkce.js'

describe('PKCE S256', () => {
  it('matches the RFC 7636 appendix B test vector', () => {
    expect(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    )
  })

  it('draws verifiers of 43 unreserved characters, different every time', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const v = createCodeVerifier()
      expect(v).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/)
      seen.add(v)
    }
    expect(seen.size).toBe(200)
  })

  it.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['outside the alphabet', `${'a'.repeat(42)}+`],
  ])('refuses a verifier %s', (_why, verifier) => {
    expect(() => codeChallengeS256(verifier)).toThrow(/43-128/)
  })

  it('accepts the longest verifier RFC 7636 allows', () => {
    expect(codeChallengeS256('~'.repeat(128))).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})

describe('login secrets', () => {
  it('gives each login its own state and nonce, and a challenge of its verifier', () => {
    const a = createLoginSecrets()
    const b = createLoginSecrets()
    expect(a.codeChallenge).toBe(codeChallengeS256(a.codeVerifier))
    expect(new Set([a.state, a.nonce, b.state, b.nonce, a.codeVerifier]).size).toBe(5)
    expect(a.state.length).toBeGreaterThanOrEqual(43)
    expect(a.nonce.length).toBeGreaterThanOrEqual(43)
  })

  it.each([
    ['the same value', 'abc', 'abc', true],
    ['a different value', 'abc', 'abd', false],
    ['a prefix', 'abc', 'ab', false],
    ['a missing value', 'abc', null, false],
    ['an empty value', 'abc', '', false],
  ])('compares a secret with %s', (_why, expected, actual, same) => {
    expect(sameSecret(expected, actual)).toBe(same)
  })
})
