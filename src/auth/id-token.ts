/**
 * Checks the id_token of a login: signed by one of the control plane's JWKS keys (asymmetric algorithms
 * only), issued by its issuer, for the CLI, and carrying the nonce this login drew.
 */
import {createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload} from 'jose'

import {CLI_CLIENT_ID} from '../control/api-types.js'
import type {ControlClient} from '../control/client.js'
import {BadResponseError} from '../control/errors.js'
import {LoginError} from './loopback.js'
import {sameSecret} from './pkce.js'

/** Algorithms we accept: never `none`, never HMAC (a shared secret the CLI does not have). */
const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]

/** What to check an id_token against. */
export interface IdTokenExpectations {
  readonly issuer: string
  /** The nonce sent with the authorization request; undefined for grants without one (device flow). */
  readonly nonce: string | undefined
}

/** Fetches the control plane's JWKS through the client, so network errors map like every other call. */
export async function fetchJwks(client: ControlClient, jwksUri: string): Promise<JSONWebKeySet> {
  const jwks = await client.get<Partial<JSONWebKeySet>>(jwksUri)
  if (!Array.isArray(jwks.keys)) throw new BadResponseError(`${jwksUri} is not a JSON Web Key Set.`)
  return jwks as JSONWebKeySet
}

/** Verifies an id_token against a key set; throws LoginError (never a jose error) when it does not hold. */
export async function verifyIdToken(
  idToken: string,
  jwks: JSONWebKeySet,
  expect: IdTokenExpectations,
): Promise<JWTPayload> {
  let payload: JWTPayload
  try {
    const verified = await jwtVerify(idToken, createLocalJWKSet(jwks), {
      issuer: expect.issuer,
      audience: CLI_CLIENT_ID,
      algorithms: ALGORITHMS,
      clockTolerance: 60,
    })
    payload = verified.payload
  } catch (err) {
    const why = err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err)
    throw new LoginError('E_ID_TOKEN_INVALID', `The control plane's id_token failed verification (${why}).`)
  }
  if (expect.nonce !== undefined) {
    const nonce = typeof payload.nonce === 'string' ? payload.nonce : undefined
    if (!sameSecret(expect.nonce, nonce)) {
      throw new LoginError(
        'E_ID_TOKEN_INVALID',
        'The id_token does not carry the nonce of this login (replayed?).',
      )
    }
  }
  return payload
}
