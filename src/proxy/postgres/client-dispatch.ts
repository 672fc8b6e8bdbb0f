/**
 * The client → server dispatcher: every statement is decided before it reaches the server. Messages
 * the guard does not need are forwarded as runs of raw bytes; denials become ErrorResponses queued
 * behind the responses the server still owes.
 */
import type {Decision, Operation, Policy} from '../../policy/index.js'
import {unparseableDecision} from '../decision.js'
import {decideFunctionCall, decisionError, readSql} from './decide.js'
import type {ReadGate} from '../flow.js'
import {decideNotNull, needsNotNull, type NotNullLookup} from '../not-null.js'
import type {SessionViews} from '../views.js'
import {FrameError, Framer} from './framing.js'
import {Frontend} from './messages.js'
import {ENTRY, Expect, entry, type Entry} from './pipeline.js'
import type {IssuedKey} from './cancel.js'
import {bindApproved, holdForReview, reviewParse, type ReviewHook, type ReviewSession} from './review.js'
import type {RunWriter} from '../run-writer.js'
import type {StatementInfo} from '../session-audit.js'
import type {MaskStatement} from './mask-session.js'
import type {SessionState} from './session-state.js'
import {bodyOf, cstringEnd, nameAt, readyForQuery} from './wire.js'

/** Goes on with a verdict for the message `buf[start, end)`. */
type Continue = (v: Verdict, buf: Buffer, start: number, end: number) => boolean

/** What the client dispatcher needs from its session. */
export interface ClientDispatcherDeps {
  readonly state: SessionState
  readonly policy: Policy
  readonly toServer: RunWriter
  readonly clientGate: ReadGate
  readonly maxMessageBytes: number
  /** Resolves a function OID to its schema-qualified name (a side query to the server). */
  readonly resolveFunction: (oid: number) => Promise<string>
  /** Whether columns are NOT NULL (a side query to the server), for WHEREs that only drop NULLs. */
  readonly notNull: NotNullLookup
  /** The tables views read, for `tables` rules (src/proxy/views.ts). */
  readonly views?: SessionViews | undefined
  /** The client sent Terminate (already forwarded). */
  readonly onTerminate: () => void
  /** The client stream is broken (malformed frame): the session must end with this error. */
  readonly onFatal: (error: unknown) => void
  /** Control-plane mode: asks for (or spends) an approval for a `review` statement (Query or Parse). */
  readonly review?: ReviewHook | undefined
  /** The client's cancel key: a cancel ends the hold of a statement waiting for approval. */
  readonly cancelKey?: IssuedKey | undefined
}

const ALLOW_EMPTY: Decision = {
  decision: 'allow',
  rule: null,
  message: null,
  operations: [],
  unparseable: false,
  masking: [],
}

interface Verdict extends StatementInfo {
  readonly prepares: readonly {name: string; operations: readonly Operation[]}[]
  readonly deallocates: readonly string[] | 'all'
}

/** Frames client messages and decides or forwards each. */
export class ClientDispatcher {
  private readonly framer: Framer
  private closed = false

  constructor(private readonly deps: ClientDispatcherDeps) {
    this.framer = new Framer({maxMessageBytes: deps.maxMessageBytes}, {range: this.onMessage})
  }

  /** Feeds bytes from the client (the first call may carry bytes read during startup). */
  push(chunk: Buffer): void {
    if (this.closed) return
    try {
      this.framer.push(chunk)
    } catch (err) {
      this.fail(err)
      return
    }
    this.deps.toServer.flush()
  }

  /** Stops handling client bytes (the session is ending). */
  stop(): void {
    this.closed = true
  }

  private fail(err: unknown): void {
    this.closed = true
    this.deps.toServer.flush()
    this.deps.onFatal(err)
  }

  /** One client message, the range `buf[start, end)` of the chunk it was read in. */
  private readonly onMessage = (type: number, buf: Buffer, start: number, end: number): boolean => {
    if (this.closed) return false
    const s = this.deps.state
    if (s.discardUntilSync) return this.discard(type, buf, start, end)
    switch (type) {
      case Frontend.Query:
        return this.query(buf, start, end)
      case Frontend.Parse:
        return this.parse(buf, start, end)
      case Frontend.Bind:
        return this.bind(buf, start, end)
      case Frontend.Execute:
        this.execute(buf, start, end)
        return true
      case Frontend.Describe:
        return this.forward(buf, start, end, ENTRY.describe)
      case Frontend.Close:
        this.close(buf, start, end)
        return true
      case Frontend.Sync:
        return this.forward(buf, start, end, ENTRY.sync)
      case Frontend.Flush:
      case Frontend.CopyData:
      case Frontend.CopyDone:
      case Frontend.CopyFail:
        this.deps.toServer.forward(buf, start, end)
        return true
      case Frontend.FunctionCall:
        // Decided asynchronously: it needs its own copy-free view that outlives this call.
        return this.functionCall(buf.subarray(start, end))
      case Frontend.Terminate:
        return this.terminate(buf, start, end)
      default:
        throw new FrameError(`unexpected message type 0x${type.toString(16)} from the client`, '08P01')
    }
  }

  private forward(buf: Buffer, start: number, end: number, expected: Entry): boolean {
    this.deps.state.pipeline.push(expected)
    this.deps.toServer.forward(buf, start, end)
    return true
  }

  /** After a denial in the extended protocol: skip to Sync like a server in error state. */
  private discard(type: number, buf: Buffer, start: number, end: number): boolean {
    const s = this.deps.state
    if (type === Frontend.Sync) {
      s.discardUntilSync = false
      return this.forward(buf, start, end, ENTRY.sync)
    }
    // Flush lets responses to earlier messages (and so the queued denial) reach a client that waits for them.
    if (type === Frontend.Flush) this.deps.toServer.forward(buf, start, end)
    if (type === Frontend.Terminate) return this.terminate(buf, start, end)
    return true
  }

  private terminate(buf: Buffer, start: number, end: number): boolean {
    this.deps.toServer.forward(buf, start, end)
    this.closed = true
    this.deps.toServer.flush()
    this.deps.onTerminate()
    return false
  }

  /** Decides the query text `buf[start, end)`. */
  private decide(buf: Buffer, start: number, end: number): Verdict {
    const s = this.deps.state
    const text = readSql(buf, start, end, s, s.pipeline.length > 0)
    if (!text.ok)
      return {
        sql: text.sql,
        decision: unparseableDecision(this.deps.policy, text.reason),
        prepares: [],
        deallocates: [],
      }
    if (isBlank(text.sql)) return {sql: text.sql, decision: ALLOW_EMPTY, prepares: [], deallocates: []}
    const {decision, analysis} = s.guard.decide(text.sql, s.evalContext, {
      defaultSchema: 'public',
      prepared: s.prepared,
    })
    if (!analysis.ok) return {sql: text.sql, decision, prepares: [], deallocates: []}
    return {sql: text.sql, decision, prepares: analysis.prepares, deallocates: analysis.deallocates}
  }

  /**
   * Decides again once the catalog says whether the columns of a WHERE that only drops NULLs are NOT NULL
   * (src/proxy/not-null.ts), this client's messages paused meanwhile; `decided` goes on as for any
   * statement (false: it holds the client itself).
   */
  private withNotNull(v: Verdict, decided: (v: Verdict) => boolean): boolean {
    const s = this.deps.state
    const decision = decideNotNull(s.guard, v.decision, s.evalContext, this.deps.notNull)
    return this.afterLookup(decision, (d) => decided({...v, decision: d}))
  }

  /** Pauses this client's messages until `lookup` settles (it never rejects), then goes on with `then`. */
  private afterLookup<T>(lookup: Promise<T>, then: (value: T) => boolean): boolean {
    this.deps.toServer.flush()
    this.deps.clientGate.hold('decision')
    void lookup.then((value) => {
      if (this.closed) return
      let more: boolean
      try {
        more = then(value)
      } catch (err) {
        this.fail(err)
        return
      }
      if (more) this.resumeAfterDecision()
    })
    return false
  }

  /**
   * The decision for an allowed statement once its stored copies are judged (MaskSession.storedCopy):
   * a copy of a masked column into a table other sessions read is refused before it runs. Calls
   * `decided` with the verdict (false: it holds the client itself).
   */
  private withStoredCopies(v: Verdict, m: MaskStatement, decided: (v: Verdict) => boolean): boolean {
    const s = this.deps.state
    const copy = s.masking.storedCopy(m, s.pipeline.length > 0)
    if (copy instanceof Promise) return this.afterLookup(copy, () => this.withStoredCopies(v, m, decided))
    if (copy === undefined) return decided(v)
    const denial: Decision = {...v.decision, decision: 'deny', rule: copy.rule, message: copy.message}
    return decided({...v, decision: denial})
  }

  /**
   * The verdict once the tables the statement's views read are judged too (src/proxy/views.ts); `then`
   * goes on with it, at once or after the catalog answered (this client's messages paused meanwhile).
   */
  private withViews(v: Verdict, buf: Buffer, start: number, end: number, then: Continue): boolean {
    const views = this.deps.views
    if (views === undefined) return then(v, buf, start, end)
    const s = this.deps.state
    const decision = views.expand(this.deps.policy, s.guard, v.decision, s.evalContext)
    if (!(decision instanceof Promise)) {
      if (decision.decision === 'allow') views.ran(decision)
      return then(decision === v.decision ? v : {...v, decision}, buf, start, end)
    }
    const frame = buf.subarray(start, end)
    return this.afterLookup(decision, (d) => {
      if (d.decision === 'allow') views.ran(d)
      return then({...v, decision: d}, frame, 0, frame.length)
    })
  }

  private query(buf: Buffer, start: number, end: number): boolean {
    const decided = this.decide(buf, start + 5, cstringEnd(buf, start + 5, end))
    return this.withViews(decided, buf, start, end, (v, b, s, e) => this.notNullQuery(v, b, s, e))
  }

  private notNullQuery(v: Verdict, buf: Buffer, start: number, end: number): boolean {
    if (!needsNotNull(this.deps.state.guard, v.decision, this.deps.state.evalContext))
      return this.decidedQuery(v, buf, start, end)
    const frame = buf.subarray(start, end)
    return this.withNotNull(v, (w) => this.decidedQuery(w, frame, 0, frame.length))
  }

  private decidedQuery(v: Verdict, buf: Buffer, start: number, end: number): boolean {
    if (v.decision.decision !== 'allow') return this.checkedQuery(v, undefined, buf, start, end)
    const m = this.deps.state.masking.draft(v.sql, v.decision)
    if (m?.stores === undefined) return this.checkedQuery(v, m, buf, start, end)
    const frame = buf.subarray(start, end)
    return this.withStoredCopies(v, m, (w) => this.checkedQuery(w, m, frame, 0, frame.length))
  }

  /** A decided Query: forwarded with its masking state `m` when allowed, answered with an error when not. */
  private checkedQuery(
    v: Verdict,
    m: MaskStatement | undefined,
    buf: Buffer,
    start: number,
    end: number,
  ): boolean {
    const s = this.deps.state
    if (v.decision.decision === 'allow') {
      this.remember(v)
      s.masking.started(v.sql, v.decision, m)
      s.pipeline.push(entry(Expect.Query, s.startRunning(v), undefined, m))
      this.deps.toServer.forward(buf, start, end)
      return true
    }
    if (v.decision.decision === 'review' && this.deps.review !== undefined)
      return this.reviewQuery(buf.subarray(start, end), v, this.deps.review)
    s.audit.statementEvent(v)
    const d = v.decision
    s.inject(() => Buffer.concat([decisionError(d), readyForQuery(s.txStatus)]))
    return true
  }

  /** A `review` query with a hook: reading from this client pauses (others go on) until the hook answers. */
  private reviewQuery(frame: Buffer, v: Verdict, hook: ReviewHook): boolean {
    const s = this.deps.state
    holdForReview(this.reviewSession(), hook, v, false, () => {
      this.remember(v)
      // An approved statement is masked like any other: approval lets it run, not see masked values.
      s.pipeline.push(
        entry(Expect.Query, s.startRunning(v), undefined, s.masking.statement(v.sql, v.decision)),
      )
      this.deps.toServer.send(frame)
    })
    return false
  }

  private reviewSession(): ReviewSession {
    return {
      state: this.deps.state,
      toServer: this.deps.toServer,
      clientGate: this.deps.clientGate,
      cancelKey: this.deps.cancelKey,
      closed: () => this.closed,
      resume: () => this.resumeAfterDecision(),
    }
  }

  private resumeAfterDecision(): void {
    if (this.closed) return
    this.deps.clientGate.release('decision')
    try {
      this.framer.resume()
    } catch (err) {
      this.fail(err)
      return
    }
    this.deps.toServer.flush()
  }

  /** Prepared statements of an allowed query; a name prepared twice is judged by both definitions. */
  private remember(v: Verdict): void {
    if (v.prepares.length === 0 && v.deallocates !== 'all' && v.deallocates.length === 0) return
    const s = this.deps.state
    const merged = v.prepares.map((p) => ({
      name: p.name,
      operations: [...(s.prepared.get(p.name) ?? []), ...p.operations],
    }))
    s.applyPrepared(merged, v.deallocates)
    for (const p of v.prepares) s.statements.set(p.name, v)
  }

  private parse(buf: Buffer, start: number, end: number): boolean {
    const nameEnd = cstringEnd(buf, start + 5, end)
    const name = nameAt(buf, start + 5, nameEnd)
    const decided = this.decide(buf, nameEnd + 1, cstringEnd(buf, nameEnd + 1, end))
    return this.withViews(decided, buf, start, end, (v, b, s, e) => this.notNullParse(v, name, b, s, e))
  }

  private notNullParse(v: Verdict, name: string, buf: Buffer, start: number, end: number): boolean {
    if (!needsNotNull(this.deps.state.guard, v.decision, this.deps.state.evalContext))
      return this.decidedParse(v, name, buf, start, end)
    const frame = buf.subarray(start, end)
    return this.withNotNull(v, (w) => this.decidedParse(w, name, frame, 0, frame.length))
  }

  private decidedParse(v: Verdict, name: string, buf: Buffer, start: number, end: number): boolean {
    if (v.decision.decision !== 'allow') return this.checkedParse(v, name, buf, start, end)
    // The statement's masking state for its Executes is made at each Execute; this one judges its copies.
    const m = this.deps.state.masking.draft(v.sql, v.decision)
    if (m?.stores === undefined) return this.checkedParse(v, name, buf, start, end)
    const frame = buf.subarray(start, end)
    return this.withStoredCopies(v, m, (w) => this.checkedParse(w, name, frame, 0, frame.length))
  }

  private checkedParse(v: Verdict, name: string, buf: Buffer, start: number, end: number): boolean {
    const s = this.deps.state
    if (v.decision.decision === 'allow') {
      this.parsed(name, v)
      this.deps.toServer.forward(buf, start, end)
      return true
    }
    if (v.decision.decision === 'review' && this.deps.review !== undefined) {
      const frame = buf.subarray(start, end)
      return reviewParse(this.reviewSession(), this.deps.review, v, frame, (approved) => {
        this.parsed(name, approved)
        this.deps.toServer.send(frame)
      })
    }
    s.audit.statementEvent(v)
    s.inject(() => decisionError(v.decision))
    s.discardUntilSync = true
    return true
  }

  /** A Parse that goes to the server: its statement is known by name for Bind, Execute and the audit. */
  private parsed(name: string, v: Verdict): void {
    const s = this.deps.state
    this.remember(v)
    if (name !== '') {
      s.prepared.set(name, [...(s.prepared.get(name) ?? []), ...v.decision.operations])
    }
    s.statements.set(name, v)
    s.pipeline.push(entry(Expect.Parse, s.startRunning(v)))
  }

  /** Bind and Execute of an already decided statement: two map operations, one object per Execute. */
  private bind(buf: Buffer, start: number, end: number): boolean {
    const s = this.deps.state
    const portalEnd = cstringEnd(buf, start + 5, end)
    const portal = nameAt(buf, start + 5, portalEnd)
    const info = s.statements.get(nameAt(buf, portalEnd + 1, cstringEnd(buf, portalEnd + 1, end)))
    if (info?.grant !== undefined) {
      const frame = buf.subarray(start, end)
      return bindApproved(this.reviewSession(), this.deps.review, info, info.grant, () => {
        s.portals.set(portal, info)
        s.pipeline.push(ENTRY.bind)
        this.deps.toServer.send(frame)
      })
    }
    if (info !== undefined) s.portals.set(portal, info)
    else s.portals.delete(portal)
    return this.forward(buf, start, end, ENTRY.bind)
  }

  private execute(buf: Buffer, start: number, end: number): void {
    const s = this.deps.state
    const portalEnd = cstringEnd(buf, start + 5, end)
    const info = s.portals.get(nameAt(buf, start + 5, portalEnd))
    // A portal the proxy cannot tie to a statement is masked by every rule of the policy.
    const mask = s.masking.statement(info?.sql ?? '', info?.decision)
    if (mask !== undefined) {
      // The row masker needs the portal's fields and formats: ask the server, keep the answer.
      s.pipeline.push(entry(Expect.Describe, undefined, undefined, mask, true))
      this.deps.toServer.send(describePortal(buf, start + 5, portalEnd))
    }
    s.pipeline.push(
      info === undefined && mask === undefined
        ? ENTRY.execute
        : entry(Expect.Execute, info && s.startRunning(info), undefined, mask),
    )
    this.deps.toServer.forward(buf, start, end)
  }

  private close(buf: Buffer, start: number, end: number): void {
    const s = this.deps.state
    const r = bodyOf(buf.subarray(start, end))
    const what = r.byte()
    const name = r.cstring()
    if (what === 0x53 /* 'S' */) {
      s.prepared.delete(name)
      s.statements.delete(name)
    } else s.portals.delete(name)
    this.forward(buf, start, end, ENTRY.close)
  }

  private functionCall(frame: Buffer): boolean {
    const oid = bodyOf(frame).int32()
    this.deps.toServer.flush()
    this.deps.clientGate.hold('decision')
    void this.decideFunctionCall(oid, frame).finally(() => this.resumeAfterDecision())
    return false
  }

  private async decideFunctionCall(oid: number, frame: Buffer): Promise<void> {
    const s = this.deps.state
    let decision: Decision
    let name = `function with OID ${oid}`
    try {
      name = await this.deps.resolveFunction(oid)
      decision = decideFunctionCall(s.guard, name, s.evalContext)
      // A fastpath result has no RowDescription to plan masking with: under column rules, fail closed.
      if (decision.decision === 'allow' && decision.masking.some((r) => (r.columns?.length ?? 0) > 0))
        decision = {
          ...decision,
          decision: 'deny',
          rule: decision.masking[0]?.name ?? null,
          message: 'fastpath function calls cannot be masked: call the function with a query instead',
        }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      decision = {...unparseableDecision(this.deps.policy, reason), decision: 'deny'}
    }
    if (this.closed) return
    const info = {sql: `-- fastpath function call: ${name}`, decision}
    if (decision.decision === 'allow') {
      s.pipeline.push(entry(Expect.FunctionCall, s.startRunning(info)))
      this.deps.toServer.send(frame)
      return
    }
    s.audit.statementEvent(info)
    s.inject(() => Buffer.concat([decisionError(decision), readyForQuery(s.txStatus)]))
  }
}

/** A Describe of the portal named `buf[start, end)`. */
function describePortal(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(7 + end - start)
  out[0] = Frontend.Describe
  out.writeInt32BE(6 + end - start, 1)
  out[5] = 0x50 // 'P'
  buf.copy(out, 6, start, end)
  out[out.length - 1] = 0
  return out
}

/** True when the text is empty or only whitespace (an empty query); no string is allocated. */
function isBlank(sql: string): boolean {
  for (let i = 0; i < sql.length; i++) {
    const c = sql.charCodeAt(i)
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d && c !== 0x0c && c !== 0x0b) return false
  }
  return true
}
