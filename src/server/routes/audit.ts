import {Type} from '@sinclair/typebox'
import type {FastifyInstance} from 'fastify'

import type {
  AuditBatchRequest,
  AuditBatchResponse,
  AuditDeviceResponse,
  AuditSearchResponse,
  AuditVerifyResponse,
  RegisterAuditDeviceRequest,
} from '../../control/api-types.js'
import {ingestBatch, registerDevice} from '../audit/ingest.js'
import {verifyStoredTrail} from '../audit/verify.js'
import type {ServerContext} from '../context.js'
import {callerOf, guard} from '../guard.js'
import {badRequest, forbidden} from '../http-errors.js'
import {hasAnyRole} from '../roles.js'
import {ApiErrorSchema} from '../schemas.js'
import type {AuditSearchQuery} from '../store/index.js'
import {parseTrailCursor, searchTrails} from '../audit/approval-trail.js'

const Str = Type.String()
const Seq = Type.Integer({minimum: 1, maximum: Number.MAX_SAFE_INTEGER})
const Hash = Type.String({pattern: '^[0-9a-f]{64}$'})
const DeviceId = Type.String({minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$'})
const errors = {
  400: ApiErrorSchema,
  401: ApiErrorSchema,
  403: ApiErrorSchema,
  404: ApiErrorSchema,
  409: ApiErrorSchema,
}
const security = [{bearer: []}]
const tags = ['audit']

const RegisterSchema = Type.Object(
  {device_id: DeviceId, public_key: Type.String({minLength: 40, maxLength: 64})},
  {additionalProperties: false},
)
const DeviceSchema = Type.Object({device_id: Str, key_id: Str, last_seq: Type.Integer()})
const BatchSchema = Type.Object(
  {
    device_id: DeviceId,
    first_seq: Seq,
    last_seq: Seq,
    prev_hash: Hash,
    hashes: Type.Array(Hash, {minItems: 1, maxItems: 1000}),
    key_id: Type.String({pattern: '^[0-9a-f]{16}$'}),
    signature: Type.String({minLength: 1, maxLength: 200}),
    events: Type.Array(Type.Record(Type.String(), Type.Unknown()), {minItems: 1, maxItems: 1000}),
  },
  {additionalProperties: false},
)
const Range = Type.Object({from: Type.Integer(), to: Type.Integer()})
const BatchAnswer = Type.Object({
  acked_seq: Type.Integer(),
  stored: Type.Integer(),
  gap: Type.Union([Range, Type.Null()]),
})
const Opt = (s: ReturnType<typeof Type.String>) => Type.Optional(s)
const SearchQuery = Type.Object(
  {
    user: Opt(Type.String({maxLength: 200})),
    target: Opt(Type.String({maxLength: 200})),
    table: Opt(Type.String({maxLength: 200})),
    decision: Type.Optional(
      Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('review')]),
    ),
    actor: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('agent'), Type.Literal('ci')])),
    since: Opt(Type.String({maxLength: 40})),
    until: Opt(Type.String({maxLength: 40})),
    text: Opt(Type.String({maxLength: 500})),
    limit: Opt(Type.String({pattern: '^[0-9]{1,4}$'})),
    cursor: Opt(Type.String({maxLength: 100})),
  },
  {additionalProperties: false},
)
const SearchAnswer = Type.Object({
  events: Type.Array(
    Type.Object({
      device_id: Str,
      server_seq: Type.Integer(),
      event: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
  next_cursor: Type.Union([Str, Type.Null()]),
})
const VerifyQuery = Type.Object({since: Opt(Type.String({maxLength: 40}))}, {additionalProperties: false})
const VerifyAnswer = Type.Object({
  ok: Type.Boolean(),
  devices: Type.Integer(),
  verified: Type.Integer(),
  problems: Type.Array(Str),
  approvals: Type.Object({
    requests: Type.Integer(),
    transitions: Type.Integer(),
    problems: Type.Array(
      Type.Object({
        approval_id: Str,
        kind: Type.Union(['missing', 'altered', 'out_of_order', 'chain_break'].map((k) => Type.Literal(k))),
        n: Type.Integer(),
        type: Type.Union([Str, Type.Null()]),
        chained_at: Type.Union([Type.Integer(), Type.Null()]),
      }),
    ),
  }),
})

type SearchParams = {
  user?: string
  target?: string
  table?: string
  decision?: 'allow' | 'deny' | 'review'
  actor?: 'human' | 'agent' | 'ci'
  since?: string
  until?: string
  text?: string
  limit?: string
  cursor?: string
}

function time(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const t = Date.parse(v)
  if (!Number.isFinite(t)) throw badRequest(`${name} is not an ISO 8601 time`)
  return t
}

/** The search a caller may run: users only ever see their own events. */
function searchQuery(q: SearchParams, sub: string, seesAll: boolean): AuditSearchQuery {
  const limit = q.limit === undefined ? 50 : Math.min(Math.max(Number(q.limit), 1), 500)
  return {
    ownerSub: seesAll ? undefined : sub,
    identity: q.user,
    target: q.target,
    table: q.table,
    decision: q.decision,
    actor: q.actor,
    since: time('since', q.since),
    until: time('until', q.until),
    text: q.text,
    limit,
    after: parseTrailCursor(q.cursor),
  }
}

/** `/api/v1/audit/*`: device keys, signed batch ingest, search and verification. */
export function auditRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.addHook('onRequest', guard(ctx))

    app.post<{Body: RegisterAuditDeviceRequest}>(
      '/api/v1/audit/devices',
      {
        schema: {
          tags,
          summary: "Register the caller's device key (Ed25519, raw base64url); idempotent for the same key",
          security,
          body: RegisterSchema,
          response: {200: DeviceSchema, ...errors},
        },
      },
      (request): Promise<AuditDeviceResponse> =>
        registerDevice(ctx, callerOf(request), request.body.device_id, request.body.public_key),
    )

    app.post<{Body: AuditBatchRequest}>(
      '/api/v1/audit/batches',
      {
        schema: {
          tags,
          summary: 'Upload a signed batch of audit events (idempotent); answers the acknowledged seq',
          security,
          body: BatchSchema,
          response: {200: BatchAnswer, ...errors},
        },
      },
      (request): Promise<AuditBatchResponse> => ingestBatch(ctx, callerOf(request), request.body),
    )

    app.get<{Querystring: SearchParams}>(
      '/api/v1/audit/events',
      {
        schema: {
          tags,
          summary:
            'Search the trail and the approval transitions, newest first (auditors and admins: everyone; users: their own)',
          security,
          querystring: SearchQuery,
          response: {200: SearchAnswer, ...errors},
        },
      },
      async (request): Promise<AuditSearchResponse> => {
        const caller = callerOf(request)
        const q = searchQuery(request.query, caller.sub, hasAnyRole(caller.roles, ['auditor', 'admin']))
        return searchTrails(ctx.store, q)
      },
    )

    app.get<{Querystring: {since?: string}}>(
      '/api/v1/audit/verify',
      {
        schema: {
          tags,
          summary: 'Re-check stored signatures, device chains and the server chain (auditor or admin)',
          security,
          querystring: VerifyQuery,
          response: {200: VerifyAnswer, ...errors},
        },
      },
      async (request): Promise<AuditVerifyResponse> => {
        const caller = callerOf(request)
        if (!hasAnyRole(caller.roles, ['auditor', 'admin']))
          throw forbidden('verifying the trail needs the auditor or admin role')
        return verifyStoredTrail(ctx.store, time('since', request.query.since) ?? 0)
      },
    )
    done()
  }
}
