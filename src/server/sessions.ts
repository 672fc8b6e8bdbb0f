import {randomUUID} from 'node:crypto'

import {CLI_CLIENT_ID, type Identity, type TokenResponse} from '../control/api-types.js'
import type {ServerContext} from './context.js'
import {pkceChallenge, randomToken, safeEqual, sha256Hex} from './crypto.js'
import {OAuthError} from './http-errors.js'
import {checkMachineToken} from './machine-tokens.js'
import {rolesFor} from './roles.js'
import type {StoredIdentity} from './store/index.js'

/**
 * The token grants behind `POST /auth/token`: each ends in a token response. People get a session (a
 * refresh-token family, rotated on every use); services get an access token only.
 */

const REFRESH_PREFIX = 'dbg_rt_'

/** Adds the roles the config maps from the identity's groups. */
export function withRoles(ctx: ServerContext, identity: StoredIdentity): Identity {
  return {...identity, groups: [...identity.groups], roles: rolesFor(identity.groups, ctx.config.roles)}
}

/** Starts a session for a person and returns the token response (with an id token when `nonce` is given). */
export async function startSession(
  ctx: ServerContext,
  stored: StoredIdentity,
  idToken: {nonce: string | null} | undefined,
): Promise<TokenResponse> {
  const now = ctx.now()
  const t = ctx.config.tokens
  const identity = withRoles(ctx, stored)
  const sessionId = randomUUID()
  const sessionExpires = now + t.session_max_age * 1000
  const refresh = `${REFRESH_PREFIX}${randomToken(32)}`
  await ctx.store.createSession(
    {id: sessionId, identity: stored, createdAt: now, expiresAt: sessionExpires, revokedAt: null},
    {
      tokenHash: sha256Hex(refresh),
      sessionId,
      createdAt: now,
      expiresAt: Math.min(now + t.refresh_ttl * 1000, sessionExpires),
      usedAt: null,
    },
  )
  const access = await ctx.tokens.accessToken(identity, {actor: 'human', sid: sessionId}, t.access_ttl, now)
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: t.access_ttl,
    refresh_token: refresh,
    ...(idToken ? {id_token: await ctx.tokens.idToken(identity, idToken.nonce, t.access_ttl, now)} : {}),
    identity,
  }
}

/** The authorization_code grant: one-use code, redirect_uri match, PKCE S256. */
export async function authorizationCodeGrant(
  ctx: ServerContext,
  p: {code?: string; code_verifier?: string; redirect_uri?: string; client_id?: string},
): Promise<TokenResponse> {
  if (p.client_id !== CLI_CLIENT_ID)
    throw new OAuthError('invalid_client', `unknown client_id; use ${CLI_CLIENT_ID}`, 401)
  if (!p.code || !p.code_verifier || !p.redirect_uri)
    throw new OAuthError('invalid_request', 'code, code_verifier and redirect_uri are required')
  const code = await ctx.store.consumeAuthCode(sha256Hex(p.code), ctx.now())
  if (!code) throw new OAuthError('invalid_grant', 'the code is unknown, expired or already used')
  if (code.redirectUri !== p.redirect_uri)
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request')
  if (!safeEqual(pkceChallenge(p.code_verifier), code.codeChallenge))
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge')
  return startSession(ctx, code.identity, {nonce: code.nonce})
}

/** The refresh_token grant: rotation, and reuse detection that revokes the whole session. */
export async function refreshTokenGrant(
  ctx: ServerContext,
  p: {refresh_token?: string; client_id?: string},
): Promise<TokenResponse> {
  if (p.client_id !== undefined && p.client_id !== CLI_CLIENT_ID)
    throw new OAuthError('invalid_client', `unknown client_id; use ${CLI_CLIENT_ID}`, 401)
  if (!p.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required')
  const now = ctx.now()
  const t = ctx.config.tokens
  const next = `${REFRESH_PREFIX}${randomToken(32)}`
  const outcome = await ctx.store.rotateRefreshToken(
    sha256Hex(p.refresh_token),
    {tokenHash: sha256Hex(next), createdAt: now, expiresAt: now + t.refresh_ttl * 1000, usedAt: null},
    now,
  )
  switch (outcome.kind) {
    case 'invalid':
      throw new OAuthError('invalid_grant', 'the refresh token is unknown, expired or revoked; log in again')
    case 'reused':
      throw new OAuthError(
        'invalid_grant',
        'the refresh token was already used; the session has been revoked',
      )
    case 'rotated': {
      const identity = withRoles(ctx, outcome.session.identity)
      const ttl = Math.max(1, Math.min(t.access_ttl, Math.floor((outcome.session.expiresAt - now) / 1000)))
      const access = await ctx.tokens.accessToken(
        identity,
        {actor: 'human', sid: outcome.session.id},
        ttl,
        now,
      )
      return {
        access_token: access.token,
        token_type: 'Bearer',
        expires_in: ttl,
        refresh_token: next,
        identity,
      }
    }
  }
}

/** The machine-token grant: a service identity, no refresh token. */
export async function machineTokenGrant(
  ctx: ServerContext,
  p: {machine_token?: string},
): Promise<TokenResponse> {
  if (!p.machine_token) throw new OAuthError('invalid_request', 'machine_token is required')
  const now = ctx.now()
  const found = await checkMachineToken(ctx.store, p.machine_token, now)
  if (typeof found === 'string') {
    const why = {unknown: 'is not valid', revoked: 'was revoked', expired: 'has expired'}[found]
    throw new OAuthError('invalid_grant', `the machine token ${why}`)
  }
  await ctx.store.touchMachineToken(found.id, now)
  const identity = withRoles(ctx, {
    sub: `service:${found.name}`,
    name: found.name,
    kind: 'service',
    groups: found.groups,
  })
  const left = found.expiresAt === null ? Infinity : Math.floor((found.expiresAt - now) / 1000)
  const ttl = Math.max(1, Math.min(ctx.config.tokens.access_ttl, left))
  const access = await ctx.tokens.accessToken(identity, {actor: 'ci', mtid: found.id}, ttl, now)
  return {access_token: access.token, token_type: 'Bearer', expires_in: ttl, identity}
}

/** Revokes the session of a refresh token (logout). Unknown tokens are ignored (RFC 7009). */
export async function revokeRefreshToken(ctx: ServerContext, token: string): Promise<void> {
  await ctx.store.revokeSessionByRefreshHash(sha256Hex(token), ctx.now())
}
