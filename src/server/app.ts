import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'

import type {ApiErrorCode, OAuthErrorCode} from '../control/api-types.js'
import type {ServerContext} from './context.js'
import {messagePage, PAGE_HEADERS} from './html.js'
import {ApiError, OAuthError} from './http-errors.js'
import {registerDevIdp, type DevIdp} from './oidc/dev-idp.js'
import {adminRoutes} from './routes/admin.js'
import {approvalPageRoutes} from './routes/approval-pages.js'
import {approvalRoutes} from './routes/approvals.js'
import {auditRoutes} from './routes/audit.js'
import {apiRoutes} from './routes/api.js'
import {bundleKeyRoutes, reloadRoutes} from './routes/bundle-keys.js'
import {devicePageRoutes} from './routes/device-pages.js'
import {loginRoutes} from './routes/login.js'
import {sessionRoutes} from './routes/sessions.js'
import {tokenRoutes} from './routes/token.js'
import {wellKnownRoutes} from './routes/well-known.js'

/**
 * The control plane's fastify app: strict JSON-schema validation (unknown fields are errors, no type
 * coercion), a 1 MiB body limit, and one error handler so every failure is a JSON body (OAuth format on
 * the OAuth endpoints, an HTML page on browser pages), never a stack trace. One plugin per area.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors in OAuth format `{error, error_description}`. */
    oauth?: boolean
    /** Errors as an HTML page (browser-facing routes). */
    html?: boolean
  }
}

/** The largest request body accepted. */
export const BODY_LIMIT = 1024 * 1024

/** What buildApp needs beyond the context. */
export interface AppOptions {
  devIdp?: DevIdp | undefined
  /** A pino logger configuration, or false (default) for none. */
  logger?: boolean | {level: string; stream?: NodeJS.WritableStream}
}

interface Mapped {
  status: number
  code: ApiErrorCode
  message: string
}

function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0]
  if (!first) return err.message
  const where = `${err.validationContext ?? 'request'}${first.instancePath.replaceAll('/', '.')}`
  const extra = first.params as {additionalProperty?: string; missingProperty?: string}
  if (extra.additionalProperty !== undefined) return `${where}: unknown field "${extra.additionalProperty}"`
  return `${where} ${first.message ?? 'is not valid'}`
}

function mapError(err: unknown, request: FastifyRequest): Mapped {
  if (err instanceof ApiError) return {status: err.status, code: err.apiCode, message: err.message}
  const e = err as Partial<FastifyError>
  if (e.validation) return {status: 400, code: 'bad_request', message: validationMessage(err as FastifyError)}
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return {status: 413, code: 'payload_too_large', message: `the request body exceeds ${BODY_LIMIT} bytes`}
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return {status: 415, code: 'bad_request', message: 'unsupported content-type; send application/json'}
  if (
    e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    err instanceof SyntaxError
  )
    return {status: 400, code: 'bad_request', message: 'the request body is not valid JSON'}
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return {
      status: e.statusCode,
      code: e.statusCode === 404 ? 'not_found' : 'bad_request',
      message: e.message ?? 'bad request',
    }
  request.log.error({err}, 'internal error')
  return {status: 500, code: 'internal', message: 'internal error'}
}

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const config = request.routeOptions.config
  if (err instanceof OAuthError)
    return reply.code(err.status).send({error: err.error, error_description: err.description})
  const m = mapError(err, request)
  if (m.status === 401) void reply.header('www-authenticate', 'Bearer realm="dbgate"')
  if (config.oauth) {
    const error: OAuthErrorCode = m.status >= 500 ? 'server_error' : 'invalid_request'
    return reply.code(m.status).send({error, error_description: m.message})
  }
  if (config.html)
    return reply
      .code(m.status)
      .headers(PAGE_HEADERS)
      .send(messagePage('Error', m.message, true))
  return reply.code(m.status).send({error: {code: m.code, message: m.message}})
}

/** Builds the app with every plugin; not listening yet. */
export async function buildApp(ctx: ServerContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    ajv: {customOptions: {removeAdditional: false, coerceTypes: false, useDefaults: false}},
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply))
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({error: {code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`}}),
  )
  await app.register(formbody, {bodyLimit: BODY_LIMIT})
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {title: 'dbgate control plane', version: '1', description: 'See docs/api.md.'},
      components: {securitySchemes: {bearer: {type: 'http', scheme: 'bearer', bearerFormat: 'JWT'}}},
    },
  })
  await app.register(wellKnownRoutes(ctx))
  await app.register(loginRoutes(ctx))
  await app.register(tokenRoutes(ctx))
  await app.register(devicePageRoutes(ctx))
  await app.register(apiRoutes(ctx))
  await app.register(adminRoutes(ctx))
  await app.register(bundleKeyRoutes(ctx))
  await app.register(sessionRoutes(ctx))
  await app.register(reloadRoutes(ctx))
  await app.register(auditRoutes(ctx))
  await app.register(approvalRoutes(ctx))
  await app.register(approvalPageRoutes(ctx))
  if (options.devIdp) registerDevIdp(app, options.devIdp)
  return app
}
