/**
 * What the proxy does with a statement the policy sends to `review`, when the session has a review hook
 * (control-plane mode; the CLI supplies it and talks to the control plane). The hook answers `run` (a grant
 * was spent for this exact statement) or `refuse` (with the request to approve, or why a grant did not
 * apply). While it waits (hold mode) the client's reads are paused for this session only, and NOTICEs tell
 * the client which request to approve and where. The same hold serves both protocols: a simple Query, and a
 * Parse in the extended protocol (node-postgres with parameters, named prepared statements); a CancelRequest
 * from the client ends the wait with the server's own 57014 error.
 */
import {approvalSettingsOf, scanPostgres, ShapeScan} from '../../policy/index.js'
import {holdStatement, needsValuesRefusal, type ReviewHook, type ReviewRefusal} from '../review.js'
import type {IssuedKey} from './cancel.js'
import {REVIEW_ROUTINE} from './decide.js'
import type {ReadGate} from '../flow.js'
import {Backend, ErrorField, SqlState} from './messages.js'
import type {RunWriter} from '../run-writer.js'
import type {StatementInfo} from '../session-audit.js'
import type {SessionState} from './session-state.js'
import {bodyOf, errorResponse, readyForQuery, typed} from './wire.js'

export type {ReviewHook, ReviewOutcome, ReviewRequest} from '../review.js'

/** NoticeResponse ('N') with severity NOTICE. */
export function noticeResponse(message: string, detail?: string): Buffer {
  const parts: Buffer[] = []
  const add = (code: number, value: string | undefined): void => {
    if (value !== undefined) parts.push(Buffer.from([code]), Buffer.from(`${value}\0`, 'utf8'))
  }
  add(ErrorField.Severity, 'NOTICE')
  add(ErrorField.SeverityNonLocalized, 'NOTICE')
  add(ErrorField.Code, '00000')
  add(ErrorField.Message, message)
  add(ErrorField.Detail, detail)
  parts.push(Buffer.from([0]))
  return typed(Backend.NoticeResponse, Buffer.concat(parts))
}

/** The ErrorResponse of a refused review (SQLSTATE 42501, routine dbgate_policy_review). */
export function reviewRefusal(outcome: ReviewRefusal): Buffer {
  return errorResponse({
    severity: 'ERROR',
    code: SqlState.insufficientPrivilege,
    message: outcome.message,
    hint: outcome.hint,
    routine: REVIEW_ROUTINE,
  })
}

/** What a held statement needs from the client dispatcher of its session. */
export interface ReviewSession {
  readonly state: SessionState
  readonly toServer: RunWriter
  readonly clientGate: ReadGate
  /** The client's cancel key; without one a cancel cannot reach a held statement. */
  readonly cancelKey?: IssuedKey | undefined
  /** True once the session is ending. */
  readonly closed: () => boolean
  /** Reads the client's next messages again (after `clientGate` was released). */
  readonly resume: () => void
}

/** The ErrorResponse of a held statement the client cancelled, as the server words it. */
export function cancelledByUser(): Buffer {
  return errorResponse({severity: 'ERROR', code: '57014', message: 'canceling statement due to user request'})
}

/**
 * Holds a `review` statement while the hook decides: reading from this client pauses (other sessions go on),
 * `run` forwards it, a refusal or a cancel answers with an error. `extended` (a Parse) answers without
 * ReadyForQuery and discards the client's messages until Sync, as a server in error state does; a simple
 * Query's answer ends with ReadyForQuery. A cancelled request stays pending on the control plane: the hook
 * sees `active() === false` and stops waiting without spending a grant.
 */
export function holdForReview(
  session: ReviewSession,
  hook: ReviewHook,
  v: StatementInfo,
  extended: boolean,
  run: (approvalId: string) => void,
): void {
  const s = session.state
  session.toServer.flush()
  session.clientGate.hold('decision')
  const answer = (error: Buffer): void => {
    s.audit.statementEvent(v)
    if (extended) {
      s.inject(() => error)
      s.discardUntilSync = true
    } else s.inject(() => Buffer.concat([error, readyForQuery(s.txStatus)]))
  }
  // A statement that carries a grant already was approved: it may only spend that approval again.
  const request = {sql: v.sql, decision: v.decision, extended, again: v.grant?.approvalId}
  const hold = holdStatement(hook, request, {
    closed: session.closed,
    notice: (message, detail) => s.inject(() => noticeResponse(message, detail)),
    run,
    refuse: (outcome) => answer(reviewRefusal(outcome)),
    settle: () => {
      session.cancelKey?.intercept(undefined)
      if (!session.closed()) session.resume()
    },
  })
  session.cancelKey?.intercept(() => hold.cancel(() => answer(cancelledByUser())))
}

/** How Postgres names its placeholders in a refusal. */
const PG_PLACEHOLDERS = {placeholders: '$1, …', textClient: 'psql'}

/** `$n` not inside an identifier, as text: the fallback when the policy's lexer is not certain of a query. */
const PLACEHOLDER = /(?:^|[^\p{L}\p{N}_$])\$\d/u

const lexed = new ShapeScan()

/**
 * True when the text has a parameter placeholder: counted by the policy's lexer (not `$1` in a literal, a
 * quoted identifier, a comment or a dollar-quoted body); where the lexer is not certain of the text, any `$n`
 * outside an identifier counts (fails closed).
 */
function hasPlaceholder(sql: string): boolean {
  return scanPostgres(sql, lexed) ? lexed.placeholders > 0 : PLACEHOLDER.test(sql)
}

/** True when a Parse takes values at Bind: `$n` in its text, parameter types in the message, or a bad frame. */
export function takesValues(frame: Buffer, sql: string): boolean {
  if (hasPlaceholder(sql)) return true
  try {
    const r = bodyOf(frame)
    r.cstringBytes()
    r.cstringBytes()
    return r.int16() !== 0
  } catch {
    return true
  }
}

/**
 * A `review` Parse. Its values arrive later in Bind, so an approval of its text would cover any values: unless
 * the rule lets a grant cover other literal values (`any_literals`), a Parse that takes values is refused at
 * once, without a request, saying how to have it approved with its values. Otherwise it is held like a Query;
 * once approved, its statement carries the grant for one Bind per use spent (bindApproved). Returns false
 * while held (the client's reads pause).
 */
export function reviewParse<V extends StatementInfo>(
  session: ReviewSession,
  hook: ReviewHook,
  v: V,
  frame: Buffer,
  run: (approved: V) => void,
): boolean {
  const s = session.state
  if (!approvalSettingsOf(s.guard.policy, v.decision.rule).anyLiterals && takesValues(frame, v.sql)) {
    const refusal = needsValuesRefusal(v.decision, hook.target, PG_PLACEHOLDERS)
    return refuseInBatch(s, v, refusal.message, refusal.hint)
  }
  holdForReview(session, hook, v, true, (approvalId) => run({...v, grant: {approvalId, binds: 1}}))
  return false
}

/**
 * A Bind of a statement approved at Parse (a portal runs its statement once): the use spent at Parse covers
 * the first Bind; each later one, of a named statement or of an unnamed one bound again without a new Parse,
 * is held while the hook spends one more use of the same approval (`again`), so the statement runs as many
 * times as the grant allows and is refused after. `run` binds. Returns false while held.
 */
export function bindApproved(
  session: ReviewSession,
  hook: ReviewHook | undefined,
  info: StatementInfo,
  grant: {binds: number},
  run: () => void,
): boolean {
  if (grant.binds > 0) {
    grant.binds--
    run()
    return true
  }
  // A grant is only ever attached through a hook; without one there is nothing to spend (fail closed).
  if (hook === undefined)
    return refuseInBatch(session.state, info, 'dbgate: this prepared statement ran as approved')
  holdForReview(session, hook, info, true, run)
  return false
}

/** Refuses a message of the extended protocol at once: audit event, 42501, discard until Sync. */
function refuseInBatch(s: SessionState, info: StatementInfo, message: string, hint?: string): true {
  s.audit.statementEvent(info)
  s.inject(() => reviewRefusal({kind: 'refuse', message, hint, approvalId: null}))
  s.discardUntilSync = true
  return true
}
