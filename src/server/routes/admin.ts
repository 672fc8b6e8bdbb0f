import type {FastifyInstance} from 'fastify'

import type {
  AdminTargetsResponse,
  CreateMachineTokenRequest,
  CreateMachineTokenResponse,
  CreateTargetRequest,
  MachineTokensResponse,
} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {callerOf, guard} from '../guard.js'
import {createMachineToken, listMachineTokens, revokeMachineToken} from '../machine-tokens.js'
import {
  AdminTargetsSchema,
  ApiErrorSchema,
  CreateMachineTokenResponseSchema,
  CreateMachineTokenSchema,
  CreateTargetSchema,
  EmptySchema,
  IdParamsSchema,
  MachineTokensSchema,
  NameParamsSchema,
} from '../schemas.js'
import {adminTarget, putTarget, removeTarget} from '../targets.js'

const errors = {
  400: ApiErrorSchema,
  401: ApiErrorSchema,
  403: ApiErrorSchema,
  404: ApiErrorSchema,
  409: ApiErrorSchema,
}
const security = [{bearer: []}]
const tags = ['admin']

/** `/api/v1/admin/*`: machine tokens and targets; role admin. */
export function adminRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.addHook('onRequest', guard(ctx, ['admin']))

    app.get(
      '/api/v1/admin/tokens',
      {
        schema: {
          tags,
          summary: 'List machine tokens',
          security,
          response: {200: MachineTokensSchema, ...errors},
        },
      },
      async (): Promise<MachineTokensResponse> => ({tokens: await listMachineTokens(ctx.store)}),
    )

    app.post<{Body: CreateMachineTokenRequest}>(
      '/api/v1/admin/tokens',
      {
        schema: {
          tags,
          summary: 'Create a machine token (the secret is in this response only)',
          security,
          body: CreateMachineTokenSchema,
          response: {201: CreateMachineTokenResponseSchema, ...errors},
        },
      },
      async (request, reply): Promise<CreateMachineTokenResponse> => {
        const b = request.body
        const created = await createMachineToken(
          ctx.store,
          {
            name: b.name,
            groups: b.groups,
            ttlSeconds: b.ttl_seconds ?? ctx.config.tokens.machine_default_ttl,
            createdBy: callerOf(request).sub,
          },
          ctx.now(),
        )
        void reply.code(201).header('cache-control', 'no-store')
        return created
      },
    )

    app.delete<{Params: {id: string}}>(
      '/api/v1/admin/tokens/:id',
      {
        schema: {
          tags,
          summary: 'Revoke a machine token by id or name',
          security,
          params: IdParamsSchema,
          response: {200: EmptySchema, ...errors},
        },
      },
      async (request) => {
        await revokeMachineToken(ctx.store, request.params.id, ctx.now())
        return {}
      },
    )

    app.get(
      '/api/v1/admin/targets',
      {
        schema: {
          tags,
          summary: 'List all targets (never their credentials)',
          security,
          response: {200: AdminTargetsSchema, ...errors},
        },
      },
      async (): Promise<AdminTargetsResponse> => ({
        targets: (await ctx.store.listTargets()).map(adminTarget),
      }),
    )

    app.post<{Body: CreateTargetRequest}>(
      '/api/v1/admin/targets',
      {
        schema: {
          tags,
          summary: 'Create or replace a target; its admin password is encrypted at rest',
          security,
          body: CreateTargetSchema,
          response: {201: AdminTargetsSchema.properties.targets.items, ...errors},
        },
      },
      async (request, reply) => {
        const target = await putTarget(ctx.store, request.body, ctx.serverKey, ctx.now())
        void reply.code(201)
        return target
      },
    )

    app.delete<{Params: {name: string}}>(
      '/api/v1/admin/targets/:name',
      {
        schema: {
          tags,
          summary: 'Delete a target created through the API',
          security,
          params: NameParamsSchema,
          response: {200: EmptySchema, ...errors},
        },
      },
      async (request) => {
        await removeTarget(ctx.store, request.params.name)
        return {}
      },
    )
    done()
  }
}
