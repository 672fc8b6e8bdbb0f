import {Type, type Static, type TSchema} from '@sinclair/typebox'

import {TlsSchema} from '../schemas.js'

import type {
  BundleKeysDocument,
  BundleResponse,
  CreateSessionRequest,
  ReloadResponse,
  RenewSessionResponse,
  SessionResponse,
} from '../../control/api-types.js'

/** Schemas of the session, bundle and reload routes; checked against api-types.ts at compile time. */

const Str = Type.String()
const Actor = Type.Union([Type.Literal('human'), Type.Literal('agent'), Type.Literal('ci')])

const BundlePayloadSchema = Type.Object({
  v: Type.Literal(1),
  iss: Str,
  identity: Str,
  groups: Type.Array(Str),
  actor: Actor,
  agent: Type.Union([Str, Type.Null()]),
  target: Str,
  policy_name: Str,
  policy_version: Str,
  policy: Type.Record(Type.String(), Type.Unknown()),
  issued_at: Str,
  expires_at: Str,
})

/** A signed bundle. */
export const SignedBundleSchema = Type.Object({
  kid: Str,
  alg: Type.Literal('EdDSA'),
  payload: BundlePayloadSchema,
  signature: Str,
})

/** `POST /api/v1/sessions` body. */
export const CreateSessionSchema = Type.Object(
  {
    target: Type.String({minLength: 1, maxLength: 200}),
    actor: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('agent')])),
    agent: Type.Optional(Type.String({minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@:/ -]+$'})),
  },
  {additionalProperties: false},
)

/** `POST /api/v1/sessions` answer. */
export const SessionResponseSchema = Type.Object({
  session_id: Str,
  target: Type.Object({
    name: Str,
    protocol: Type.Union([Type.Literal('postgres'), Type.Literal('mysql')]),
    host: Str,
    port: Type.Integer(),
    database: Str,
    tls: TlsSchema,
  }),
  credentials: Type.Object({user: Str, password: Str, expires_at: Str}),
  bundle: SignedBundleSchema,
  renew_after_seconds: Type.Integer(),
})

/** `POST /api/v1/sessions/:id/renew` answer. */
export const RenewSessionSchema = Type.Object({
  session_id: Str,
  expires_at: Str,
  bundle: SignedBundleSchema,
  renew_after_seconds: Type.Integer(),
})

/** `DELETE /api/v1/sessions/:id` answer. */
export const EndSessionSchema = Type.Object({revoked: Type.Boolean()})

/** `GET /api/v1/bundle` query. */
export const BundleQuerySchema = Type.Object(
  {
    target: Type.String({minLength: 1, maxLength: 200}),
    actor: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('agent')])),
    agent: Type.Optional(Type.String({minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@:/ -]+$'})),
  },
  {additionalProperties: false},
)

/** `GET /api/v1/bundle` answer. */
export const BundleResponseSchema = Type.Object({bundle: SignedBundleSchema})

/** `GET /.well-known/dbgate-bundle-keys.json`. */
export const BundleKeysSchema = Type.Object({
  keys: Type.Record(
    Type.String(),
    Type.Object({
      kty: Type.Literal('OKP'),
      crv: Type.Literal('Ed25519'),
      x: Str,
      kid: Str,
      alg: Type.Literal('EdDSA'),
      use: Type.Literal('sig'),
    }),
  ),
})

/** `POST /api/v1/admin/reload` answer. */
export const ReloadResponseSchema = Type.Object({
  policies: Type.Integer(),
  targets: Type.Integer(),
  reloaded_at: Str,
})

/** `:id` of a session. */
export const SessionParamsSchema = Type.Object({id: Type.String({minLength: 1, maxLength: 100})})

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Check<S extends TSchema, T> = Same<Static<S>, T>
const drift: [
  Check<typeof CreateSessionSchema, CreateSessionRequest>,
  Check<typeof SessionResponseSchema, SessionResponse>,
  Check<typeof RenewSessionSchema, RenewSessionResponse>,
  Check<typeof BundleResponseSchema, BundleResponse>,
  Check<typeof BundleKeysSchema, BundleKeysDocument>,
  Check<typeof ReloadResponseSchema, ReloadResponse>,
] = [true, true, true, true, true, true]
void drift
