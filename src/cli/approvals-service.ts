/**
 * The CLI side of approvals: asking for one (`dbgate request-approval`), the review queue (`dbgate approvals`),
 * waiting for a decision, and the review hook the guarded proxy of `connect TARGET` / `exec TARGET` calls when
 * a statement gets `review`: spend a matching grant, or create a request and either refuse at once (reject
 * mode) or hold the statement until it is decided (hold mode).
 */
import {setTimeout as sleep} from 'node:timers/promises'

import {getAuthenticatedClient, type AuthenticatedClient} from '../auth/session.js'
import type {Settings} from '../config/index.js'
import type {ApprovalDetail, ApprovalInfo, ApprovalStatus} from '../control/api-types.js'
import type {ControlClient} from '../control/client.js'
import {ControlPlaneError} from '../control/errors.js'
import {DbgateError, ExitCode, UsageError, messageOf} from '../errors.js'
import type {ReviewHook, ReviewOutcome, ReviewRequest} from '../proxy/index.js'

/** How often a waiting CLI asks whether a request was decided. */
export const POLL_MS = 1000

/** Where the CLI finds the control plane and its login. */
export interface ApprovalCliContext {
  readonly settings: Settings
  readonly env: NodeJS.ProcessEnv
}

/** A request that was denied: exit 3. */
export class ApprovalDeniedError extends DbgateError {
  /** Names the request and who denied it, with their comment. */
  constructor(info: ApprovalInfo) {
    super('E_APPROVAL_DENIED', `Request ${info.id} was denied${deniedBy(info)}.`, {exitCode: ExitCode.denied})
    this.name = 'ApprovalDeniedError'
  }
}

/** A request that expired without enough approvals: exit 1. */
export class ApprovalExpiredError extends DbgateError {
  /** Names the request and when it expired. */
  constructor(info: ApprovalInfo) {
    super('E_APPROVAL_EXPIRED', `Request ${info.id} expired at ${info.expires_at} without approval.`, {
      exitCode: ExitCode.error,
      suggestions: ['Request approval again, and ask an approver to look at it in time.'],
    })
    this.name = 'ApprovalExpiredError'
  }
}

function deniedBy(info: ApprovalInfo): string {
  const v = info.votes.find((x) => x.decision === 'deny')
  if (v === undefined) return ''
  return ` by ${v.approver_name}${v.comment === null ? '' : `: ${v.comment}`}`
}

async function clientOf(c: ApprovalCliContext): Promise<AuthenticatedClient> {
  return getAuthenticatedClient({...c.settings, env: c.env})
}

/** What `request-approval` asks for. */
export interface ApprovalAsk {
  readonly target: string
  readonly sql: string
  readonly reason: string
  readonly agent?: string | undefined
}

/** Creates a request on the control plane. */
export async function requestApproval(c: ApprovalCliContext, ask: ApprovalAsk): Promise<ApprovalInfo> {
  const {client} = await clientOf(c)
  return client.createApproval({
    target: ask.target,
    statement: ask.sql,
    reason: ask.reason,
    source: 'cli',
    ...(ask.agent === undefined ? {} : {actor: 'agent' as const, agent: ask.agent}),
  })
}

/** Polls until the request is no longer pending (or `active` turns false); `onPoll` sees each answer. */
export async function waitForDecision(
  client: () => Promise<ControlClient>,
  id: string,
  onPoll: (info: ApprovalInfo) => void = () => undefined,
  pollMs = POLL_MS,
  active: () => boolean = () => true,
): Promise<ApprovalDetail> {
  for (;;) {
    const info = await (await client()).getApproval(id)
    onPoll(info)
    if (info.status !== 'pending' || !active()) return info
    await sleep(pollMs)
  }
}

/** Waits for a decision as the logged-in identity; throws when the request ends denied or expired. */
export async function waitForApproval(
  c: ApprovalCliContext,
  id: string,
  onPoll?: (info: ApprovalInfo) => void,
): Promise<ApprovalDetail> {
  const info = await waitForDecision(cachedClient(c), id, onPoll)
  if (info.status === 'denied') throw new ApprovalDeniedError(info)
  if (info.status === 'expired') throw new ApprovalExpiredError(info)
  return info
}

/** The requests the caller may see. */
export async function listApprovals(c: ApprovalCliContext, status?: ApprovalStatus): Promise<ApprovalInfo[]> {
  return (await (await clientOf(c)).client.listApprovals(status)).approvals
}

/** One request with its transitions. */
export async function showApproval(c: ApprovalCliContext, id: string): Promise<ApprovalDetail> {
  return (await clientOf(c)).client.getApproval(id)
}

/** Approves or denies a request as the logged-in identity. */
export async function decideApproval(
  c: ApprovalCliContext,
  id: string,
  decision: 'approve' | 'deny',
  comment?: string,
): Promise<ApprovalInfo> {
  return (await clientOf(c)).client.decideApproval(id, decision, comment)
}

/** What the proxy's review hook needs. */
export interface ReviewHookOptions {
  readonly target: string
  readonly agent?: string | undefined
  /** `exec --approval ID`: spend this request's grant; never create a new request. */
  readonly approvalId?: string | undefined
  /** A client with a fresh access token. */
  readonly client: () => Promise<ControlClient>
  readonly pollMs?: number | undefined
}

function refuse(message: string, approvalId: string | null, hint?: string): ReviewOutcome {
  return {kind: 'refuse', message, hint, approvalId}
}

function apiMessage(err: unknown): string {
  return err instanceof ControlPlaneError
    ? err.message.replace(/^The control plane refused the request: /, '')
    : messageOf(err)
}

/** The review hook of a control-plane session (see src/proxy/review.ts). */
export function reviewHook(o: ReviewHookOptions): ReviewHook {
  const use = async (sql: string, id?: string): Promise<string> =>
    (
      await (
        await o.client()
      ).useApproval({target: o.target, statement: sql, ...(id === undefined ? {} : {id})})
    ).approval.id

  const afterDecision = async (req: ReviewRequest, info: ApprovalInfo): Promise<ReviewOutcome> => {
    if (info.status === 'denied')
      return refuse(`dbgate: request ${info.id} was denied${deniedBy(info)}`, info.id)
    if (info.status === 'expired')
      return refuse(`dbgate: request ${info.id} expired without approval; the statement did not run`, info.id)
    // The client left while the statement was held: keep the grant for a later run.
    if (!req.active() || info.status !== 'approved')
      return refuse(`dbgate: the session ended before request ${info.id} was decided`, info.id)
    try {
      return {kind: 'run', approvalId: await use(req.sql, info.id)}
    } catch (err) {
      return refuse(`dbgate: approval ${info.id} cannot be used: ${apiMessage(err)}`, info.id)
    }
  }

  return {
    target: o.target,
    review: async (req, notice) => {
      if (req.again !== undefined) {
        if (!req.active()) return refuse('dbgate: the session ended', req.again)
        try {
          return {kind: 'run', approvalId: await use(req.sql, req.again)}
        } catch (err) {
          return refuse(
            `dbgate: this prepared statement ran as approved, and approval ${req.again} cannot be used again: ${apiMessage(err)}`,
            req.again,
            'Prepare it again (close it first, or use an unnamed statement) to ask for a new approval.',
          )
        }
      }
      if (o.approvalId !== undefined) {
        try {
          return {kind: 'run', approvalId: await use(req.sql, o.approvalId)}
        } catch (err) {
          return refuse(`dbgate: approval ${o.approvalId} cannot be used: ${apiMessage(err)}`, o.approvalId)
        }
      }
      try {
        return {kind: 'run', approvalId: await use(req.sql)}
      } catch (err) {
        if (!(err instanceof ControlPlaneError && err.status === 404)) throw err
      }
      const info = await (
        await o.client()
      ).createApproval({
        target: o.target,
        statement: req.sql,
        reason: 'held by the dbgate proxy: the statement got review',
        source: 'proxy',
        ...(req.process === undefined ? {} : {process: req.process.slice(0, 2000)}),
        ...(o.agent === undefined ? {} : {actor: 'agent' as const, agent: o.agent}),
      })
      const by = info.rule === null ? 'the default action' : `rule "${info.rule}"`
      if (info.settings.mode === 'reject')
        return refuse(
          `dbgate: approval required by ${by}: request ${info.id} was created (${info.url})`,
          info.id,
          req.extended === true
            ? `Once it is approved, run the same statement again through dbgate connect ${o.target}: the grant is spent when it is prepared.`
            : `Once it is approved, run it with: dbgate exec ${o.target} --approval ${info.id} --sql '…', or re-run the same statement in this dbgate connect session.`,
        )
      notice(
        `dbgate: approval required by ${by}: waiting for request ${info.id}`,
        `Approve it at ${info.url} or with: dbgate approvals approve ${info.id}. The statement runs once approved; it expires at ${info.expires_at}.`,
      )
      return afterDecision(req, await waitForDecision(o.client, info.id, undefined, o.pollMs, req.active))
    },
  }
}

/** A client factory that keeps one access token until shortly before it expires. */
export function cachedClient(c: ApprovalCliContext): () => Promise<ControlClient> {
  let current: AuthenticatedClient | undefined
  return async () => {
    if (current === undefined || current.accessTokenExpiresAt - Date.now() < 60_000)
      current = await clientOf(c)
    return current.client
  }
}

/** The statement of `request-approval`: --sql, or the text of --file. */
export function readStatement(
  sql: string | undefined,
  file: string | undefined,
  read: (f: string) => string,
): string {
  let text: string
  if (sql !== undefined) text = sql
  else if (file !== undefined) {
    try {
      text = read(file)
    } catch (err) {
      throw new UsageError(`Cannot read --file ${file}: ${messageOf(err)}`)
    }
  } else throw new UsageError('Give the statement with --sql or --file.')
  if (text.trim() === '') throw new UsageError(`No SQL in ${sql !== undefined ? '--sql' : file}.`)
  return text
}

/** One line per request for `approvals list` and the table's columns. */
export function approvalRow(a: ApprovalInfo): (string | number)[] {
  const approvals = a.votes.filter((v) => v.decision === 'approve').length
  const oneLine = a.statement.replace(/\s+/g, ' ').trim()
  return [
    a.id,
    a.status,
    a.target,
    a.requester_name,
    `${approvals}/${a.settings.approvers}`,
    oneLine.length > 60 ? `${oneLine.slice(0, 59)}…` : oneLine,
  ]
}

/** The columns of approvalRow. */
export const APPROVAL_COLUMNS = ['id', 'status', 'target', 'requester', 'approvals', 'statement']

/** The human-readable form of one request (`approvals show`). */
export function describeApproval(a: ApprovalDetail): string {
  const lines = [
    `${a.id}  ${a.status}`,
    `target:     ${a.target}`,
    `requester:  ${a.requester_name} (${a.requester})${a.agent === null ? '' : ` via agent ${a.agent}`}, actor ${a.actor}`,
    `rule:       ${a.rule ?? 'default action'} (policy ${a.policy_name})`,
    `reason:     ${a.reason}`,
    ...(a.process === null ? [] : [`process:    ${a.process}`]),
    `approvers:  ${a.votes.filter((v) => v.decision === 'approve').length} of ${a.settings.approvers}` +
      (a.settings.groups.length > 0 ? ` (approver role or groups ${a.settings.groups.join(', ')})` : ''),
    `expires:    ${a.expires_at}`,
    ...(a.grant === null ? [] : [`grant:      ${a.grant.uses_left} use(s) left until ${a.grant.expires_at}`]),
    `page:       ${a.url}`,
    ...(a.events_intact
      ? []
      : ['WARNING: the stored events of this request do not hash-chain: the store was edited.']),
    '',
    a.statement,
    '',
    ...a.events.map(
      (e) =>
        `${e.at}  ${e.type}${e.actor === null ? '' : ` by ${e.actor}`}${e.detail === null ? '' : `: ${e.detail}`}`,
    ),
  ]
  return lines.join('\n')
}
