import {randomUUID} from 'node:crypto'

import {errors as joseErrors, jwtVerify, SignJWT, type JWTPayload} from 'jose'

import {CLI_CLIENT_ID, type Identity, type IdentityKind, type Role} from '../control/api-types.js'
import type {SigningKeys} from './keys.js'

/**
 * The control plane's own tokens. Access tokens are JWTs (RFC 9068 `typ: at+jwt`, audience `dbgate-api`)
 * naming the session (`sid`) or machine token (`mtid`) they came from, so revoking either kills them at
 * once. id tokens (`typ: JWT`, audience dbgate-cli) carry the CLI's nonce; the two never verify as each other.
 */

/** The audience of access tokens. */
export const ACCESS_AUDIENCE = 'dbgate-api'
const ACCESS_TYP = 'at+jwt'

/** Who acts: a person, a CI job (machine token), or later an agent for a person. */
export type Actor = 'human' | 'ci' | 'agent'

/** What an access token says about its bearer. */
export interface AccessClaims extends Identity {
  actor: Actor
  /** Login session (refresh family) id, for people. */
  sid?: string
  /** Machine token id, for services. */
  mtid?: string
  /** Expiry, epoch seconds. */
  exp: number
}

/** Why a bearer token was refused. */
export type TokenProblem = 'malformed' | 'expired' | 'invalid'

/** A token that did not verify. */
export class TokenRejected extends Error {
  /** Builds the error with the reason. */
  constructor(readonly problem: TokenProblem) {
    super(problem === 'expired' ? 'the access token has expired' : 'the access token is not valid')
    this.name = 'TokenRejected'
  }
}

/** Signs and verifies the control plane's tokens. */
export class TokenIssuer {
  /** Creates the issuer for `issuer` (the public URL). */
  constructor(
    private readonly keys: SigningKeys,
    private readonly issuer: () => string,
  ) {}

  /** Signs an access token valid for `ttl` seconds. */
  async accessToken(
    identity: Identity,
    link: {actor: Actor; sid?: string; mtid?: string},
    ttl: number,
    now: number,
  ): Promise<{token: string; expiresAt: number}> {
    const {kid, key} = await this.keys.current(now)
    const iat = Math.floor(now / 1000)
    const payload: JWTPayload = {
      name: identity.name,
      ...(identity.email === undefined ? {} : {email: identity.email}),
      kind: identity.kind,
      groups: identity.groups,
      roles: identity.roles,
      actor: link.actor,
      client_id: CLI_CLIENT_ID,
      ...(link.sid === undefined ? {} : {sid: link.sid}),
      ...(link.mtid === undefined ? {} : {mtid: link.mtid}),
    }
    const token = await new SignJWT(payload)
      .setProtectedHeader({alg: 'EdDSA', kid, typ: ACCESS_TYP})
      .setIssuer(this.issuer())
      .setAudience(ACCESS_AUDIENCE)
      .setSubject(identity.sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomUUID())
      .sign(key)
    return {token, expiresAt: (iat + ttl) * 1000}
  }

  /** Signs the OpenID id token for the CLI, carrying its nonce. */
  async idToken(identity: Identity, nonce: string | null, ttl: number, now: number): Promise<string> {
    const {kid, key} = await this.keys.current(now)
    const iat = Math.floor(now / 1000)
    return new SignJWT({
      name: identity.name,
      ...(identity.email === undefined ? {} : {email: identity.email}),
      groups: identity.groups,
      roles: identity.roles,
      ...(nonce === null ? {} : {nonce}),
      auth_time: iat,
    })
      .setProtectedHeader({alg: 'EdDSA', kid, typ: 'JWT'})
      .setIssuer(this.issuer())
      .setAudience(CLI_CLIENT_ID)
      .setSubject(identity.sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .sign(key)
  }

  /** Verifies an access token's signature, issuer, audience, type and expiry. */
  async verifyAccessToken(token: string, now: number): Promise<AccessClaims> {
    if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new TokenRejected('malformed')
    let payload: JWTPayload
    try {
      ;({payload} = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid === undefined ? undefined : await this.keys.publicKey(header.kid, now)
          if (!key) throw new TokenRejected('invalid')
          return key
        },
        {
          issuer: this.issuer(),
          audience: ACCESS_AUDIENCE,
          typ: ACCESS_TYP,
          algorithms: ['EdDSA'],
          currentDate: new Date(now),
        },
      ))
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenRejected('expired')
      if (err instanceof TokenRejected) throw err
      throw new TokenRejected(err instanceof joseErrors.JWSInvalid ? 'malformed' : 'invalid')
    }
    return claimsFrom(payload)
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

function claimsFrom(p: JWTPayload): AccessClaims {
  const kind: IdentityKind = p.kind === 'service' ? 'service' : 'user'
  const actor: Actor = p.actor === 'ci' ? 'ci' : p.actor === 'agent' ? 'agent' : 'human'
  if (typeof p.sub !== 'string' || typeof p.exp !== 'number') throw new TokenRejected('invalid')
  return {
    sub: p.sub,
    name: typeof p.name === 'string' ? p.name : p.sub,
    ...(typeof p.email === 'string' ? {email: p.email} : {}),
    kind,
    groups: strings(p.groups),
    roles: strings(p.roles) as Role[],
    actor,
    ...(typeof p.sid === 'string' ? {sid: p.sid} : {}),
    ...(typeof p.mtid === 'string' ? {mtid: p.mtid} : {}),
    exp: p.exp,
  }
}
