import type {FastifyInstance} from 'fastify'

import type {BundleKeysDocument, ReloadResponse} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {guard} from '../guard.js'
import {badRequest} from '../http-errors.js'
import {ApiErrorSchema} from '../schemas.js'
import {BundleKeysSchema, ReloadResponseSchema} from './session-schemas.js'

/** `/.well-known/dbgate-bundle-keys.json`: the public keys that sign policy bundles (pinned at login). */
export function bundleKeyRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.get(
      '/.well-known/dbgate-bundle-keys.json',
      {
        schema: {
          tags: ['discovery'],
          summary: 'Public keys of policy bundles (kid → Ed25519 JWK)',
          response: {200: BundleKeysSchema},
        },
      },
      async (_request, reply): Promise<BundleKeysDocument> => {
        void reply.header('cache-control', 'public, max-age=300')
        return ctx.bundles.keys()
      },
    )
    done()
  }
}

/** `POST /api/v1/admin/reload`: re-read the config file (policies, target roles); admin. */
export function reloadRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.addHook('onRequest', guard(ctx, ['admin']))
    app.post(
      '/api/v1/admin/reload',
      {
        schema: {
          tags: ['admin'],
          summary:
            'Reload policies and target role mappings from the config file; a bad file keeps the old config',
          security: [{bearer: []}],
          response: {
            200: ReloadResponseSchema,
            400: ApiErrorSchema,
            401: ApiErrorSchema,
            403: ApiErrorSchema,
          },
        },
      },
      async (request): Promise<ReloadResponse> => {
        const outcome = await ctx.reload()
        switch (outcome.kind) {
          case 'failed':
            request.log.warn({error: outcome.error}, 'config reload refused; the old config stays')
            throw badRequest(`the new config was refused; the old one stays in force:\n${outcome.error}`)
          case 'reloaded':
            return {
              policies: outcome.policies,
              targets: outcome.targets,
              reloaded_at: new Date(outcome.at).toISOString(),
            }
        }
      },
    )
    done()
  }
}
