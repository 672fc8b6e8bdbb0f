/**
 * Client → server: every command is decided before the server sees it. Queries and prepared
 * statements go through the guard with the session's default schema; protocol commands that read or
 * change schema state are decided as their SQL equivalents; commands the proxy does not know are
 * refused, not forwarded. A denial is an ERR packet in the command's turn, and the session goes on.
 */
import type {AnalyzeContext, Decision, NotNullCheck, Policy} from '../../policy/index.js'
import type {GuardSource} from '../audited-guard.js'
import type {ReadGate} from '../flow.js'
import {decideNotNull, needsNotNull} from '../not-null.js'
import type {RunWriter} from '../run-writer.js'
import type {StatementInfo} from '../session-audit.js'
import type {ReviewHook} from '../review.js'
import {UNKNOWN_CHARSET, resultCharsetChange} from './charset.js'
import {decisionErr, mentionsLocalInfile, quoteIdent, readQuery, refusedText} from './decide.js'
import {PacketFramer, encodePacket, payloadOf} from './framing.js'
import {Command, ErrCode} from './protocol.js'
import {killedConnection, type SessionHeld} from './held.js'
import {MysqlReview} from './review.js'
import type {Entry, Expect, MysqlSessionState} from './session-state.js'
import {ClientWait} from './waiting.js'
import {errPacket} from './wire.js'
import type {CatalogLookup, MysqlMaskSession, MysqlMaskStatement} from './mask-session.js'
import {judgedBeforeSent} from '../stored-copy.js'
import {SessionViews} from '../views.js'
import {quote} from './mask-code.js'
import {viewTables} from './view-tables.js'

/** The statement id MariaDB reads as "the statement prepared last" (direct execution). */
const LAST_PREPARED = 0xffffffff

/** The client broke the protocol; the session ends with this error. */
export class ClientProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ClientProtocolError'
  }
}

/** The guard, context and policy in force: read per statement, so a renewed bundle applies at once. */
export interface MysqlGuarding extends GuardSource {
  readonly policy: Policy
}

/** Options of a ClientDispatcher. */
export interface ClientDispatcherOptions {
  readonly state: MysqlSessionState
  readonly guarding: MysqlGuarding
  readonly toServer: RunWriter
  readonly toClient: RunWriter
  readonly maxPacketBytes: number
  readonly allowLocalInfile: boolean
  readonly onQuit: () => void
  readonly onFatal: (err: unknown) => void
  /** Control-plane mode: asks for (or spends) an approval for a `review` statement. */
  readonly review?: ReviewHook | undefined
  /** Pauses reading from the client while too many packets wait behind a held statement. */
  readonly clientGate: ReadGate
  /** Where the message of a statement waiting for approval goes (dbgate's stderr). */
  readonly reviewNotice?: ((message: string, detail?: string) => void) | undefined
  /** The engine's held statements (a KILL of a held one's connection ends its wait), and this session's id. */
  readonly held?: SessionHeld | undefined
}

/** Decides and forwards the client's side of a session. */
export class ClientDispatcher {
  private readonly framer: PacketFramer
  /** True while the client sends a file the server asked for (until an empty packet). */
  private infile = false
  private stopped = false
  /** Approvals of `review` statements; undefined without a review hook (standalone mode). */
  private readonly review: MysqlReview | undefined
  /** Where the client's packets wait while one of its commands does (approval, catalog). */
  private readonly wait: ClientWait
  private actx: AnalyzeContext | undefined
  /** The tables views read, for `tables` rules: asked on this connection, once per name per session. */
  private readonly views = new SessionViews((relation) => viewTables((sql) => this.ask(sql), relation))

  constructor(private readonly o: ClientDispatcherOptions) {
    this.framer = new PacketFramer(o.maxPacketBytes, (seq, buf, start, end) =>
      this.packet(seq, buf, start, end),
    )
    this.wait = new ClientWait({
      clientGate: o.clientGate,
      toServer: o.toServer,
      closed: () => this.stopped,
      replay: (seq, packet) => this.replay(seq, packet),
    })
    this.review =
      o.review === undefined
        ? undefined
        : new MysqlReview({
            hook: o.review,
            state: o.state,
            policy: () => o.guarding.policy,
            wait: this.wait,
            notice: o.reviewNotice,
            closed: () => this.stopped,
            local: (bytes) => this.local(bytes),
            held: o.held,
          })
  }

  /** Feeds bytes from the client. */
  push(chunk: Buffer): void {
    if (this.stopped) return
    try {
      this.framer.push(chunk)
      this.o.toServer.flush()
    } catch (err) {
      this.stopped = true
      this.o.onFatal(err)
    }
  }

  /** Stops handling client bytes (the session is ending). */
  stop(): void {
    this.stopped = true
  }

  /** The server asked for a file: the client's next packets are its contents. */
  expectInfile(): void {
    this.infile = true
  }

  /** A packet that waited behind a held statement; an error ends the session as in `push`. */
  private replay(seq: number, packet: Buffer): void {
    try {
      this.packet(seq, packet, 0, packet.length)
    } catch (err) {
      this.stopped = true
      this.o.onFatal(err)
    }
  }

  private packet(seq: number, buf: Buffer, start: number, end: number): void {
    if (this.stopped) return
    if (this.wait.holding) {
      // The client leaving ends the wait: the held statement never runs and its request stays pending.
      if (buf[start + 4] === Command.quit && end - start === 5) return this.quit(buf, start, end)
      return this.wait.defer(seq, buf, start, end)
    }
    if (this.infile) {
      this.o.toServer.forward(buf, start, end)
      if (end - start === 4) this.infile = false
      return
    }
    if (buf[start + 3] !== 0)
      throw new ClientProtocolError(`a command with sequence id ${buf[start + 3] ?? 0} instead of 0`)
    const payload = payloadOf(buf, start, end)
    const reply = (seq + 1) & 0xff
    const command = payload.length === 0 ? -1 : (payload[0] as number)
    switch (command) {
      case Command.query:
        return this.query(payload, reply, buf, start, end, 'result')
      case Command.stmtPrepare:
        return this.query(payload, reply, buf, start, end, 'prepare')
      case Command.stmtExecute: {
        const id = payload.length >= 10 ? payload.readUInt32LE(1) : -1
        if (payload.length >= 6 && payload[5] !== 0)
          return this.refuse(
            reply,
            ErrCode.notSupported,
            'dbgate: server-side cursors (COM_STMT_EXECUTE with a cursor) are not supported',
          )
        // MariaDB runs "the last prepared statement" for id 0xffffffff: never a way around counting a grant's uses.
        if (id === LAST_PREPARED && this.approvedStatements())
          return this.refuse(
            reply,
            ErrCode.notSupported,
            'dbgate: COM_STMT_EXECUTE of the last prepared statement (id 0xffffffff) is not supported in a session with an approved prepared statement; execute it by its statement id',
          )
        const info = this.o.state.statements.get(id)
        if (info?.grant !== undefined) {
          // A statement approved at PREPARE runs once per use of its grant.
          if (this.review === undefined)
            return this.refuse(reply, ErrCode.accessDenied, 'dbgate: this prepared statement ran as approved')
          const frame = Buffer.from(buf.subarray(start, end))
          return this.review.execute(reply, info, info.grant, () =>
            this.execute(frame, 0, frame.length, info),
          )
        }
        return this.execute(buf, start, end, info)
      }
      case Command.stmtSendLongData:
        return this.o.toServer.forward(buf, start, end)
      case Command.stmtClose:
        if (payload.length >= 5) this.o.state.statements.delete(payload.readUInt32LE(1))
        return this.o.toServer.forward(buf, start, end)
      case Command.stmtReset:
      case Command.ping:
      case Command.setOption:
        return this.forward(buf, start, end, {kind: 'server', expect: 'ok', running: undefined})
      case Command.statistics:
        return this.forward(buf, start, end, {kind: 'server', expect: 'single', running: undefined})
      case Command.initDb:
        return this.initDb(payload, reply, buf, start, end)
      case Command.fieldList:
        return this.fieldList(payload, reply, buf, start, end)
      case Command.resetConnection:
        return this.forward(buf, start, end, {
          kind: 'server',
          expect: 'ok',
          running: undefined,
          onSuccess: () => this.o.state.reset(),
        })
      case Command.stmtFetch:
        // Only a cursor opened by COM_STMT_EXECUTE has rows to fetch, and such cursors are refused there.
        return this.refuse(
          reply,
          ErrCode.notSupported,
          'dbgate: COM_STMT_FETCH (server-side cursors) is not supported; execute the statement without a cursor to get its rows',
        )
      case Command.quit:
        return this.quit(buf, start, end)
      case Command.changeUser:
        return this.refuse(
          reply,
          ErrCode.notSupported,
          'dbgate: COM_CHANGE_USER is not supported; open a new connection as the other user',
        )
      default:
        return this.refuse(
          reply,
          ErrCode.unknownCommand,
          `dbgate: command 0x${(command < 0 ? 0 : command).toString(16).padStart(2, '0')} is not relayed`,
        )
    }
  }

  /** True when a prepared statement of the session, or one being prepared, runs under a grant. */
  private approvedStatements(): boolean {
    const state = this.o.state
    for (const info of state.statements.values()) if (info.grant !== undefined) return true
    return state.queue.some((e) => e.kind === 'server' && e.prepared?.grant !== undefined)
  }

  /** COM_STMT_EXECUTE of a statement prepared earlier (decided at PREPARE). */
  private execute(buf: Buffer, start: number, end: number, info: StatementInfo | undefined): void {
    const running = info === undefined ? undefined : this.o.state.run(info.sql, info.decision)
    // A statement the proxy cannot tie to its text is masked by every rule (fail closed).
    const mask = this.o.state.masking?.statement(info?.sql ?? '', info?.decision, this.o.state.schema)
    this.forward(buf, start, end, {
      kind: 'server',
      expect: 'result',
      running,
      mask,
      binary: true,
      onSuccess: info === undefined ? undefined : this.charsetEffect(info),
    })
  }

  private quit(buf: Buffer, start: number, end: number): void {
    // Written now: the session ends before push() would flush it.
    this.o.toServer.forward(buf, start, end)
    this.o.toServer.flush()
    this.stopped = true
    this.o.onQuit()
  }

  /** COM_QUERY and COM_STMT_PREPARE: the whole text decided at once. */
  private query(
    payload: Buffer,
    reply: number,
    buf: Buffer,
    start: number,
    end: number,
    expect: Expect,
  ): void {
    const text = readQuery(payload, 1)
    const state = this.o.state
    let decision: Decision
    let effects: (() => void) | undefined
    let uncertain = false
    let onFailure: (() => void) | undefined
    const g = this.o.guarding
    if (!text.ok) decision = refusedText(g.policy, text.reason)
    else {
      const verdict = g.guard.decide(text.sql, g.evalContext, this.analyzeContext())
      decision = verdict.decision
      const a = verdict.analysis
      if (a.ok && expect === 'result') {
        const schema = a.schemaChange
        const hasPrepares = a.prepares.length > 0 || a.deallocates === 'all' || a.deallocates.length > 0
        const charset = resultCharsetChange(
          text.sql,
          decision.operations.some((op) => op.kind === 'set'),
        )
        if (schema !== undefined || hasPrepares || charset.kind === 'set')
          effects = () => {
            if (schema !== undefined) state.schema = schema
            if (charset.kind === 'set') state.resultCharset = charset.charset
            state.applyPrepares(a.prepares, a.deallocates)
          }
        // After an ERR part-way through several statements, a USE among them may or may not have run.
        uncertain = schema !== undefined && a.statements > 1
        // The same for a charset change: masking could no longer read the values it rewrites.
        if (charset.kind === 'set' && a.statements > 1)
          onFailure = () => {
            state.resultCharset = UNKNOWN_CHARSET
          }
      }
    }
    type Go = (d: Decision, frame: Buffer, at: number, to: number) => void
    const go: Go = (d, frame, at, to) =>
      this.decidedQuery(
        reply,
        {sql: text.sql, decision: d},
        frame,
        at,
        to,
        expect,
        effects,
        uncertain,
        onFailure,
      )
    const decided: Go = (d, frame, at, to) => {
      if (!text.ok || !needsNotNull(g.guard, d, g.evalContext)) return go(d, frame, at, to)
      // Whether the columns of a WHERE that only drops NULLs are NOT NULL: asked on this connection first.
      const kept = Buffer.from(frame.subarray(at, to))
      const check = decideNotNull(g.guard, d, g.evalContext, (c) => this.notNull(c))
      this.afterLookup(check, (checked) => go(checked, kept, 0, kept.length))
    }
    if (!text.ok) return decided(decision, buf, start, end)
    // The tables the statement's views read meet the rules too (src/proxy/views.ts).
    const expanded = this.views.expand(g.policy, g.guard, decision, g.evalContext)
    if (!(expanded instanceof Promise)) {
      if (expanded.decision === 'allow') this.views.ran(expanded)
      return decided(expanded, buf, start, end)
    }
    const frame = Buffer.from(buf.subarray(start, end))
    this.afterLookup(expanded, (d) => {
      if (d.decision === 'allow') this.views.ran(d)
      decided(d, frame, 0, frame.length)
    })
  }

  /**
   * Goes on with `then` once the catalog answered (a Promise that never rejects); the client's later
   * packets wait meanwhile, and what `then` sends goes ahead of them.
   */
  private afterLookup<T>(answer: Promise<T>, then: (value: T) => void): void {
    this.wait.begin()
    void answer.then((value) => {
      if (this.stopped) return
      try {
        then(value)
      } catch (err) {
        this.stopped = true
        this.o.onFatal(err)
        return
      }
      this.wait.end()
    })
  }

  /** Runs a query of the proxy's own on this connection, in turn with the client's statements. */
  private ask(sql: string): Promise<(string | null)[][]> {
    return new Promise((resolve, reject) => {
      const rows: (string | null)[][] = []
      this.sendLookup({
        sql,
        row: (values) => void rows.push([...values]),
        done: (ok) => (ok ? resolve(rows) : reject(new Error('the server refused the catalog query'))),
      })
    })
  }

  /** Asks the server, on this connection, whether every column of a check is NOT NULL. */
  private notNull(check: NotNullCheck): Promise<boolean> {
    return new Promise((resolve) => {
      let count = 0
      const lookup: CatalogLookup = {
        sql: notNullSql(check),
        row: (values) => {
          count = Number(values[0] ?? 0)
        },
        // A lookup that failed counts as NOT NULL: the stricter reading.
        done: (ok) => resolve(!ok || count >= new Set(check.columns).size),
      }
      this.sendLookup(lookup)
    })
  }

  /** A COM_QUERY or COM_STMT_PREPARE once decided: held for review, denied or forwarded. */
  private decidedQuery(
    reply: number,
    info: StatementInfo,
    buf: Buffer,
    start: number,
    end: number,
    expect: Expect,
    effects: (() => void) | undefined,
    uncertain: boolean,
    onFailure: (() => void) | undefined,
  ): void {
    const decision = info.decision
    if (decision.decision === 'review' && this.review !== undefined) {
      const frame = Buffer.from(buf.subarray(start, end))
      return this.review.statement(reply, info, expect === 'prepare', (approved) =>
        this.forward(frame, 0, frame.length, this.entryOf(approved, expect, effects, uncertain, onFailure)),
      )
    }
    if (decision.decision !== 'allow') return this.deny(reply, info)
    if (
      expect === 'result' &&
      decision.operations.some((o) => o.kind === 'copy') &&
      !this.o.allowLocalInfile &&
      mentionsLocalInfile(info.sql)
    )
      return this.deny(
        reply,
        {
          sql: info.sql,
          decision: {...decision, decision: 'deny', message: 'LOAD DATA LOCAL INFILE is not allowed'},
        },
        errPacket(
          reply,
          ErrCode.notAllowedCommand,
          '42000',
          'dbgate: LOAD DATA LOCAL INFILE is not allowed through this port',
        ),
      )
    // A held statement never reached the server, whose KILL would find nothing to stop: its wait ends here.
    const killed = expect === 'result' ? killedConnection(info.sql) : undefined
    if (killed !== undefined) this.o.held?.statements.cancel(killed)
    const masking = this.o.state.masking
    if (masking === undefined || !judgedBeforeSent(decision))
      return this.forward(buf, start, end, this.entryOf(info, expect, effects, uncertain, onFailure))
    const send = (m: MysqlMaskStatement | undefined, frame: Buffer, at: number, to: number): void =>
      this.forward(frame, at, to, this.entryOf(info, expect, effects, uncertain, onFailure, m))
    this.judgeStores(
      reply,
      info,
      masking,
      (m) => send(m, buf, start, end),
      () => {
        const frame = Buffer.from(buf.subarray(start, end))
        return (m) => send(m, frame, 0, frame.length)
      },
    )
  }

  /**
   * A statement that stores rows is judged before it is sent (MysqlMaskSession.storedCopy): a copy of a
   * masked column into a table other sessions read is refused. When the catalog must be looked up first,
   * the lookup goes ahead on this connection and the client's later packets wait for the verdict.
   * `send` forwards the statement now, with its masking state; `later` makes a forwarder that outlives
   * the client's chunk.
   */
  private judgeStores(
    reply: number,
    info: StatementInfo,
    masking: MysqlMaskSession,
    send: (m: MysqlMaskStatement | undefined) => void,
    later: () => (m: MysqlMaskStatement | undefined) => void,
  ): void {
    const state = this.o.state
    const m = masking.statement(info.sql, info.decision, state.schema)
    if (m === undefined) return send(m)
    const verdict = (stale: boolean, forward: (m: MysqlMaskStatement) => void): void => {
      const copy = masking.storedCopy(m, stale)
      if (copy === undefined) return forward(m)
      this.deny(reply, {sql: info.sql, decision: {...info.decision, decision: 'deny', ...copy}})
    }
    const lookup = masking.lookup(m)
    // Nothing to look up: statements still running may change the catalog before this one runs.
    if (lookup === undefined)
      return verdict(
        state.queue.some((e) => e.kind === 'server' && e.lookup === undefined),
        send,
      )
    // A lookup sent now is answered after the statements before it: its answer is what this one sees.
    const forward = later()
    const answered = new Promise<boolean>((resolve) =>
      this.sendLookup({
        ...lookup,
        done: (ok) => {
          lookup.done(ok)
          resolve(ok)
        },
      }),
    )
    this.afterLookup(answered, (ok) => verdict(!ok, forward))
  }

  /** The response an allowed (or approved) COM_QUERY or COM_STMT_PREPARE is owed, with its effects. */
  private entryOf(
    info: StatementInfo,
    expect: Expect,
    effects: (() => void) | undefined,
    uncertain: boolean,
    onFailure: (() => void) | undefined,
    /** Its masking state, when it was made to judge what the statement stores. */
    mask?: MysqlMaskStatement,
  ): Entry {
    const state = this.o.state
    if (expect === 'prepare') return {kind: 'server', expect, running: undefined, prepared: info}
    return {
      kind: 'server',
      expect,
      running: state.run(info.sql, info.decision),
      mask: mask ?? state.masking?.statement(info.sql, info.decision, state.schema),
      onSuccess: effects,
      onFailure: uncertain
        ? () => {
            throw new ClientProtocolError(
              'a query that changes the database failed part-way; dbgate cannot tell which database is current, so the session ends',
            )
          }
        : onFailure,
    }
  }

  /** What the guard resolves against: one object while the default schema stays (the prepared map is live). */
  private analyzeContext(): AnalyzeContext {
    const state = this.o.state
    if (this.actx?.defaultSchema !== state.schema)
      this.actx = {defaultSchema: state.schema, prepared: state.prepared}
    return this.actx
  }

  /** What a prepared statement's execution does to the result charset (a prepared SET NAMES). */
  private charsetEffect(info: StatementInfo): (() => void) | undefined {
    const change = resultCharsetChange(
      info.sql,
      info.decision.operations.some((op) => op.kind === 'set'),
    )
    if (change.kind === 'none') return undefined
    return () => {
      this.o.state.resultCharset = change.charset
    }
  }

  /** COM_INIT_DB, decided as `USE db`; the guard's schema follows once the server agrees. */
  private initDb(payload: Buffer, reply: number, buf: Buffer, start: number, end: number): void {
    const schema = payload.toString('utf8', 1)
    const sql = `USE ${quoteIdent(schema)}`
    const g = this.o.guarding
    const {decision} = g.guard.decide(sql, g.evalContext, {defaultSchema: this.o.state.schema})
    if (decision.decision !== 'allow') return this.deny(reply, {sql, decision})
    this.forward(buf, start, end, {
      kind: 'server',
      expect: 'ok',
      running: this.o.state.run(sql, decision),
      onSuccess: () => {
        this.o.state.schema = schema
      },
    })
  }

  /** COM_FIELD_LIST lists a table's columns: decided as `SHOW COLUMNS FROM table`. */
  private fieldList(payload: Buffer, reply: number, buf: Buffer, start: number, end: number): void {
    const nul = payload.indexOf(0, 1)
    const table = payload.toString('utf8', 1, nul < 0 ? payload.length : nul)
    const sql = `SHOW COLUMNS FROM ${quoteIdent(table)}`
    const g = this.o.guarding
    const {decision} = g.guard.decide(sql, g.evalContext, {defaultSchema: this.o.state.schema})
    if (decision.decision !== 'allow') return this.deny(reply, {sql, decision})
    this.forward(buf, start, end, {kind: 'server', expect: 'fields', running: undefined})
  }

  private forward(buf: Buffer, start: number, end: number, entry: Entry): void {
    if (entry.kind === 'server' && entry.mask !== undefined) this.lookup(entry.mask)
    this.o.state.queue.push(entry)
    this.o.toServer.forward(buf, start, end)
  }

  /**
   * Catalog facts masking needs for a statement (columns of the tables it names, view definitions) are
   * asked for just before it, on the same connection: the answer arrives before the statement's.
   */
  private lookup(mask: NonNullable<Extract<Entry, {kind: 'server'}>['mask']>): void {
    const lookup = this.o.state.masking?.lookup(mask)
    if (lookup !== undefined) this.sendLookup(lookup)
  }

  /** Sends one of the proxy's own queries on the session's connection; its answer goes to `lookup`. */
  private sendLookup(lookup: CatalogLookup): void {
    this.o.state.queue.push({kind: 'server', expect: 'result', running: undefined, lookup})
    this.o.toServer.send(
      encodePacket(0, Buffer.concat([Buffer.from([Command.query]), Buffer.from(lookup.sql)])),
    )
  }

  private deny(reply: number, info: StatementInfo, err?: Buffer): void {
    this.o.state.audit.statementEvent(info)
    this.local(err ?? decisionErr(reply, info.decision))
  }

  private refuse(reply: number, code: number, message: string): void {
    this.local(errPacket(reply, code, '42000', message))
  }

  /** A reply of the proxy's own, sent now or after the responses the server still owes. */
  private local(bytes: Buffer): void {
    if (this.o.state.queue.length === 0) this.o.toClient.send(bytes)
    else this.o.state.queue.push({kind: 'local', bytes})
  }
}

/**
 * How many of a check's columns are NOT NULL in its table (the session's database when the statement names
 * none); names compared without case, the stricter reading where the server would tell them apart.
 */
function notNullSql(check: NotNullCheck): string {
  const schema = check.schema === null ? 'DATABASE()' : quote(check.schema)
  const columns = [...new Set(check.columns)].map((c) => `LOWER(${quote(c)})`).join(',')
  return (
    `SELECT COUNT(DISTINCT LOWER(COLUMN_NAME)) FROM information_schema.COLUMNS ` +
    `WHERE LOWER(TABLE_SCHEMA) = LOWER(${schema}) AND LOWER(TABLE_NAME) = LOWER(${quote(check.table)}) ` +
    `AND IS_NULLABLE = 'NO' AND LOWER(COLUMN_NAME) IN (${columns})`
  )
}
