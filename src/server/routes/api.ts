import type {FastifyInstance} from 'fastify'

import type {MeResponse, TargetsResponse} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {callerOf, guard} from '../guard.js'
import {ApiErrorSchema, MeSchema, TargetsSchema} from '../schemas.js'
import {reachableTargets} from '../targets.js'

const errors = {401: ApiErrorSchema, 403: ApiErrorSchema}
const security = [{bearer: []}]

/** `/api/v1/me` and `/api/v1/targets`: any authenticated identity. */
export function apiRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.addHook('onRequest', guard(ctx))

    app.get(
      '/api/v1/me',
      {
        schema: {
          tags: ['api'],
          summary: 'Who the bearer token speaks for',
          security,
          response: {200: MeSchema, ...errors},
        },
      },
      (request, reply) => {
        const c = callerOf(request)
        const me: MeResponse = {
          sub: c.sub,
          name: c.name,
          ...(c.email === undefined ? {} : {email: c.email}),
          kind: c.kind,
          groups: c.groups,
          roles: c.roles,
          token_expires_at: new Date(c.exp * 1000).toISOString(),
        }
        return reply.send(me)
      },
    )

    app.get(
      '/api/v1/targets',
      {
        schema: {
          tags: ['api'],
          summary: "Targets the caller's groups may reach",
          security,
          response: {200: TargetsSchema, ...errors},
        },
      },
      async (request): Promise<TargetsResponse> => ({
        targets: reachableTargets(await ctx.store.listTargets(), callerOf(request).groups),
      }),
    )
    done()
  }
}
