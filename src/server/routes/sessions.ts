import type {FastifyInstance} from 'fastify'

import type {
  BundleResponse,
  CreateSessionRequest,
  EndSessionResponse,
  RenewSessionResponse,
  SessionActor,
  SessionResponse,
} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {renewAfter} from '../credentials/service.js'
import {callerOf, guard} from '../guard.js'
import {ApiErrorSchema} from '../schemas.js'
import {sessionTarget} from '../targets.js'
import type {AccessClaims} from '../tokens.js'
import {
  BundleQuerySchema,
  BundleResponseSchema,
  CreateSessionSchema,
  EndSessionSchema,
  RenewSessionSchema,
  SessionParamsSchema,
  SessionResponseSchema,
} from './session-schemas.js'

const errors = {
  400: ApiErrorSchema,
  401: ApiErrorSchema,
  403: ApiErrorSchema,
  404: ApiErrorSchema,
  409: ApiErrorSchema,
  503: ApiErrorSchema,
}
const security = [{bearer: []}]
const tags = ['sessions']

/** Machine tokens always act as `ci`; a person acts as `human` unless they say they run an agent. */
export function sessionActor(
  caller: AccessClaims,
  asked: {actor?: 'human' | 'agent' | undefined; agent?: string | undefined},
): {actor: SessionActor; agent: string | null} {
  if (caller.actor === 'ci' || caller.kind === 'service') return {actor: 'ci', agent: null}
  const actor = asked.actor ?? (asked.agent === undefined ? 'human' : 'agent')
  return actor === 'agent' ? {actor, agent: asked.agent ?? 'unnamed'} : {actor, agent: null}
}

/** `/api/v1/sessions` (open, renew, end) and `/api/v1/bundle`: any authenticated identity. */
export function sessionRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.addHook('onRequest', guard(ctx))

    app.post<{Body: CreateSessionRequest}>(
      '/api/v1/sessions',
      {
        schema: {
          tags,
          summary: 'Open a session: mint a short-lived database user and sign the policy bundle',
          security,
          body: CreateSessionSchema,
          response: {201: SessionResponseSchema, ...errors},
        },
      },
      async (request, reply): Promise<SessionResponse> => {
        const caller = callerOf(request)
        const target = await ctx.credentials.allowedTarget(caller, request.body.target)
        const {actor, agent} = sessionActor(caller, request.body)
        // The bundle first: no policy, no user minted.
        const subject = {sub: caller.sub, groups: caller.groups, actor, agent, target: target.name}
        const bundle = ctx.bundles.issue(subject, ctx.now())
        const opened = await ctx.credentials.open(caller, target, actor, agent)
        void reply.code(201).header('cache-control', 'no-store')
        return {
          session_id: opened.record.id,
          target: sessionTarget(opened.target),
          credentials: {
            user: opened.record.dbUser,
            password: opened.password,
            expires_at: new Date(opened.record.expiresAt).toISOString(),
          },
          bundle,
          renew_after_seconds: renewAfter(opened.ttlSeconds),
        }
      },
    )

    app.post<{Params: {id: string}}>(
      '/api/v1/sessions/:id/renew',
      {
        schema: {
          tags,
          summary: "Extend a session's credentials (owner or admin) and get a fresh bundle",
          security,
          params: SessionParamsSchema,
          response: {200: RenewSessionSchema, ...errors},
        },
      },
      async (request): Promise<RenewSessionResponse> => {
        const caller = callerOf(request)
        const {record, ttlSeconds} = await ctx.credentials.renew(caller, request.params.id)
        const subject = {
          sub: record.ownerSub,
          groups: record.identity.groups,
          actor: record.actor,
          agent: record.agent,
          target: record.target,
        }
        return {
          session_id: record.id,
          expires_at: new Date(record.expiresAt).toISOString(),
          bundle: ctx.bundles.issue(subject, ctx.now()),
          renew_after_seconds: renewAfter(ttlSeconds),
        }
      },
    )

    app.delete<{Params: {id: string}}>(
      '/api/v1/sessions/:id',
      {
        schema: {
          tags,
          summary: 'End a session: its database user is revoked now (owner or admin)',
          security,
          params: SessionParamsSchema,
          response: {200: EndSessionSchema, ...errors},
        },
      },
      async (request): Promise<EndSessionResponse> => ({
        revoked: await ctx.credentials.end(callerOf(request), request.params.id),
      }),
    )

    app.get<{Querystring: {target: string; actor?: 'human' | 'agent'; agent?: string}}>(
      '/api/v1/bundle',
      {
        schema: {
          tags,
          summary: 'The signed policy bundle the caller would get for a target (dbgate policy test --target)',
          security,
          querystring: BundleQuerySchema,
          response: {200: BundleResponseSchema, ...errors},
        },
      },
      async (request): Promise<BundleResponse> => {
        const caller = callerOf(request)
        const target = await ctx.credentials.allowedTarget(caller, request.query.target)
        const {actor, agent} = sessionActor(caller, request.query)
        const subject = {sub: caller.sub, groups: caller.groups, actor, agent, target: target.name}
        return {bundle: ctx.bundles.issue(subject, ctx.now())}
      },
    )
    done()
  }
}
