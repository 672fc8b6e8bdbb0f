/**
 * Approval requests on the control plane: who may ask (anyone who may use the target, for a statement its
 * policy sends to review), who may decide (never the requester; the approver role or a group the rule names),
 * and grants bound to requester, target and statement. The server judges the statement itself with the
 * caller's policy, so a client cannot claim a rule or settings.
 */
import {createHash, randomBytes} from 'node:crypto'

import type {
  ApprovalDetail,
  ApprovalInfo,
  ApprovalStatus,
  CreateApprovalRequest,
  UseApprovalRequest,
  UseApprovalResponse,
} from '../../control/api-types.js'
import {
  approvalSettingsOf,
  Guard,
  loadParsers,
  normalize,
  parsePolicy,
  type Dialect,
} from '../../policy/index.js'
import type {ServerContext} from '../context.js'
import {badRequest, conflict, forbidden, notFound} from '../http-errors.js'
import {hasAnyRole} from '../roles.js'
import {sessionActor} from '../routes/sessions.js'
import type {ApprovalRecord} from '../store/index.js'
import type {AccessClaims} from '../tokens.js'
import {notifyApproval} from './notify.js'
import {approvalDetail, approvalInfo} from './view.js'

/** The grant fingerprint of a statement: its literal-abstracted form hashed, or its exact text when unsure. */
export function fingerprintOf(sql: string, dialect: Dialect): string {
  const shape = normalize(sql, dialect)
  const hash = (t: string): string => createHash('sha256').update(t, 'utf8').digest('hex')
  return shape === null ? `exact:${hash(sql)}` : `sha256:${hash(shape)}`
}

/** Whether the caller may approve or deny this request (never their own). */
export function mayDecide(caller: AccessClaims, r: ApprovalRecord): boolean {
  if (caller.sub === r.requesterSub) return false
  return hasAnyRole(caller.roles, ['approver']) || r.settings.groups.some((g) => caller.groups.includes(g))
}

/** Whether the caller may see this request: its requester, a possible approver, an auditor or an admin. */
export function maySee(caller: AccessClaims, r: ApprovalRecord): boolean {
  return (
    caller.sub === r.requesterSub || mayDecide(caller, r) || hasAnyRole(caller.roles, ['auditor', 'admin'])
  )
}

/** Expires what is due before a read or a decision (the timer usually did already), notifying as it does. */
async function expireDue(ctx: ServerContext): Promise<void> {
  if (ctx.approvalExpiry !== undefined) await ctx.approvalExpiry.sweep()
  else await ctx.store.expireApprovals(ctx.now())
}

async function load(ctx: ServerContext, caller: AccessClaims, id: string): Promise<ApprovalRecord> {
  await expireDue(ctx)
  const r = await ctx.store.getApproval(id)
  if (!r || !maySee(caller, r)) throw notFound(`no approval request "${id}"`)
  return r
}

/** Creates a request for a statement the caller's policy sends to review on the target. */
export async function createApproval(
  ctx: ServerContext,
  caller: AccessClaims,
  body: CreateApprovalRequest,
): Promise<ApprovalInfo> {
  const target = await ctx.credentials.allowedTarget(caller, body.target)
  const compiled = ctx.live.policyFor(target.name, caller.groups)
  if (!compiled) throw forbidden(`no policy applies to you on target "${target.name}"; ask an admin`)
  const policy = parsePolicy(JSON.stringify(compiled.document))
  const {actor, agent} = sessionActor(caller, body)
  await loadParsers()
  const dialect: Dialect = target.protocol === 'mysql' ? 'mysql' : 'postgres'
  const guard = new Guard(policy, dialect, {cacheSize: 0})
  const defaultSchema = dialect === 'postgres' ? 'public' : target.database
  const {decision} = guard.decide(
    body.statement,
    {actor, identity: caller.sub, groups: caller.groups, target: target.name},
    {defaultSchema},
  )
  if (decision.decision !== 'review')
    throw badRequest(
      `this statement needs no approval on "${target.name}": the policy decides ${decision.decision}` +
        (decision.rule === null ? '' : ` (rule "${decision.rule}")`),
    )
  const settings = approvalSettingsOf(policy, decision.rule)
  const now = ctx.now()
  const record: ApprovalRecord = {
    id: `apr_${randomBytes(9).toString('base64url')}`,
    status: 'pending',
    requesterSub: caller.sub,
    requesterName: caller.name,
    actor,
    agent,
    target: target.name,
    statement: body.statement,
    fingerprint: fingerprintOf(body.statement, dialect),
    rule: decision.rule,
    policyName: compiled.name,
    reason: body.reason,
    process: body.process ?? null,
    source: body.source ?? 'cli',
    settings,
    createdAt: now,
    expiresAt: now + settings.expires * 1000,
    decidedAt: null,
    usesLeft: 0,
    grantExpiresAt: null,
    votes: [],
  }
  await ctx.store.createApproval(record)
  ctx.approvalExpiry?.schedule(record.expiresAt)
  // Never awaited: a slow or dead receiver must not hold the request (or the held statement) up.
  void notifyApproval(ctx, record).catch(() => undefined)
  return approvalInfo(record, ctx.publicUrl())
}

/** Requests the caller may see, newest first: everyone's for approvers, auditors and admins, else their own. */
export async function listApprovals(
  ctx: ServerContext,
  caller: AccessClaims,
  q: {status?: ApprovalStatus | undefined; limit?: number | undefined},
): Promise<ApprovalInfo[]> {
  await expireDue(ctx)
  const all = hasAnyRole(caller.roles, ['approver', 'auditor', 'admin'])
  const rows = await ctx.store.listApprovals({
    requesterSub: all ? undefined : caller.sub,
    status: q.status,
    limit: q.limit ?? 50,
  })
  return rows.filter((r) => maySee(caller, r)).map((r) => approvalInfo(r, ctx.publicUrl()))
}

/** One request with its transitions. */
export async function showApproval(
  ctx: ServerContext,
  caller: AccessClaims,
  id: string,
): Promise<ApprovalDetail> {
  const r = await load(ctx, caller, id)
  return approvalDetail(r, await ctx.store.listApprovalEvents(id), ctx.publicUrl())
}

/** Approves or denies a pending request as the caller. */
export async function decideApproval(
  ctx: ServerContext,
  caller: AccessClaims,
  id: string,
  decision: 'approve' | 'deny',
  comment: string | undefined,
): Promise<ApprovalInfo> {
  const r = await load(ctx, caller, id)
  if (caller.sub === r.requesterSub)
    throw forbidden(`you cannot ${decision} your own request ${id}; another approver must`)
  if (!mayDecide(caller, r))
    throw forbidden(
      `deciding ${id} needs the approver role` +
        (r.settings.groups.length > 0 ? ` or one of the groups ${r.settings.groups.join(', ')}` : ''),
    )
  const now = ctx.now()
  const vote = {
    approverSub: caller.sub,
    approverName: caller.name,
    decision,
    comment: comment ?? null,
    at: now,
  }
  const outcome = await ctx.store.voteApproval(id, vote, now)
  switch (outcome.kind) {
    case 'not_found':
      throw notFound(`no approval request "${id}"`)
    case 'not_pending':
      throw conflict(
        `request ${id} is ${outcome.record.status === 'pending' ? 'expired' : outcome.record.status} already`,
      )
    case 'already_voted':
      throw conflict(
        `you already decided on request ${id}; it needs ${outcome.record.settings.approvers} distinct approvers`,
      )
    case 'recorded': {
      const r = outcome.record
      if (r.grantExpiresAt !== null) ctx.approvalExpiry?.schedule(r.grantExpiresAt)
      // The request was pending before this vote: a status now set means this vote decided it. Never awaited.
      if (r.status === 'approved' || r.status === 'denied')
        void notifyApproval(ctx, r, r.status).catch(() => undefined)
      return approvalInfo(r, ctx.publicUrl())
    }
  }
}

/** Why a grant cannot be used for this statement (after the atomic use found none). */
function refusal(
  r: ApprovalRecord,
  caller: AccessClaims,
  target: string,
  fp: string,
  sql: string,
  now: number,
): Error {
  if (r.requesterSub !== caller.sub)
    return forbidden(`approval ${r.id} was requested by another identity; only ${r.requesterSub} may use it`)
  if (r.target !== target) return conflict(`approval ${r.id} is for target "${r.target}", not "${target}"`)
  if (r.status !== 'approved')
    return conflict(`approval ${r.id} is ${r.status === 'pending' ? 'still pending' : r.status}`)
  if (r.grantExpiresAt !== null && r.grantExpiresAt <= now)
    return conflict(`the grant of approval ${r.id} has expired`)
  if (r.usesLeft <= 0)
    return conflict(
      `the grant of approval ${r.id} is used up (${r.settings.uses} use${r.settings.uses === 1 ? '' : 's'})`,
    )
  if (r.fingerprint !== fp || (!r.settings.anyLiterals && r.statement !== sql))
    return conflict(
      `the statement differs from the one approved in ${r.id}; request approval for the new statement`,
    )
  return conflict(`approval ${r.id} cannot be used`)
}

/** Spends one use of a grant for this statement; without an id, any matching grant of the caller. */
export async function useApproval(
  ctx: ServerContext,
  caller: AccessClaims,
  body: UseApprovalRequest,
): Promise<UseApprovalResponse> {
  await expireDue(ctx)
  const now = ctx.now()
  const target = await ctx.store.getTarget(body.target)
  if (!target) throw notFound(`no target named "${body.target}"`)
  const fp = fingerprintOf(body.statement, target.protocol === 'mysql' ? 'mysql' : 'postgres')
  const query = {
    id: body.id,
    requesterSub: caller.sub,
    target: target.name,
    fingerprint: fp,
    statement: body.statement,
  }
  const used = await ctx.store.useGrant(query, now)
  if (used) return {approval: approvalInfo(used, ctx.publicUrl()), uses_left: used.usesLeft}
  if (body.id === undefined) throw notFound('no approved request of yours matches this statement')
  const r = await ctx.store.getApproval(body.id)
  if (!r || !maySee(caller, r)) throw notFound(`no approval request "${body.id}"`)
  throw refusal(r, caller, target.name, fp, body.statement, now)
}
