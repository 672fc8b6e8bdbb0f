import type {FastifyInstance} from 'fastify'

import {GrantType, type TokenResponse} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {deviceCodeGrant, startDeviceAuthorization} from '../device.js'
import {OAuthError} from '../http-errors.js'
import {
  DeviceCodeRequestSchema,
  DeviceCodeResponseSchema,
  EmptySchema,
  OAuthErrorSchema,
  RevokeRequestSchema,
  TokenRequestSchema,
  TokenResponseSchema,
} from '../schemas.js'
import {
  authorizationCodeGrant,
  machineTokenGrant,
  refreshTokenGrant,
  revokeRefreshToken,
} from '../sessions.js'

/** `POST /auth/token`, `POST /auth/device/code` and `POST /auth/revoke`: OAuth endpoints, OAuth error format. */

type TokenBody = Partial<
  Record<
    | 'grant_type'
    | 'client_id'
    | 'code'
    | 'code_verifier'
    | 'redirect_uri'
    | 'refresh_token'
    | 'device_code'
    | 'machine_token',
    string
  >
>

const oauth = {oauth: true}
const oauthErrors = {400: OAuthErrorSchema, 401: OAuthErrorSchema}

/** Registers the OAuth endpoints. */
export function tokenRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.post<{Body: TokenBody}>(
      '/auth/token',
      {
        schema: {
          tags: ['auth'],
          summary: 'Token endpoint: authorization_code, refresh_token, device_code and machine-token grants',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: TokenRequestSchema,
          response: {200: TokenResponseSchema, ...oauthErrors},
        },
        config: oauth,
      },
      async (request, reply): Promise<TokenResponse> => {
        void reply.header('cache-control', 'no-store')
        const b = request.body
        switch (b.grant_type as GrantType) {
          case GrantType.authorizationCode:
            return authorizationCodeGrant(ctx, b)
          case GrantType.refreshToken:
            return refreshTokenGrant(ctx, b)
          case GrantType.deviceCode:
            return deviceCodeGrant(ctx, b)
          case GrantType.machineToken:
            return machineTokenGrant(ctx, b)
          default:
            throw new OAuthError(
              'unsupported_grant_type',
              `grant_type ${String(b.grant_type)} is not supported`,
            )
        }
      },
    )

    app.post<{Body: {client_id: string}}>(
      '/auth/device/code',
      {
        schema: {
          tags: ['auth'],
          summary: 'Device authorization request (RFC 8628)',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: DeviceCodeRequestSchema,
          response: {200: DeviceCodeResponseSchema, ...oauthErrors},
        },
        config: oauth,
      },
      async (request, reply) => {
        void reply.header('cache-control', 'no-store')
        return startDeviceAuthorization(ctx, request.body.client_id)
      },
    )

    app.post<{Body: {token: string}}>(
      '/auth/revoke',
      {
        schema: {
          tags: ['auth'],
          summary: 'Revoke a refresh token and its session (RFC 7009); always 200',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: RevokeRequestSchema,
          response: {200: EmptySchema, ...oauthErrors},
        },
        config: oauth,
      },
      async (request) => {
        await revokeRefreshToken(ctx, request.body.token)
        return {}
      },
    )
    done()
  }
}
