import type {FastifyInstance} from 'fastify'

import {API_VERSION, type DiscoveryDocument} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {DiscoverySchema, JwksSchema} from '../schemas.js'

/** `/.well-known/dbgate` (where everything is) and `/.well-known/jwks.json` (access-token keys). */
export function wellKnownRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.get(
      '/.well-known/dbgate',
      {schema: {tags: ['discovery'], summary: 'Discovery document', response: {200: DiscoverySchema}}},
      (_request, reply) => {
        const base = ctx.publicUrl()
        const doc: DiscoveryDocument = {
          issuer: base,
          api_version: API_VERSION,
          authorization_endpoint: `${base}/auth/authorize`,
          token_endpoint: `${base}/auth/token`,
          device_authorization_endpoint: `${base}/auth/device/code`,
          jwks_uri: `${base}/.well-known/jwks.json`,
          revocation_endpoint: `${base}/auth/revoke`,
        }
        return reply.send(doc)
      },
    )
    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['discovery'],
          summary: 'Public keys of access and id tokens',
          response: {200: JwksSchema},
        },
      },
      async (_request, reply) => {
        void reply.header('cache-control', 'public, max-age=300')
        return ctx.keys.jwks(ctx.now())
      },
    )
    done()
  }
}
