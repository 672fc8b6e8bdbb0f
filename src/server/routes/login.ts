import type {FastifyInstance, FastifyReply} from 'fastify'
import {randomPKCECodeVerifier, randomNonce, randomState} from 'openid-client'

import {CLI_CLIENT_ID} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {randomToken, sha256Hex} from '../crypto.js'
import {messagePage, PAGE_HEADERS} from '../html.js'
import {messageOf} from '../../errors.js'
import type {AuthRequestRecord} from '../store/index.js'
import {AuthorizeQuerySchema} from '../schemas.js'
import {finishPageLogin} from '../approvals/page.js'

/**
 * Browser login: `GET /auth/authorize` (the CLI's request, remembered in the store, the browser sent on to
 * the IdP with the server's own PKCE/state/nonce) and `GET /auth/callback` (the IdP's answer, turned into a
 * one-time code on the CLI's loopback redirect, or into a device approval).
 */

const LOGIN_TTL_MS = 10 * 60_000
const CODE_TTL_MS = 60_000
const PKCE_RE = /^[A-Za-z0-9._~-]{43,128}$/

/** True for http://127.0.0.1:PORT/..., http://localhost:PORT/... and http://[::1]:PORT/... without a fragment. */
export function isLoopbackRedirect(uri: string): boolean {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return false
  }
  return (
    url.protocol === 'http:' &&
    ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) &&
    url.hash === '' &&
    url.username === '' &&
    url.password === ''
  )
}

function redirectWith(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return url.toString()
}

function htmlError(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  return reply
    .code(status)
    .headers(PAGE_HEADERS)
    .send(messagePage(title, message, true))
}

interface AuthorizeQuery {
  response_type?: string
  client_id?: string
  redirect_uri?: string
  code_challenge?: string
  code_challenge_method?: string
  state?: string
  nonce?: string
}

/** Sends the browser to the IdP for a CLI login or a device approval. */
export async function sendToIdp(
  ctx: ServerContext,
  reply: FastifyReply,
  partial: Omit<AuthRequestRecord, 'id' | 'idpCodeVerifier' | 'idpNonce' | 'expiresAt'>,
): Promise<FastifyReply> {
  const checks = {state: randomState(), nonce: randomNonce(), codeVerifier: randomPKCECodeVerifier()}
  const url = await ctx.idp.authorizationUrl(checks)
  await ctx.store.createAuthRequest({
    ...partial,
    id: checks.state,
    idpCodeVerifier: checks.codeVerifier,
    idpNonce: checks.nonce,
    expiresAt: ctx.now() + LOGIN_TTL_MS,
  })
  return reply.redirect(url, 302)
}

/** Registers /auth/authorize and /auth/callback. */
export function loginRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.get<{Querystring: AuthorizeQuery}>(
      '/auth/authorize',
      {
        schema: {
          tags: ['auth'],
          summary: 'Start a browser login (authorization code + PKCE)',
          querystring: AuthorizeQuerySchema,
        },
        config: {html: true},
      },
      async (request, reply) => {
        const q = request.query
        if (q.client_id !== CLI_CLIENT_ID)
          return htmlError(
            reply,
            400,
            'Login failed',
            `Unknown client_id; dbgate's CLI uses ${CLI_CLIENT_ID}.`,
          )
        if (q.redirect_uri === undefined || !isLoopbackRedirect(q.redirect_uri))
          return htmlError(
            reply,
            400,
            'Login failed',
            'redirect_uri must be a loopback URL such as http://127.0.0.1:PORT/callback.',
          )
        const fail = (error: string, description: string): FastifyReply =>
          reply.redirect(
            redirectWith(q.redirect_uri as string, {error, error_description: description, state: q.state}),
            302,
          )
        if (q.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code')
        if (
          q.code_challenge_method !== 'S256' ||
          q.code_challenge === undefined ||
          !PKCE_RE.test(q.code_challenge)
        )
          return fail('invalid_request', 'PKCE with code_challenge_method=S256 is required')
        if (!q.state) return fail('invalid_request', 'state is required')
        return sendToIdp(ctx, reply, {
          kind: 'cli',
          cliRedirectUri: q.redirect_uri,
          cliState: q.state,
          cliCodeChallenge: q.code_challenge,
          cliNonce: q.nonce ?? null,
          deviceId: null,
        })
      },
    )

    app.get<{Querystring: Record<string, string>}>(
      '/auth/callback',
      {
        schema: {tags: ['auth'], summary: "The identity provider's redirect back to the control plane"},
        config: {html: true},
      },
      async (request, reply) => {
        const q = request.query
        const pending = q.state ? await ctx.store.takeAuthRequest(q.state, ctx.now()) : undefined
        if (!pending)
          return htmlError(
            reply,
            400,
            'Login failed',
            'This login has expired or was already completed. Start again from your terminal.',
          )
        let identity
        let failure: string | undefined
        if (q.error !== undefined) failure = q.error_description ?? q.error
        else {
          try {
            const current = new URL(
              `${ctx.publicUrl()}/auth/callback${request.url.slice(request.url.indexOf('?'))}`,
            )
            identity = await ctx.idp.finish(current, {
              state: pending.id,
              nonce: pending.idpNonce,
              codeVerifier: pending.idpCodeVerifier,
            })
          } catch (err) {
            failure = messageOf(err)
            request.log.warn({err}, 'identity provider callback failed')
          }
        }
        if (pending.kind === 'page')
          return finishPageLogin(ctx, reply, pending.cliRedirectUri, identity, failure)
        if (pending.kind === 'device') {
          const deviceId = pending.deviceId ?? ''
          if (!identity) {
            await ctx.store.decideDevice(deviceId, 'denied', null)
            return htmlError(
              reply,
              403,
              'Device not approved',
              `Sign-in failed (${failure ?? 'unknown error'}); the device was denied.`,
            )
          }
          if (!(await ctx.store.decideDevice(deviceId, 'approved', identity)))
            return htmlError(
              reply,
              400,
              'Device not approved',
              'This device code has expired or was already used.',
            )
          return reply
            .headers(PAGE_HEADERS)
            .send(messagePage('Device approved', 'Device approved. You can return to your terminal.'))
        }
        const redirectUri = pending.cliRedirectUri ?? ''
        const state = pending.cliState ?? undefined
        if (!identity)
          return reply.redirect(
            redirectWith(redirectUri, {error: 'access_denied', error_description: failure, state}),
            302,
          )
        const code = randomToken(32)
        await ctx.store.createAuthCode({
          codeHash: sha256Hex(code),
          identity,
          redirectUri,
          codeChallenge: pending.cliCodeChallenge ?? '',
          nonce: pending.cliNonce,
          expiresAt: ctx.now() + CODE_TTL_MS,
          usedAt: null,
        })
        return reply.redirect(redirectWith(redirectUri, {code, state}), 302)
      },
    )
    done()
  }
}
