/**
 * The approval page's browser session and HTML. The session is a cookie the server key seals (AES-GCM, so it
 * cannot be read or forged) holding the identity from an SSO login and a CSRF token; the page's form posts
 * that token back, and the cookie is SameSite=Lax and HttpOnly. Plain HTML, no JavaScript, every value escaped.
 */
import type {FastifyReply} from 'fastify'

import type {ApprovalDetail} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {randomToken, safeEqual} from '../crypto.js'
import {escapeHtml, messagePage, page, PAGE_HEADERS} from '../html.js'
import {rolesFor} from '../roles.js'
import type {StoredIdentity} from '../store/index.js'
import type {AccessClaims} from '../tokens.js'

/** The cookie holding a page session. */
export const PAGE_COOKIE = 'dbgate_approvals'
const AAD = 'dbgate-approval-page-session'
const SESSION_MS = 60 * 60_000

/** A signed-in page visitor. */
export interface PageSession {
  readonly identity: StoredIdentity
  readonly csrf: string
  readonly exp: number
}

/** The Set-Cookie value of a new page session for an identity that just signed in. */
export function pageCookie(ctx: ServerContext, identity: StoredIdentity): string {
  const session: PageSession = {identity, csrf: randomToken(24), exp: ctx.now() + SESSION_MS}
  const secure = ctx.publicUrl().startsWith('https:') ? '; Secure' : ''
  const value = ctx.serverKey.encrypt(JSON.stringify(session), AAD)
  return `${PAGE_COOKIE}=${value}; Path=/approvals; HttpOnly; SameSite=Lax; Max-Age=${SESSION_MS / 1000}${secure}`
}

/** The page session of a request's Cookie header, if it is ours, intact and unexpired. */
export function readPageSession(
  ctx: ServerContext,
  cookieHeader: string | undefined,
): PageSession | undefined {
  const m = new RegExp(`(?:^|;\\s*)${PAGE_COOKIE}=([A-Za-z0-9_-]+)`).exec(cookieHeader ?? '')
  if (!m?.[1]) return undefined
  try {
    const s = JSON.parse(ctx.serverKey.decrypt(m[1], AAD)) as PageSession
    return s.exp > ctx.now() ? s : undefined
  } catch {
    return undefined
  }
}

/** True when a posted CSRF token is the session's. */
export function csrfMatches(session: PageSession, posted: string | undefined): boolean {
  return posted !== undefined && safeEqual(session.csrf, posted)
}

/** The caller the approval service sees for a page visitor (roles from the current config). */
export function pageCaller(ctx: ServerContext, s: PageSession): AccessClaims {
  return {
    ...s.identity,
    roles: rolesFor(s.identity.groups, ctx.live.config.roles),
    actor: 'human',
    exp: Math.floor(s.exp / 1000),
  }
}

function row(label: string, value: string): string {
  return `<tr><th style="text-align:left;padding-right:1rem;vertical-align:top">${escapeHtml(label)}</th><td id="${escapeHtml(label.toLowerCase())}">${escapeHtml(value)}</td></tr>`
}

/** The page of one request; with a form when the visitor may still decide it. */
export function approvalPage(
  a: ApprovalDetail,
  visitor: string,
  canDecide: boolean,
  csrf: string,
  notice?: string,
): string {
  const approvals = a.votes.filter((v) => v.decision === 'approve').length
  const votes = a.votes
    .map(
      (v) =>
        `<li>${escapeHtml(`${v.approver_name}: ${v.decision}${v.comment === null ? '' : ` — ${v.comment}`}`)}</li>`,
    )
    .join('')
  const form = canDecide
    ? `<form method="post" action="/approvals/${encodeURIComponent(a.id)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<label for="comment">Comment</label>
<input type="text" id="comment" name="comment" maxlength="2000">
<button type="submit" name="action" value="approve" id="approve">Approve</button>
<button type="submit" name="action" value="deny" id="deny">Deny</button>
</form>`
    : ''
  return page(
    `Approval request ${a.id}`,
    `${notice === undefined ? '' : `<p id="notice"><strong>${escapeHtml(notice)}</strong></p>`}
<p>Status: <strong id="status">${escapeHtml(a.status)}</strong> (${approvals} of ${a.settings.approvers} approvals)</p>
<pre id="statement" style="white-space:pre-wrap;background:#f4f4f4;padding:.8rem">${escapeHtml(a.statement)}</pre>
<table>
${row('Requester', `${a.requester_name} (${a.requester})`)}
${row('Actor', a.agent === null ? a.actor : `${a.actor} (${a.agent})`)}
${row('Target', a.target)}
${row('Rule', `${a.rule ?? 'default action'} (policy ${a.policy_name})`)}
${row('Reason', a.reason)}
${row('Process', a.process ?? 'not known')}
${row('Expires', a.expires_at)}
</table>
${votes === '' ? '' : `<ul id="votes">${votes}</ul>`}
${a.requester === visitor && a.status === 'pending' ? '<p id="own">This is your request: another approver must decide it.</p>' : ''}
${form}`,
  )
}

/** The end of an SSO login started by an approval page: set the page session and go back to the page. */
export function finishPageLogin(
  ctx: ServerContext,
  reply: FastifyReply,
  path: string | null,
  identity: StoredIdentity | undefined,
  failure: string | undefined,
): FastifyReply {
  if (!identity || path === null || !/^\/approvals\/apr_[A-Za-z0-9_-]+$/.test(path))
    return reply
      .code(403)
      .headers(PAGE_HEADERS)
      .send(messagePage('Sign-in failed', failure ?? 'Sign-in failed.', true))
  return reply.header('set-cookie', pageCookie(ctx, identity)).redirect(path, 302)
}
