/**
 * How the MySQL engine asks the guard: the query text it passes (refusing text it cannot read the way
 * the server does), the SQL equivalents of protocol commands, and the ERR packet of a denial.
 */
import type {Decision, Policy} from '../../policy/index.js'
import {decisionMessage, unparseableDecision} from '../decision.js'
import {ErrCode} from './protocol.js'
import {REVIEW_SQLSTATE, withHint} from './review.js'
import {errPacket} from './wire.js'

/** Query text the guard can read, or why it cannot be read safely. */
export type QueryText =
  | {readonly ok: true; readonly sql: string}
  | {readonly ok: false; readonly sql: string; readonly reason: string}

/**
 * Decodes query bytes `payload[start, end)` as UTF-8. A backslash right after a non-ASCII byte is
 * refused: in GBK, Big5, SJIS and friends that byte pair is one character, so a server using such a
 * character set would not see the backslash that escapes a quote for the guard's lexer.
 */
export function readQuery(payload: Buffer, start: number): QueryText {
  const sql = payload.toString('utf8', start)
  let i = payload.indexOf(0x5c, start)
  while (i > start) {
    if ((payload[i - 1] as number) >= 0x80)
      return {
        ok: false,
        sql,
        reason: 'a backslash follows a non-ASCII byte, which some character sets read as one character',
      }
    i = payload.indexOf(0x5c, i + 1)
  }
  return {ok: true, sql}
}

/** The decision for text the engine refused to read: `defaults.unparseable` decides. */
export function refusedText(policy: Policy, reason: string): Decision {
  return unparseableDecision(policy, reason)
}

/** A MySQL identifier quoted with backticks. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

/**
 * The ERR packet of a deny or review decision: error 1142, the rule and its message. A review (here only
 * without a review hook: standalone mode) has SQLSTATE 42501 as every refused review, a denial 42000.
 */
export function decisionErr(seq: number, d: Decision): Buffer {
  if (d.decision === 'review')
    return errPacket(
      seq,
      ErrCode.accessDenied,
      REVIEW_SQLSTATE,
      withHint(
        decisionMessage(d),
        'This statement needs approval before it can run; approvals are not available in standalone mode yet.',
      ),
    )
  const hint = d.rule === null ? ' (no rule allows this statement; ask the owner of the dbgate policy)' : ''
  return errPacket(seq, ErrCode.accessDenied, '42000', `${decisionMessage(d)}${hint}`)
}

/** True when a query looks like `LOAD DATA ... LOCAL INFILE`, for a clear refusal before the server's. */
export function mentionsLocalInfile(sql: string): boolean {
  return /\bLOAD\b[\s\S]*\bLOCAL\b[\s\S]*\bINFILE\b/i.test(sql)
}
