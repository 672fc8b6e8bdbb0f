/**
 * Approvals in a MySQL session (the hold itself is shared: src/proxy/review.ts). A COM_QUERY or COM_STMT_PREPARE
 * that got `review` is held while the review hook decides; the client's later packets wait in order behind it
 * (the protocol has no asynchronous notice, so the waiting message goes to dbgate's own output). Approved, the
 * command goes to the server; refused, the client gets ERR 1142 with SQLSTATE 42501 (a denial's is 42000) and the
 * session goes on. A prepared statement approved at PREPARE runs once per use of its grant, as in Postgres.
 */
import {approvalSettingsOf, scanMysql, ShapeScan, type Policy} from '../../policy/index.js'
import type {StatementInfo} from '../session-audit.js'
import {holdStatement, needsValuesRefusal, type ReviewHook, type ReviewRefusal} from '../review.js'
import type {SessionHeld} from './held.js'
import {ErrCode} from './protocol.js'
import type {MysqlSessionState} from './session-state.js'
import type {ClientWait} from './waiting.js'
import {errPacket} from './wire.js'

/** The SQLSTATE of a refused review (as Postgres's 42501): what tells it from a denial (42000). */
export const REVIEW_SQLSTATE = '42501'
/** Joins a refusal's message and hint in the ERR message (the packet has no hint field). */
export const HINT_SEPARATOR = '. Hint: '

/** An ERR message with a hint after it (a final period of the message gives way to the separator's). */
export function withHint(message: string, hint: string | undefined): string {
  return hint === undefined ? message : `${message.replace(/\.$/, '')}${HINT_SEPARATOR}${hint}`
}

/** The ERR packet of a refused review: 1142, SQLSTATE 42501, the message and the hint. */
export function reviewErr(seq: number, refusal: ReviewRefusal): Buffer {
  return errPacket(seq, ErrCode.accessDenied, REVIEW_SQLSTATE, withHint(refusal.message, refusal.hint))
}

const lexed = new ShapeScan()

/**
 * True when a prepared statement takes values: a `?` placeholder counted by the policy's lexer (not one in a
 * literal, quoted text or a comment); where the lexer is not certain of the text (an executable comment, a
 * backslash, …), any `?` counts (fails closed).
 */
export function takesValues(sql: string): boolean {
  return scanMysql(sql, lexed) ? lexed.placeholders > 0 : sql.includes('?')
}

/** What the review of one session needs from its client dispatcher. */
export interface MysqlReviewOptions {
  readonly hook: ReviewHook
  readonly state: MysqlSessionState
  readonly policy: () => Policy
  /** Where the client's later packets wait while a statement is held. */
  readonly wait: ClientWait
  /** Where the waiting message goes (dbgate's stderr); none: the client just waits. */
  readonly notice: ((message: string, detail?: string) => void) | undefined
  /** True once the session is ending. */
  readonly closed: () => boolean
  /** A reply of the proxy's own, in the command's turn. */
  readonly local: (bytes: Buffer) => void
  /** The engine's held statements, where a held one is registered so that a KILL of its connection ends it. */
  readonly held?: SessionHeld | undefined
}

/** The review state of one session: at most one statement held, the client's later packets kept in order. */
export class MysqlReview {
  constructor(private readonly o: MysqlReviewOptions) {}

  /**
   * A `review` COM_QUERY (`prepared` false) or COM_STMT_PREPARE. A PREPARE whose values come later (`?`) is
   * refused at once without a request, unless the rule lets a grant cover any literal values. Otherwise it is
   * held; `send` forwards the command once approved, a PREPARE's statement carrying the grant for one execution.
   */
  statement(
    reply: number,
    info: StatementInfo,
    prepared: boolean,
    send: (approved: StatementInfo) => void,
  ): void {
    if (
      prepared &&
      !approvalSettingsOf(this.o.policy(), info.decision.rule).anyLiterals &&
      takesValues(info.sql)
    ) {
      const refusal = needsValuesRefusal(info.decision, this.o.hook.target, MYSQL_PLACEHOLDERS)
      this.refuse(reply, info, refusal)
      return
    }
    this.hold(reply, info, prepared, (approvalId) =>
      send(prepared ? {...info, grant: {approvalId, binds: 1}} : info),
    )
  }

  /**
   * COM_STMT_EXECUTE of a statement approved at PREPARE: the use spent then covers one execution; each later
   * one is held while the hook spends one more use of the same approval, and refused once the grant is used up.
   */
  execute(reply: number, info: StatementInfo, grant: {binds: number}, send: () => void): void {
    if (grant.binds > 0) {
      grant.binds--
      send()
      return
    }
    this.hold(reply, info, true, send)
  }

  private hold(
    reply: number,
    info: StatementInfo,
    prepared: boolean,
    run: (approvalId: string) => void,
  ): void {
    this.o.wait.begin()
    let waiting = true
    const request = {
      sql: info.sql,
      decision: info.decision,
      extended: prepared,
      again: info.grant?.approvalId,
    }
    let unregister: (() => void) | undefined
    const hold = holdStatement(this.o.hook, request, {
      closed: this.o.closed,
      notice: (message, detail) => this.o.notice?.(message, detail),
      run,
      refuse: (outcome) => this.refuse(reply, info, outcome),
      settle: () => {
        unregister?.()
        waiting = false
        this.o.wait.end()
      },
    })
    const held = this.o.held
    if (held !== undefined && waiting)
      unregister = held.statements.register(held.connectionId, () =>
        hold.cancel(() => {
          // As the server answers a statement that KILL QUERY stopped; the request stays pending.
          this.o.state.audit.statementEvent(info)
          this.o.local(errPacket(reply, ErrCode.interrupted, '70100', INTERRUPTED))
        }),
      )
  }

  private refuse(reply: number, info: StatementInfo, refusal: ReviewRefusal): void {
    this.o.state.audit.statementEvent(info)
    this.o.local(reviewErr(reply, refusal))
  }
}

/** The answer to a held statement whose wait a KILL QUERY ended. */
const INTERRUPTED =
  'Query execution was interrupted: dbgate stopped waiting for its approval (the request stays open)'

/** How MySQL names its placeholders in a refusal. */
const MYSQL_PLACEHOLDERS = {placeholders: '?', textClient: 'the mysql client'}
