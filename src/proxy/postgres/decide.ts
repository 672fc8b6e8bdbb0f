/**
 * How the Postgres engine asks the guard: the session facts it passes, the cases it refuses to
 * parse at all (fail closed), and how a decision becomes the ErrorResponse the client sees.
 */
import type {Decision, EvalContext, Guard, Operation} from '../../policy/index.js'
import {decisionMessage} from '../decision.js'
import {SqlState} from './messages.js'
import {errorResponse} from './wire.js'

/** Client encodings in which a multibyte character may contain an ASCII byte such as a quote or backslash. */
const UNSAFE_ENCODINGS = new Set([
  'sjis',
  'shift_jis',
  'big5',
  'gbk',
  'uhc',
  'gb18030',
  'johab',
  'mskanji',
  'win932',
  'win936',
  'win949',
  'win950',
  'cp932',
  'cp936',
  'cp949',
  'cp950',
])
/** Single-byte encodings decoded as latin1: every byte stays one character, so the structure survives. */
const UTF8_LIKE = new Set(['utf8', 'utf-8', 'unicode', 'sql_ascii'])

/** How query bytes in a client encoding decode: as UTF-8, byte per character, or not safely at all. */
export type EncodingClass = 'utf8' | 'latin1' | 'unsafe'

/** The class of a server-reported client_encoding; computed when it changes, not per query. */
export function encodingClass(clientEncoding: string): EncodingClass {
  const enc = clientEncoding.toLowerCase()
  if (UNSAFE_ENCODINGS.has(enc)) return 'unsafe'
  return UTF8_LIKE.has(enc) ? 'utf8' : 'latin1'
}

/** The session facts that change how query text must be read. */
export interface TextContext {
  /** The server's standard_conforming_strings; the guard's parser assumes on. */
  readonly standardConformingStrings: boolean
  /** The server-reported client_encoding, and its class. */
  readonly clientEncoding: string
  readonly encoding: EncodingClass
}

/** Query text the guard can read, or why it cannot be read safely. */
export type SqlText =
  | {readonly ok: true; readonly sql: string}
  | {readonly ok: false; readonly sql: string; readonly reason: string}

/**
 * Decodes the query bytes `frame[start, end)` without copying them first, and refuses text the
 * parser could misread. `inFlight`: earlier statements still running may change the settings.
 */
export function readSql(
  frame: Buffer,
  start: number,
  end: number,
  ctx: TextContext,
  inFlight: boolean,
): SqlText {
  if (ctx.encoding === 'unsafe')
    return {
      ok: false,
      sql: frame.toString('latin1', start, end),
      reason: `client_encoding ${ctx.clientEncoding} cannot be analyzed safely`,
    }
  const sql =
    ctx.encoding === 'utf8' ? frame.toString('utf8', start, end) : frame.toString('latin1', start, end)
  // A backslash is one byte in every encoding of these classes: searching the text finds the same.
  if (sql.includes('\\')) {
    if (!ctx.standardConformingStrings)
      return {
        ok: false,
        sql,
        reason: 'standard_conforming_strings is off, so backslashes in strings cannot be analyzed safely',
      }
    if (inFlight)
      return {
        ok: false,
        sql,
        reason:
          'a statement with backslashes was pipelined behind statements that may change standard_conforming_strings',
      }
  }
  return {ok: true, sql}
}

/** A protocol-level function call is allowed only by a rule that explicitly allows it. */
export function decideFunctionCall(guard: Guard, name: string, ctx: EvalContext): Decision {
  const operation: Operation = {kind: 'call', tables: [], functions: [name], where: null}
  const decision = guard.decideOperations([operation], ctx)
  if (decision.decision === 'allow' && decision.rule === null)
    return {
      ...decision,
      decision: 'deny',
      message: `fastpath function calls (${name}) must be allowed by a rule, not by the default action`,
    }
  return decision
}

function describeOperations(ops: readonly Operation[]): string | undefined {
  if (ops.length === 0) return undefined
  const parts = ops.slice(0, 5).map((o) => {
    const tables = o.tables.length > 0 ? ` on ${o.tables.join(', ')}` : ''
    const fns = o.functions.length > 0 ? ` calling ${o.functions.join(', ')}` : ''
    return `${o.kind}${tables}${fns}`
  })
  return `Operations: ${parts.join('; ')}${ops.length > 5 ? '; ...' : ''}.`
}

/** Routine names dbgate puts in its own ErrorResponses, so scripts can tell them from the server's. */
export const DENY_ROUTINE = 'dbgate_policy_deny'
/** See DENY_ROUTINE. */
export const REVIEW_ROUTINE = 'dbgate_policy_review'

/** The ErrorResponse for a deny or review decision (SQLSTATE 42501). */
export function decisionError(d: Decision, severity: 'ERROR' | 'FATAL' = 'ERROR'): Buffer {
  const review = d.decision === 'review'
  return errorResponse({
    severity,
    code: SqlState.insufficientPrivilege,
    message: decisionMessage(d),
    detail: describeOperations(d.operations),
    hint: review
      ? 'This statement needs approval before it can run; approvals are not available in standalone mode yet.'
      : d.rule === null
        ? 'No rule allows this statement. Ask the owner of the dbgate policy if it should run.'
        : `Policy rule "${d.rule}" blocks this statement. Ask the owner of the dbgate policy if it should run.`,
    routine: review ? REVIEW_ROUTINE : DENY_ROUTINE,
  })
}
