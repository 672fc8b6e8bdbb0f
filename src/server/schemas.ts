import {Type, type Static, type TSchema} from '@sinclair/typebox'

import type {
  AdminTargetsResponse,
  CreateMachineTokenRequest,
  CreateMachineTokenResponse,
  CreateTargetRequest,
  DeviceAuthorizationResponse,
  DiscoveryDocument,
  MachineTokensResponse,
  MeResponse,
  TargetsResponse,
  TokenResponse,
} from '../control/api-types.js'

/**
 * JSON schemas (TypeBox) of the routes: fastify validates requests with them, serialises responses through
 * them (so a field not in the schema, such as a credential, can never leak), and @fastify/swagger turns them
 * into docs/openapi.json. The checks at the bottom fail compilation if they drift from api-types.ts.
 */

const Str = Type.String()
const Role = Type.Union([
  Type.Literal('user'),
  Type.Literal('approver'),
  Type.Literal('auditor'),
  Type.Literal('admin'),
])
const Protocol = Type.Union([Type.Literal('postgres'), Type.Literal('mysql')])
const Name = Type.String({pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'})
const Group = Type.String({minLength: 1, maxLength: 200})

/** Error body of /api/* and other JSON endpoints. */
export const ApiErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(
        [
          'unauthorized',
          'forbidden',
          'not_found',
          'bad_request',
          'conflict',
          'payload_too_large',
          'internal',
          'unavailable',
        ].map((c) => Type.Literal(c)),
      ),
      message: Str,
    }),
  },
  {$id: 'ApiError'},
)

/** Error body of /auth/* OAuth endpoints. */
export const OAuthErrorSchema = Type.Object(
  {error: Str, error_description: Type.Optional(Str)},
  {$id: 'OAuthError'},
)

/** `GET /.well-known/dbgate`. */
export const DiscoverySchema = Type.Object({
  issuer: Str,
  api_version: Type.Literal(1),
  authorization_endpoint: Str,
  token_endpoint: Str,
  device_authorization_endpoint: Str,
  jwks_uri: Str,
  revocation_endpoint: Str,
})

/** `GET /.well-known/jwks.json`. */
export const JwksSchema = Type.Object({keys: Type.Array(Type.Record(Type.String(), Type.Unknown()))})

/** An identity. */
export const IdentitySchema = Type.Object({
  sub: Str,
  name: Str,
  email: Type.Optional(Str),
  kind: Type.Union([Type.Literal('user'), Type.Literal('service')]),
  groups: Type.Array(Str),
  roles: Type.Array(Role),
})

/** `GET /auth/authorize` query. */
export const AuthorizeQuerySchema = Type.Object({
  response_type: Type.Optional(Str),
  client_id: Type.Optional(Str),
  redirect_uri: Type.Optional(Str),
  code_challenge: Type.Optional(Str),
  code_challenge_method: Type.Optional(Str),
  state: Type.Optional(Str),
  nonce: Type.Optional(Str),
  scope: Type.Optional(Str),
})

/** `POST /auth/token` body: every parameter of every grant (checked per grant in the handler). */
export const TokenRequestSchema = Type.Object(
  {
    grant_type: Type.String({minLength: 1}),
    client_id: Type.Optional(Str),
    code: Type.Optional(Str),
    code_verifier: Type.Optional(Str),
    redirect_uri: Type.Optional(Str),
    refresh_token: Type.Optional(Str),
    device_code: Type.Optional(Str),
    machine_token: Type.Optional(Str),
    scope: Type.Optional(Str),
  },
  {additionalProperties: false},
)

/** Successful `POST /auth/token`. */
export const TokenResponseSchema = Type.Object({
  access_token: Str,
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.Optional(Str),
  id_token: Type.Optional(Str),
  identity: IdentitySchema,
})

/** `POST /auth/device/code` body. */
export const DeviceCodeRequestSchema = Type.Object(
  {client_id: Str, scope: Type.Optional(Str)},
  {additionalProperties: false},
)

/** `POST /auth/device/code` response. */
export const DeviceCodeResponseSchema = Type.Object({
  device_code: Str,
  user_code: Str,
  verification_uri: Str,
  verification_uri_complete: Str,
  expires_in: Type.Integer(),
  interval: Type.Integer(),
})

/** `POST /auth/revoke` body. */
export const RevokeRequestSchema = Type.Object(
  {token: Str, token_type_hint: Type.Optional(Str), client_id: Type.Optional(Str)},
  {additionalProperties: false},
)

/** `GET /api/v1/me`. */
export const MeSchema = Type.Composite([IdentitySchema, Type.Object({token_expires_at: Str})])

const TargetSummary = Type.Object({
  name: Str,
  protocol: Protocol,
  host: Str,
  port: Type.Integer(),
  database: Str,
})
/** A target's TLS settings (admin API, and the session answer the CLI connects with). */
export const TlsSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('disable'), Type.Literal('require'), Type.Literal('verify-full')]),
    ca: Type.Optional(Str),
    server_name: Type.Optional(Str),
  },
  {additionalProperties: false},
)

/** A group → database role mapping of a target; the role name is escaped by every statement that uses it. */
const RoleMapping = Type.Object(
  {
    groups: Type.Array(Group, {minItems: 1, maxItems: 100}),
    // Any name PostgreSQL and MariaDB take, except control characters (a name that looks like an injection is
    // still only ever used quoted).
    db_role: Type.String({minLength: 1, maxLength: 63, pattern: '^[^\\u0000-\\u001f\\u007f]+$'}),
  },
  {additionalProperties: false},
)

/** `GET /api/v1/targets`. */
export const TargetsSchema = Type.Object({targets: Type.Array(TargetSummary)})

const AdminTarget = Type.Composite([
  TargetSummary,
  Type.Object({
    tls: TlsSchema,
    groups: Type.Array(Str),
    roles: Type.Array(Type.Object({groups: Type.Array(Str), db_role: Str})),
    credential_ttl: Type.Union([Type.Integer(), Type.Null()]),
    admin_user: Str,
    source: Type.Union([Type.Literal('config'), Type.Literal('api')]),
    created_at: Str,
  }),
])

/** `GET /api/v1/admin/targets`. */
export const AdminTargetsSchema = Type.Object({targets: Type.Array(AdminTarget)})

/** `POST /api/v1/admin/targets` body. */
export const CreateTargetSchema = Type.Object(
  {
    name: Name,
    protocol: Protocol,
    host: Type.String({minLength: 1, maxLength: 255}),
    port: Type.Integer({minimum: 1, maximum: 65535}),
    database: Type.String({minLength: 1, maxLength: 255}),
    tls: Type.Optional(TlsSchema),
    admin: Type.Object({user: Type.String({minLength: 1}), password: Str}, {additionalProperties: false}),
    groups: Type.Array(Group, {maxItems: 100}),
    roles: Type.Optional(Type.Array(RoleMapping, {maxItems: 100})),
    credential_ttl: Type.Optional(Type.Integer({minimum: 30, maximum: 86_400})),
  },
  {additionalProperties: false},
)

const MachineTokenInfo = Type.Object({
  id: Str,
  name: Str,
  groups: Type.Array(Str),
  created_at: Str,
  expires_at: Type.Union([Str, Type.Null()]),
  revoked_at: Type.Union([Str, Type.Null()]),
  last_used_at: Type.Union([Str, Type.Null()]),
  created_by: Str,
})

/** `GET /api/v1/admin/tokens`. */
export const MachineTokensSchema = Type.Object({tokens: Type.Array(MachineTokenInfo)})

/** `POST /api/v1/admin/tokens` body. */
export const CreateMachineTokenSchema = Type.Object(
  {
    name: Name,
    groups: Type.Array(Group, {maxItems: 100}),
    ttl_seconds: Type.Optional(Type.Integer({minimum: 60, maximum: 10 * 365 * 86400})),
  },
  {additionalProperties: false},
)

/** `POST /api/v1/admin/tokens` response. */
export const CreateMachineTokenResponseSchema = Type.Object({token: Str, info: MachineTokenInfo})

/** `:id` / `:name` path parameters. */
export const IdParamsSchema = Type.Object({id: Type.String({minLength: 1, maxLength: 200})})
/** `:name` path parameter. */
export const NameParamsSchema = Type.Object({name: Type.String({minLength: 1, maxLength: 200})})

/** An empty JSON object (`POST /auth/revoke`, deletes). */
export const EmptySchema = Type.Object({})

// Compile-time drift checks between these schemas and the shared types in api-types.ts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Check<S extends TSchema, T> = Same<Static<S>, T>
const drift: [
  Check<typeof DiscoverySchema, DiscoveryDocument>,
  Check<typeof TokenResponseSchema, TokenResponse>,
  Check<typeof DeviceCodeResponseSchema, DeviceAuthorizationResponse>,
  Check<typeof MeSchema, MeResponse>,
  Check<typeof TargetsSchema, TargetsResponse>,
  Check<typeof AdminTargetsSchema, AdminTargetsResponse>,
  Check<typeof CreateTargetSchema, CreateTargetRequest>,
  Check<typeof MachineTokensSchema, MachineTokensResponse>,
  Check<typeof CreateMachineTokenSchema, CreateMachineTokenRequest>,
  Check<typeof CreateMachineTokenResponseSchema, CreateMachineTokenResponse>,
] = [true, true, true, true, true, true, true, true, true, true]
void drift
