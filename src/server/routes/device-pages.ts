import type {FastifyInstance, FastifyReply} from 'fastify'

import type {ServerContext} from '../context.js'
import {displayUserCode, normaliseUserCode} from '../device.js'
import {escapeHtml, messagePage, page, PAGE_HEADERS} from '../html.js'
import {sendToIdp} from './login.js'

/**
 * `GET /device`: the page where a user types the code their terminal shows (prefilled by ?user_code=);
 * `POST /device`: approve (through the IdP login) or deny. Plain HTML forms, no JavaScript.
 */

function codeForm(userCode: string, error?: string): string {
  return page(
    'Approve a device',
    `<p>Enter the code shown in your terminal to sign in to dbgate on that device.</p>
${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/device">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${escapeHtml(userCode)}" placeholder="ABCD-EFGH"
 autocomplete="off" autocapitalize="characters" spellcheck="false" required>
<button type="submit" name="action" value="approve" id="approve">Continue and sign in</button>
<button type="submit" name="action" value="deny" id="deny">Deny</button>
</form>
<p class="muted">Only continue if you started <code>dbgate login --device</code> yourself.</p>`,
  )
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(body)
}

/** Registers the device pages. */
export function devicePageRoutes(ctx: ServerContext) {
  return (app: FastifyInstance, _opts: unknown, done: () => void): void => {
    app.get<{Querystring: {user_code?: string}}>(
      '/device',
      {
        schema: {
          tags: ['auth'],
          summary: 'Device code entry page (HTML)',
          querystring: {type: 'object', properties: {user_code: {type: 'string', maxLength: 64}}},
        },
        config: {html: true},
      },
      async (request, reply) => html(reply, 200, codeForm(request.query.user_code ?? '')),
    )

    app.post<{Body: {user_code: string; action?: string}}>(
      '/device',
      {
        schema: {
          tags: ['auth'],
          summary: 'Approve (via the identity provider) or deny a device code',
          consumes: ['application/x-www-form-urlencoded'],
          body: {
            type: 'object',
            required: ['user_code'],
            properties: {
              user_code: {type: 'string', maxLength: 64},
              action: {type: 'string', enum: ['approve', 'deny']},
            },
            additionalProperties: false,
          },
        },
        config: {html: true},
      },
      async (request, reply) => {
        const {user_code: typed, action = 'approve'} = request.body
        const code = normaliseUserCode(typed)
        const device =
          code === undefined ? undefined : await ctx.store.findPendingDeviceByUserCode(code, ctx.now())
        if (!device)
          return html(
            reply,
            400,
            codeForm(typed, 'That code is unknown or has expired. Check your terminal.'),
          )
        if (action === 'deny') {
          await ctx.store.decideDevice(device.id, 'denied', null)
          return html(
            reply,
            200,
            messagePage(
              'Device denied',
              `The request ${displayUserCode(device.userCode)} was denied. You can close this page.`,
            ),
          )
        }
        return sendToIdp(ctx, reply, {
          kind: 'device',
          cliRedirectUri: null,
          cliState: null,
          cliCodeChallenge: null,
          cliNonce: null,
          deviceId: device.id,
        })
      },
    )
    done()
  }
}
