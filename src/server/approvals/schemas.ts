import {Type, type Static, type TSchema} from '@sinclair/typebox'

import type {
  ApprovalDecisionRequest,
  ApprovalDetail,
  ApprovalInfo,
  ApprovalsResponse,
  CreateApprovalRequest,
  UseApprovalRequest,
  UseApprovalResponse,
} from '../../control/api-types.js'

/** Schemas of the /api/v1/approvals routes; checked against api-types.ts at compile time. */

const Str = Type.String()
const NullStr = Type.Union([Str, Type.Null()])
const Status = Type.Union([
  Type.Literal('pending'),
  Type.Literal('approved'),
  Type.Literal('denied'),
  Type.Literal('expired'),
])
const EventType = Type.Union([
  Type.Literal('requested'),
  Type.Literal('notified'),
  Type.Literal('notify_failed'),
  Type.Literal('approved'),
  Type.Literal('denied'),
  Type.Literal('expired'),
  Type.Literal('used'),
])
/** The largest statement accepted (the body limit is 1 MiB). */
const Statement = Type.String({minLength: 1, maxLength: 256 * 1024})

/** `POST /api/v1/approvals` body. */
export const CreateApprovalSchema = Type.Object(
  {
    target: Type.String({minLength: 1, maxLength: 200}),
    statement: Statement,
    reason: Type.String({minLength: 1, maxLength: 2000}),
    actor: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('agent')])),
    agent: Type.Optional(Type.String({minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@:/ -]+$'})),
    source: Type.Optional(Type.Union([Type.Literal('cli'), Type.Literal('proxy')])),
    process: Type.Optional(Type.String({maxLength: 2000})),
  },
  {additionalProperties: false},
)

/** An approval request. */
export const ApprovalInfoSchema = Type.Object({
  id: Str,
  status: Status,
  requester: Str,
  requester_name: Str,
  actor: Type.Union([Type.Literal('human'), Type.Literal('agent'), Type.Literal('ci')]),
  agent: NullStr,
  target: Str,
  statement: Str,
  fingerprint: Str,
  decision: Type.Literal('review'),
  rule: NullStr,
  policy_name: Str,
  reason: Str,
  process: NullStr,
  source: Type.Union([Type.Literal('cli'), Type.Literal('proxy')]),
  settings: Type.Object({
    approvers: Type.Integer(),
    groups: Type.Array(Str),
    mode: Type.Union([Type.Literal('hold'), Type.Literal('reject')]),
    uses: Type.Integer(),
    window_seconds: Type.Integer(),
    any_literals: Type.Boolean(),
  }),
  votes: Type.Array(
    Type.Object({
      approver: Str,
      approver_name: Str,
      decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')]),
      comment: NullStr,
      at: Str,
    }),
  ),
  created_at: Str,
  expires_at: Str,
  decided_at: NullStr,
  grant: Type.Union([Type.Object({uses_left: Type.Integer(), expires_at: Str}), Type.Null()]),
  url: Str,
})

/** `GET /api/v1/approvals/:id`. */
export const ApprovalDetailSchema = Type.Composite([
  ApprovalInfoSchema,
  Type.Object({
    events: Type.Array(Type.Object({type: EventType, actor: NullStr, detail: NullStr, at: Str})),
    events_intact: Type.Boolean(),
  }),
])

/** `GET /api/v1/approvals`. */
export const ApprovalsSchema = Type.Object({approvals: Type.Array(ApprovalInfoSchema)})

/** `GET /api/v1/approvals` query. */
export const ApprovalsQuerySchema = Type.Object(
  {status: Type.Optional(Status), limit: Type.Optional(Type.String({pattern: '^[0-9]{1,3}$'}))},
  {additionalProperties: false},
)

/** Approve / deny body. */
export const ApprovalDecisionSchema = Type.Object(
  {comment: Type.Optional(Type.String({maxLength: 2000}))},
  {additionalProperties: false},
)

/** `POST /api/v1/approvals/use` body. */
export const UseApprovalSchema = Type.Object(
  {
    target: Type.String({minLength: 1, maxLength: 200}),
    statement: Statement,
    id: Type.Optional(Type.String({minLength: 1, maxLength: 100})),
  },
  {additionalProperties: false},
)

/** `POST /api/v1/approvals/use` answer. */
export const UseApprovalResponseSchema = Type.Object({
  approval: ApprovalInfoSchema,
  uses_left: Type.Integer(),
})

/** `:id` of a request. */
export const ApprovalParamsSchema = Type.Object({id: Type.String({minLength: 1, maxLength: 100})})

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Check<S extends TSchema, T> = Same<Static<S>, T>
const drift: [
  Check<typeof CreateApprovalSchema, CreateApprovalRequest>,
  Check<typeof ApprovalInfoSchema, ApprovalInfo>,
  Check<typeof ApprovalDetailSchema, ApprovalDetail>,
  Check<typeof ApprovalsSchema, ApprovalsResponse>,
  Check<typeof ApprovalDecisionSchema, ApprovalDecisionRequest>,
  Check<typeof UseApprovalSchema, UseApprovalRequest>,
  Check<typeof UseApprovalResponseSchema, UseApprovalResponse>,
] = [true, true, true, true, true, true, true]
void drift
