import type {FastifyInstance, FastifyReply, FastifyRequest} from 'fastify'

import {csrfMatches, approvalPage, pageCaller, readPageSession} from '../approvals/page.js'
import {decideApproval, mayDecide, showApproval} from '../approvals/service.js'
import type {ServerContext} from '../context.js'
import {messagePage, PAGE_HEADERS} from '../html.js'
import {ApiError} from '../http-errors.js'
import {sendToIdp} from './login.js'

/**
 * `GET /approvals/:id`: the request's page behind SSO (a visitor without a page session goes through the
 * identity provider first and comes back here); `POST /approvals/:id`: approve or deny with the form's CSRF
 * token. The approval rules are the API's (src/server/approvals/service.ts): never one's own request.
 */

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: {id: {type: 'string', minLength: 1, maxLength: 100, pattern: '^apr_[A-Za-z0-9_-]+$'}},
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(body)
}

async function render(
  ctx: ServerContext,
  request: FastifyRequest<{Params: {id: string}}>,
  reply: FastifyReply,
  notice?: string,
  status = 200,
): Promise<FastifyReply> {
  const session = readPageSession(ctx, request.headers.cookie)
  if (!session)
    return sendToIdp(ctx, reply, {
      kind: 'page',
      // The path to come back to after signing in (only ever /approvals/<id>, built here).
      cliRedirectUri: `/approvals/${encodeURIComponent(request.params.id)}`,
      cliState: null,
      cliCodeChallenge: null,
      cliNonce: null,
      deviceId: null,
    })
  const caller = pageCaller(ctx, session)
  const detail = await showApproval(ctx, caller, request.params.id)
  const record = await ctx.store.getApproval(detail.id)
  const canDecide = detail.status === 'pending' && record !== undefined && mayDecide(caller, record)
  return html(reply, status, approvalPage(detail, caller.sub, canDecide, session.csrf, notice))
}

/** Registers the approval pages. */
export function approvalPageRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.get<{Params: {id: string}}>(
      '/approvals/:id',
      {
        schema: {tags: ['approvals'], summary: 'Approval request page (HTML, behind SSO)', params: ID_PARAMS},
        config: {html: true},
      },
      async (request, reply) => render(ctx, request, reply),
    )

    app.post<{Params: {id: string}; Body: {action: 'approve' | 'deny'; comment?: string; csrf: string}}>(
      '/approvals/:id',
      {
        schema: {
          tags: ['approvals'],
          summary: 'Approve or deny from the page (form post with its CSRF token)',
          consumes: ['application/x-www-form-urlencoded'],
          params: ID_PARAMS,
          body: {
            type: 'object',
            required: ['action', 'csrf'],
            properties: {
              action: {type: 'string', enum: ['approve', 'deny']},
              comment: {type: 'string', maxLength: 2000},
              csrf: {type: 'string', maxLength: 200},
            },
            additionalProperties: false,
          },
        },
        config: {html: true},
      },
      async (request, reply) => {
        const session = readPageSession(ctx, request.headers.cookie)
        if (!session || !csrfMatches(session, request.body.csrf))
          return html(
            reply,
            403,
            messagePage(
              'Not allowed',
              'This form expired or did not come from dbgate; reload the page.',
              true,
            ),
          )
        const {action, comment} = request.body
        try {
          const info = await decideApproval(
            ctx,
            pageCaller(ctx, session),
            request.params.id,
            action,
            comment || undefined,
          )
          return render(
            ctx,
            request,
            reply,
            `Recorded: ${action === 'approve' ? 'approved' : 'denied'}. The request is ${info.status}.`,
          )
        } catch (err) {
          if (err instanceof ApiError) return render(ctx, request, reply, err.message, err.status)
          throw err
        }
      },
    )
    done()
  }
}
