/**
 * What the two dispatchers of a MySQL session share: the default schema the guard resolves tables
 * against, SQL-level prepared statements, protocol-level statements by id, and the FIFO of responses
 * the server still owes (clients may pipeline commands; a denial is answered in its turn).
 */
import type {Decision, Operation} from '../../policy/index.js'
import type {Running, SessionAudit, StatementInfo} from '../session-audit.js'
import {UNKNOWN_CHARSET, type ResultCharset} from './charset.js'
import type {CatalogLookup, MysqlMaskSession, MysqlMaskStatement} from './mask-session.js'

/** The shape of a response the server owes for one command. */
export type Expect =
  /** One OK or ERR (COM_PING, COM_INIT_DB, COM_RESET_CONNECTION, COM_STMT_RESET, COM_SET_OPTION). */
  | 'ok'
  /** One packet whatever it is (COM_STATISTICS). */
  | 'single'
  /** Result sets, OKs, an ERR, or a LOCAL INFILE request (COM_QUERY, COM_STMT_EXECUTE). */
  | 'result'
  /** Column definitions up to an EOF or ERR (COM_FIELD_LIST). */
  | 'fields'
  /** COM_STMT_PREPARE_OK and its parameter and column definitions, or ERR. */
  | 'prepare'

/** One response owed by the server, or a reply the proxy makes in its turn. */
export type Entry =
  | {
      readonly kind: 'server'
      readonly expect: Expect
      /** The statement being run, for its audit event. */
      readonly running: Running | undefined
      /** Applied when the response succeeds. */
      readonly onSuccess?: (() => void) | undefined
      /** Applied when the response ends in an ERR; may throw to end the session. */
      readonly onFailure?: (() => void) | undefined
      /** The statement text of a COM_STMT_PREPARE, remembered by statement id. */
      readonly prepared?: StatementInfo | undefined
      /** The statement's masking state, when masking rules apply to it. */
      readonly mask?: MysqlMaskStatement | undefined
      /** Rows come in the binary protocol (COM_STMT_EXECUTE). */
      readonly binary?: boolean | undefined
      /** The proxy's own catalog lookup: its response is read, never forwarded. */
      readonly lookup?: CatalogLookup | undefined
    }
  | {readonly kind: 'local'; readonly bytes: Buffer}

/** State shared by the client and server dispatchers of one session. */
export class MysqlSessionState {
  /** The schema unqualified tables resolve to (COM_INIT_DB, USE). */
  schema: string
  /** SQL PREPARE statements, by name, for the guard's EXECUTE analysis. */
  readonly prepared = new Map<string, readonly Operation[]>()
  /** Protocol-level prepared statements (allowed at prepare), by statement id, for audit. */
  readonly statements = new Map<number, StatementInfo>()
  /** Responses owed, oldest first. */
  readonly queue: Entry[] = []
  /** The charset of result text (character_set_results): masking reads values in it. */
  resultCharset: ResultCharset

  /** The session's masking; set by the relay when the policy has masking rules. */
  masking: MysqlMaskSession | undefined

  constructor(
    schema: string,
    /** The session's capabilities (the same on both sides). */
    readonly capabilities: number,
    readonly audit: SessionAudit,
    /** The result charset the handshake set; COM_RESET_CONNECTION returns to it. */
    readonly initialCharset: ResultCharset = UNKNOWN_CHARSET,
  ) {
    this.schema = schema
    this.resultCharset = initialCharset
  }

  /** What COM_RESET_CONNECTION resets: prepared statements and the result charset. */
  reset(): void {
    this.prepared.clear()
    this.statements.clear()
    this.resultCharset = this.initialCharset
  }

  /** Records the effects of an allowed query on the SQL prepared-statement namespace. */
  applyPrepares(
    prepares: readonly {name: string; operations: readonly Operation[]}[],
    deallocates: readonly string[] | 'all',
  ): void {
    if (deallocates === 'all') this.prepared.clear()
    else for (const name of deallocates) this.prepared.delete(name)
    for (const p of prepares) this.prepared.set(p.name, p.operations)
  }

  /** Starts a statement's audit record. */
  run(sql: string, decision: Decision): Running {
    return {sql, decision, startedAt: performance.now(), rows: null, error: null}
  }
}
