import type {FastifyReply, FastifyRequest} from 'fastify'

import type {Role} from '../control/api-types.js'
import type {ServerContext} from './context.js'
import {forbidden, unauthorized} from './http-errors.js'
import {hasAnyRole} from './roles.js'
import {TokenRejected, type AccessClaims} from './tokens.js'

/**
 * Authentication and roles for /api/*: a Bearer access token that verifies, whose session or machine token
 * is still live, and (per route group) one of the required roles. Runs as an onRequest hook, so an
 * unauthenticated request is refused before its body is even read.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by the guard on every /api route. */
    caller?: AccessClaims
  }
}

/** Verifies the request's bearer token and that what it came from is still live. */
export async function authenticate(ctx: ServerContext, request: FastifyRequest): Promise<AccessClaims> {
  const header = request.headers.authorization
  if (header === undefined || header === '')
    throw unauthorized('missing bearer token (Authorization: Bearer ...)')
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!m?.[1]) throw unauthorized('malformed Authorization header; expected "Bearer <token>"')
  const now = ctx.now()
  let claims: AccessClaims
  try {
    claims = await ctx.tokens.verifyAccessToken(m[1], now)
  } catch (err) {
    if (err instanceof TokenRejected) throw unauthorized(err.message)
    throw err
  }
  if (claims.sid !== undefined) {
    const session = await ctx.store.getSession(claims.sid)
    if (!session || session.revokedAt !== null) throw unauthorized('the session was revoked; log in again')
    if (session.expiresAt <= now) throw unauthorized('the session has expired; log in again')
  } else if (claims.mtid !== undefined) {
    const token = await ctx.store.getMachineToken(claims.mtid)
    if (!token || token.revokedAt !== null) throw unauthorized('the machine token was revoked')
    if (token.expiresAt !== null && token.expiresAt <= now)
      throw unauthorized('the machine token has expired')
  } else {
    throw unauthorized('the access token names no session')
  }
  return claims
}

/** An onRequest hook that authenticates and, when roles are given, requires one of them. */
export function guard(ctx: ServerContext, roles: readonly Role[] = []) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const claims = await authenticate(ctx, request)
    if (roles.length > 0 && !hasAnyRole(claims.roles, roles))
      throw forbidden(
        `this needs the ${roles.join(' or ')} role; you have ${claims.roles.join(', ') || 'none'}`,
      )
    request.caller = claims
  }
}

/** The authenticated caller of a guarded route. */
export function callerOf(request: FastifyRequest): AccessClaims {
  if (!request.caller) throw unauthorized('not authenticated')
  return request.caller
}

/** A user may read their own records; reading another's needs auditor or admin. */
export function requireSelfOrAuditor(caller: AccessClaims, ownerSub: string): void {
  if (caller.sub !== ownerSub && !hasAnyRole(caller.roles, ['auditor', 'admin']))
    throw forbidden("reading another identity's data needs the auditor or admin role")
}
