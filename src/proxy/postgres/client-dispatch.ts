/**
 * The client → server dispatcher: every statement is decided before it reaches the server. Messages
 * the guard does not need are forwarded as runs of raw bytes; denials become ErrorResponses queued
 * behind the responses the server still owes.
 */
import type {Decision, Operation, Policy} from '../../policy/index.js'
import {decideFunctionCall, decisionError, readSql, unparseableDecision} from './decide.js'
import type {ReadGate} from './flow.js'
import {FrameError, Framer} from './framing.js'
import {Frontend} from './messages.js'
import {Expect} from './pipeline.js'
import type {RunWriter} from './run-writer.js'
import type {SessionState, StatementInfo} from './session-state.js'
import {bodyOf, readyForQuery} from './wire.js'

/** What the client dispatcher needs from its session. */
export interface ClientDispatcherDeps {
  readonly state: SessionState
  readonly policy: Policy
  readonly toServer: RunWriter
  readonly clientGate: ReadGate
  readonly maxMessageBytes: number
  /** Resolves a function OID to its schema-qualified name (a side query to the server). */
  readonly resolveFunction: (oid: number) => Promise<string>
  /** The client sent Terminate (already forwarded). */
  readonly onTerminate: () => void
  /** The client stream is broken (malformed frame): the session must end with this error. */
  readonly onFatal: (error: unknown) => void
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
    this.framer = new Framer({maxMessageBytes: deps.maxMessageBytes}, this.onMessage)
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

  private readonly onMessage = (type: number, frame: Buffer): boolean => {
    if (this.closed) return false
    const s = this.deps.state
    if (s.discardUntilSync) return this.discard(type, frame)
    switch (type) {
      case Frontend.Query:
        this.query(frame)
        return true
      case Frontend.Parse:
        this.parse(frame)
        return true
      case Frontend.Bind:
        this.bind(frame)
        return true
      case Frontend.Execute:
        this.execute(frame)
        return true
      case Frontend.Describe:
        return this.forward(frame, Expect.Describe)
      case Frontend.Close:
        this.close(frame)
        return true
      case Frontend.Sync:
        return this.forward(frame, Expect.Sync)
      case Frontend.Flush:
      case Frontend.CopyData:
      case Frontend.CopyDone:
      case Frontend.CopyFail:
        this.deps.toServer.forward(frame)
        return true
      case Frontend.FunctionCall:
        return this.functionCall(frame)
      case Frontend.Terminate:
        return this.terminate(frame)
      default:
        throw new FrameError(`unexpected message type 0x${type.toString(16)} from the client`, '08P01')
    }
  }

  private forward(frame: Buffer, expect: Expect): boolean {
    this.deps.state.pipeline.push({expect})
    this.deps.toServer.forward(frame)
    return true
  }

  /** After a denial in the extended protocol: skip to Sync like a server in error state. */
  private discard(type: number, frame: Buffer): boolean {
    const s = this.deps.state
    if (type === Frontend.Sync) {
      s.discardUntilSync = false
      return this.forward(frame, Expect.Sync)
    }
    // Flush lets responses to earlier messages (and so the queued denial) reach a client that waits for them.
    if (type === Frontend.Flush) this.deps.toServer.forward(frame)
    if (type === Frontend.Terminate) return this.terminate(frame)
    return true
  }

  private terminate(frame: Buffer): boolean {
    this.deps.toServer.forward(frame)
    this.closed = true
    this.deps.toServer.flush()
    this.deps.onTerminate()
    return false
  }

  private decide(bytes: Buffer): Verdict {
    const s = this.deps.state
    const text = readSql(bytes, {
      standardConformingStrings: s.standardConformingStrings,
      clientEncoding: s.clientEncoding,
      inFlight: s.pipeline.length > 0,
    })
    if (!text.ok)
      return {
        sql: text.sql,
        decision: unparseableDecision(this.deps.policy, text.reason),
        prepares: [],
        deallocates: [],
      }
    if (text.sql.trim() === '') return {sql: text.sql, decision: ALLOW_EMPTY, prepares: [], deallocates: []}
    const {decision, analysis} = s.guard.decide(text.sql, s.evalContext, {
      defaultSchema: 'public',
      prepared: s.prepared,
    })
    if (!analysis.ok) return {sql: text.sql, decision, prepares: [], deallocates: []}
    return {sql: text.sql, decision, prepares: analysis.prepares, deallocates: analysis.deallocates}
  }

  private query(frame: Buffer): void {
    const s = this.deps.state
    const v = this.decide(bodyOf(frame).cstringBytes())
    if (v.decision.decision === 'allow') {
      this.remember(v)
      s.pipeline.push({expect: Expect.Query, running: s.startRunning(v)})
      this.deps.toServer.forward(frame)
      return
    }
    s.audit.statementEvent(v)
    const d = v.decision
    s.inject(() => Buffer.concat([decisionError(d), readyForQuery(s.txStatus)]))
  }

  /** Prepared statements of an allowed query; a name prepared twice is judged by both definitions. */
  private remember(v: Verdict): void {
    const s = this.deps.state
    const merged = v.prepares.map((p) => ({
      name: p.name,
      operations: [...(s.prepared.get(p.name) ?? []), ...p.operations],
    }))
    s.applyPrepared(merged, v.deallocates)
    for (const p of v.prepares) s.statements.set(p.name, v)
  }

  private parse(frame: Buffer): void {
    const s = this.deps.state
    const r = bodyOf(frame)
    const name = r.cstring()
    const v = this.decide(r.cstringBytes())
    if (v.decision.decision !== 'allow') {
      s.audit.statementEvent(v)
      s.inject(() => decisionError(v.decision))
      s.discardUntilSync = true
      return
    }
    this.remember(v)
    if (name !== '') {
      s.prepared.set(name, [...(s.prepared.get(name) ?? []), ...v.decision.operations])
    }
    s.statements.set(name, v)
    s.pipeline.push({expect: Expect.Parse, running: s.startRunning(v)})
    this.deps.toServer.forward(frame)
  }

  private bind(frame: Buffer): void {
    const s = this.deps.state
    const r = bodyOf(frame)
    const portal = r.cstring()
    const info = s.statements.get(r.cstring())
    if (info !== undefined) s.portals.set(portal, info)
    else s.portals.delete(portal)
    this.forward(frame, Expect.Bind)
  }

  private execute(frame: Buffer): void {
    const s = this.deps.state
    const portal = bodyOf(frame).cstring()
    const info = s.portals.get(portal)
    s.pipeline.push({expect: Expect.Execute, running: info === undefined ? undefined : s.startRunning(info)})
    this.deps.toServer.forward(frame)
  }

  private close(frame: Buffer): void {
    const s = this.deps.state
    const r = bodyOf(frame)
    const what = r.byte()
    const name = r.cstring()
    if (what === 0x53 /* 'S' */) {
      s.prepared.delete(name)
      s.statements.delete(name)
    } else s.portals.delete(name)
    this.forward(frame, Expect.Close)
  }

  private functionCall(frame: Buffer): boolean {
    const oid = bodyOf(frame).int32()
    this.deps.toServer.flush()
    this.deps.clientGate.hold('decision')
    void this.decideFunctionCall(oid, frame).finally(() => {
      if (this.closed) return
      this.deps.clientGate.release('decision')
      try {
        this.framer.resume()
      } catch (err) {
        this.fail(err)
        return
      }
      this.deps.toServer.flush()
    })
    return false
  }

  private async decideFunctionCall(oid: number, frame: Buffer): Promise<void> {
    const s = this.deps.state
    let decision: Decision
    let name = `function with OID ${oid}`
    try {
      name = await this.deps.resolveFunction(oid)
      decision = decideFunctionCall(s.guard, name, s.evalContext)
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      decision = {...unparseableDecision(this.deps.policy, reason), decision: 'deny'}
    }
    if (this.closed) return
    const info = {sql: `-- fastpath function call: ${name}`, decision}
    if (decision.decision === 'allow') {
      s.pipeline.push({expect: Expect.FunctionCall, running: s.startRunning(info)})
      this.deps.toServer.send(frame)
      return
    }
    s.audit.statementEvent(info)
    s.inject(() => Buffer.concat([decisionError(decision), readyForQuery(s.txStatus)]))
  }
}
