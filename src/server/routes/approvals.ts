import type {FastifyInstance} from 'fastify'

import type {
  ApprovalDecisionRequest,
  ApprovalDetail,
  ApprovalInfo,
  ApprovalsResponse,
  ApprovalStatus,
  CreateApprovalRequest,
  UseApprovalRequest,
  UseApprovalResponse,
} from '../../control/api-types.js'
import {
  ApprovalDecisionSchema,
  ApprovalDetailSchema,
  ApprovalInfoSchema,
  ApprovalParamsSchema,
  ApprovalsQuerySchema,
  ApprovalsSchema,
  CreateApprovalSchema,
  UseApprovalResponseSchema,
  UseApprovalSchema,
} from '../approvals/schemas.js'
import {
  createApproval,
  decideApproval,
  listApprovals,
  showApproval,
  useApproval,
} from '../approvals/service.js'
import type {ServerContext} from '../context.js'
import {callerOf, guard} from '../guard.js'
import {ApiErrorSchema} from '../schemas.js'

const errors = {
  400: ApiErrorSchema,
  401: ApiErrorSchema,
  403: ApiErrorSchema,
  404: ApiErrorSchema,
  409: ApiErrorSchema,
}
const security = [{bearer: []}]
const tags = ['approvals']

/** `/api/v1/approvals`: request, list, show, approve, deny, and spend a grant (docs/approvals.md). */
export function approvalRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.addHook('onRequest', guard(ctx))

    app.post<{Body: CreateApprovalRequest}>(
      '/api/v1/approvals',
      {
        schema: {
          tags,
          summary: 'Ask for approval of a statement the policy sends to review',
          security,
          body: CreateApprovalSchema,
          response: {201: ApprovalInfoSchema, ...errors},
        },
      },
      async (request, reply): Promise<ApprovalInfo> => {
        const info = await createApproval(ctx, callerOf(request), request.body)
        void reply.code(201)
        return info
      },
    )

    app.get<{Querystring: {status?: ApprovalStatus; limit?: string}}>(
      '/api/v1/approvals',
      {
        schema: {
          tags,
          summary: 'Requests the caller may see (all for approvers, auditors, admins; else their own)',
          security,
          querystring: ApprovalsQuerySchema,
          response: {200: ApprovalsSchema, ...errors},
        },
      },
      async (request): Promise<ApprovalsResponse> => {
        const limit =
          request.query.limit === undefined ? undefined : Math.min(500, Number(request.query.limit))
        return {approvals: await listApprovals(ctx, callerOf(request), {status: request.query.status, limit})}
      },
    )

    app.post<{Body: UseApprovalRequest}>(
      '/api/v1/approvals/use',
      {
        schema: {
          tags,
          summary: "Spend one use of the caller's grant for this exact statement",
          security,
          body: UseApprovalSchema,
          response: {200: UseApprovalResponseSchema, ...errors},
        },
      },
      async (request): Promise<UseApprovalResponse> => useApproval(ctx, callerOf(request), request.body),
    )

    app.get<{Params: {id: string}}>(
      '/api/v1/approvals/:id',
      {
        schema: {
          tags,
          summary: 'One request with its transitions',
          security,
          params: ApprovalParamsSchema,
          response: {200: ApprovalDetailSchema, ...errors},
        },
      },
      async (request): Promise<ApprovalDetail> => showApproval(ctx, callerOf(request), request.params.id),
    )

    for (const decision of ['approve', 'deny'] as const)
      app.post<{Params: {id: string}; Body: ApprovalDecisionRequest | undefined}>(
        `/api/v1/approvals/:id/${decision}`,
        {
          schema: {
            tags,
            summary: decision === 'approve' ? 'Approve a request (never your own)' : 'Deny a request',
            security,
            params: ApprovalParamsSchema,
            body: ApprovalDecisionSchema,
            response: {200: ApprovalInfoSchema, ...errors},
          },
        },
        async (request): Promise<ApprovalInfo> =>
          decideApproval(ctx, callerOf(request), request.params.id, decision, request.body?.comment),
      )
    done()
  }
}
