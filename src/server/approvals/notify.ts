/**
 * Announces approval requests and how they ended (approved, denied, expired): a Slack incoming webhook (Block
 * Kit: who, statement, target, why, a link to the request's page) or a generic JSON webhook for ticketing
 * systems. Every delivery is signed (HMAC-SHA256 over `timestamp.body`, with the timestamp in its own header so
 * receivers can refuse replays), retried with doubling delays, and never awaited by the request path. Approving
 * happens on the control plane's page or API only, where the approver's identity is checked, never through a
 * button in the message.
 */
import {createHmac} from 'node:crypto'
import {setTimeout as sleep} from 'node:timers/promises'

import {request} from 'undici'

import {messageOf} from '../../errors.js'
import {targetGlobMatches} from '../bundles/policies.js'
import type {NotifySink} from '../config.js'
import type {ServerContext} from '../context.js'
import type {ApprovalRecord} from '../store/index.js'
import {approvalInfo} from './view.js'

/** Header carrying the signature `v1=<hex>`. */
export const SIGNATURE_HEADER = 'x-dbgate-signature'
/** Header carrying the signing time, Unix seconds. */
export const TIMESTAMP_HEADER = 'x-dbgate-timestamp'

/** The signature of a delivery: HMAC-SHA256 of `timestamp.body` with the sink's secret. */
export function signDelivery(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`
}

/** Slack mrkdwn needs &, < and > escaped. */
function mrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** The Block Kit message of a request. */
export function slackMessage(r: ApprovalRecord, url: string): Record<string, unknown> {
  const who = `${r.requesterName} (${r.requesterSub})${r.agent === null ? '' : ` via agent ${r.agent}`}`
  const field = (title: string, value: string): Record<string, string> => ({
    type: 'mrkdwn',
    text: `*${title}*\n${mrkdwn(clip(value, 1900))}`,
  })
  return {
    text: `dbgate: ${who} asks to run a statement on ${r.target}`,
    blocks: [
      {type: 'header', text: {type: 'plain_text', text: clip(`Approval requested on ${r.target}`, 150)}},
      {
        type: 'section',
        fields: [
          field('Who', who),
          field('Target', r.target),
          field('Rule', r.rule ?? 'default action'),
          field('Why', r.reason),
        ],
      },
      {type: 'section', text: {type: 'mrkdwn', text: `\`\`\`${mrkdwn(clip(r.statement, 2800))}\`\`\``}},
      {
        type: 'actions',
        elements: [
          {type: 'button', text: {type: 'plain_text', text: 'Review in dbgate'}, url, action_id: 'open'},
        ],
      },
      {
        type: 'context',
        elements: [
          {type: 'mrkdwn', text: `Request ${r.id} · expires ${new Date(r.expiresAt).toISOString()}`},
        ],
      },
    ],
  }
}

function matches(sink: NotifySink, r: ApprovalRecord): boolean {
  if (!sink.targets.some((g) => targetGlobMatches(g, r.target))) return false
  return sink.rules === undefined || (r.rule !== null && sink.rules.includes(r.rule))
}

async function deliver(sink: NotifySink, body: string, now: () => number): Promise<void> {
  const timestamp = Math.floor(now() / 1000)
  const res = await request(sink.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [TIMESTAMP_HEADER]: String(timestamp),
      [SIGNATURE_HEADER]: signDelivery(sink.secret, timestamp, body),
    },
    body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  })
  await res.body.dump()
  if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`)
}

/** What a notification announces: a new request, its decision, or its expiry without a decision. */
export type NotifyKind = 'requested' | 'approved' | 'denied' | 'expired'

/** The one line a closed request's message says: who decided (and why), or that nobody did in time. */
function outcomeLine(r: ApprovalRecord, kind: Exclude<NotifyKind, 'requested'>): string {
  const request = `dbgate: request ${r.id} on ${r.target} by ${r.requesterName}`
  if (kind === 'expired') return `${request} expired without a decision`
  // The vote that decided is the last of its kind (a deny decides at once; the last approval grants).
  const vote = r.votes.filter((v) => v.decision === (kind === 'approved' ? 'approve' : 'deny')).at(-1)
  const by = vote === undefined ? '' : ` by ${vote.approverName} (${vote.approverSub})`
  const why = vote?.comment ? `: ${vote.comment}` : ''
  return `${request} was ${kind}${by}${why}`
}

/**
 * The Slack message of a request that was decided or expired: one line, so the channel sees it is closed, and
 * the statement.
 */
export function slackOutcomeMessage(
  r: ApprovalRecord,
  url: string,
  kind: Exclude<NotifyKind, 'requested'>,
): Record<string, unknown> {
  const text = clip(outcomeLine(r, kind), 2900)
  return {
    text,
    blocks: [
      {type: 'section', text: {type: 'mrkdwn', text: `${mrkdwn(text)} (<${url}|details>)`}},
      {type: 'section', text: {type: 'mrkdwn', text: `\`\`\`${mrkdwn(clip(r.statement, 2800))}\`\`\``}},
    ],
  }
}

/** What a delivery needs of the control plane. */
export type NotifyContext = Pick<ServerContext, 'store' | 'now' | 'live' | 'publicUrl'>

async function deliverWithRetries(
  ctx: NotifyContext,
  sink: NotifySink,
  r: ApprovalRecord,
  kind: NotifyKind,
): Promise<void> {
  const {retries, retry_delay: delay} = ctx.live.config.approvals
  const url = `${ctx.publicUrl()}/approvals/${encodeURIComponent(r.id)}`
  const payload =
    sink.kind === 'webhook'
      ? {type: `approval.${kind}`, approval: approvalInfo(r, ctx.publicUrl())}
      : kind === 'requested'
        ? slackMessage(r, url)
        : slackOutcomeMessage(r, url, kind)
  const body = JSON.stringify(payload)
  const what = kind === 'requested' ? sink.name : `${sink.name}, ${kind}`
  let last = ''
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(delay * 1000 * 2 ** (attempt - 1))
    try {
      await deliver(sink, body, ctx.now)
      await ctx.store.recordApprovalEvent(
        r.id,
        'notified',
        null,
        `${what} (attempt ${attempt + 1})`,
        ctx.now(),
      )
      return
    } catch (err) {
      last = messageOf(err)
    }
  }
  await ctx.store.recordApprovalEvent(
    r.id,
    'notify_failed',
    null,
    `${what}: ${retries + 1} attempts, last: ${last}`,
    ctx.now(),
  )
}

/** Sends the request (or its decision, or expiry) to every matching sink; resolves when all ended. */
export async function notifyApproval(
  ctx: NotifyContext,
  r: ApprovalRecord,
  kind: NotifyKind = 'requested',
): Promise<void> {
  const sinks = ctx.live.config.approvals.notify.filter((s) => matches(s, r))
  await Promise.all(sinks.map((s) => deliverWithRetries(ctx, s, r, kind).catch(() => undefined)))
}
