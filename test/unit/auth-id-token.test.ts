import {exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet} from 'jose'
import {beforeAll, describe, expect, it} from 'vitest'

import {verifyIdToken} from '../../src/auth/id-token.js'

const issuer = 'http://127.0.0.1:7000'
let jwks: JSONWebKeySet
let sign: (
  claims: Record<string, unknown>,
  opts?: {alg?: string; key?: CryptoKey; aud?: string; iss?: string},
) => Promise<string>
let otherKey: CryptoKey

beforeAll(async () => {
  const {privateKey, publicKey} = await generateKeyPair('ES256')
  otherKey = (await generateKeyPair('ES256')).privateKey
  jwks = {keys: [{...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig'}]}
  sign = (claims, opts = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({alg: opts.alg ?? 'ES256', kid: 'k1'})
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? 'dbgate-cli')
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(opts.key ?? privateKey)
})

describe('id_token verification', () => {
  it('accepts a token signed by the JWKS for the CLI with our nonce', async () => {
    const token = await sign({nonce: 'n-1'})
    await expect(verifyIdToken(token, jwks, {issuer, nonce: 'n-1'})).resolves.toMatchObject({sub: 'alice'})
  })

  it.each([
    ['another nonce', async () => sign({nonce: 'n-2'}), /nonce/],
    ['no nonce', async () => sign({}), /nonce/],
    ['another audience', async () => sign({nonce: 'n-1'}, {aud: 'someone-else'}), /aud/],
    ['another issuer', async () => sign({nonce: 'n-1'}, {iss: 'https://evil.example'}), /iss/],
    ['a key outside the JWKS', async () => sign({nonce: 'n-1'}, {key: otherKey}), /signature/],
  ])('refuses a token with %s', async (_why, make, reason) => {
    const token = await make()
    await expect(verifyIdToken(token, jwks, {issuer, nonce: 'n-1'})).rejects.toMatchObject({
      code: 'E_ID_TOKEN_INVALID',
      message: expect.stringMatching(reason),
    })
  })

  it('refuses an unsigned token (alg none) and an HMAC token', async () => {
    const body = Buffer.from(
      JSON.stringify({iss: issuer, aud: 'dbgate-cli', sub: 'mallory', nonce: 'n-1'}),
    ).toString('base64url')
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`
    await expect(verifyIdToken(none, jwks, {issuer, nonce: 'n-1'})).rejects.toMatchObject({
      code: 'E_ID_TOKEN_INVALID',
    })
    const hmac = await new SignJWT({nonce: 'n-1'})
      .setProtectedHeader({alg: 'HS256', kid: 'k1'})
      .setIssuer(issuer)
      .setAudience('dbgate-cli')
      .sign(new TextEncoder().encode('x'.repeat(32)))
    await expect(verifyIdToken(hmac, jwks, {issuer, nonce: 'n-1'})).rejects.toMatchObject({
      code: 'E_ID_TOKEN_INVALID',
    })
  })

  it('refuses a malformed token', async () => {
    await expect(verifyIdToken('not.a.jwt', jwks, {issuer, nonce: undefined})).rejects.toMatchObject({
      code: 'E_ID_TOKEN_INVALID',
    })
  })
})
