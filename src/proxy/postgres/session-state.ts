/**
 * What one Postgres session knows while it relays: the responses it expects, the server settings
 * that change how SQL is read, prepared statements and portals, and how it reports to the audit sink.
 */
import {randomUUID} from 'node:crypto'

import type {AuditEvent, AuditEventType, AuditSink} from '../../audit/types.js'
import type {Decision, EvalContext, Guard, Operation} from '../../policy/index.js'
import {TxStatus} from './messages.js'
import {Expect, Pipeline, type Running} from './pipeline.js'
import type {RunWriter} from './run-writer.js'

/** A decided statement: its text and the decision. */
export interface StatementInfo {
  readonly sql: string
  readonly decision: Decision
}

/** The constant part of every audit event of a session. */
export type AuditBase = Omit<AuditEvent, 'id' | 'type' | 'time'>

/** Shared state of the two dispatchers of one session. */
export class SessionState {
  readonly pipeline = new Pipeline()
  /** Transaction status of the last ReadyForQuery the server sent. */
  txStatus: number = TxStatus.Idle
  standardConformingStrings: boolean
  clientEncoding: string
  /** Operations of named prepared statements (protocol Parse and SQL PREPARE share one namespace). */
  readonly prepared = new Map<string, readonly Operation[]>()
  /** What named statements and portals run, for the audit events of Execute. */
  readonly statements = new Map<string, StatementInfo>()
  readonly portals = new Map<string, StatementInfo>()
  /** After a denial in the extended protocol: drop client messages until Sync, as a server would. */
  discardUntilSync = false

  constructor(
    readonly guard: Guard,
    readonly evalContext: EvalContext,
    readonly toClient: RunWriter,
    readonly audit: SessionAudit,
    parameters: ReadonlyMap<string, string>,
  ) {
    this.standardConformingStrings = parameters.get('standard_conforming_strings') !== 'off'
    this.clientEncoding = parameters.get('client_encoding') ?? 'UTF8'
  }

  /** Queues a synthetic response behind everything the server still owes; writes it now if nothing is owed. */
  inject(build: () => Buffer): void {
    if (this.pipeline.length === 0) this.toClient.send(build())
    else this.pipeline.push({expect: Expect.Inject, inject: build})
  }

  /** Writes queued synthetic responses that have reached the head of the pipeline. */
  drainInjects(): void {
    for (let head = this.pipeline.peek(); head?.expect === Expect.Inject; head = this.pipeline.peek()) {
      this.pipeline.shift()
      if (head.inject !== undefined) this.toClient.send(head.inject())
    }
  }

  /** Applies a server ParameterStatus that changes how the guard must read SQL. */
  parameterStatus(name: string, value: string): void {
    if (name === 'standard_conforming_strings') this.standardConformingStrings = value !== 'off'
    else if (name === 'client_encoding') this.clientEncoding = value
  }

  /** Records the effects of an allowed query on the prepared-statement namespace. */
  applyPrepared(
    prepares: readonly {name: string; operations: readonly Operation[]}[],
    deallocates: readonly string[] | 'all',
  ): void {
    if (deallocates === 'all') {
      this.prepared.clear()
      this.statements.clear()
    } else
      for (const name of deallocates) {
        this.prepared.delete(name)
        this.statements.delete(name)
      }
    for (const p of prepares) this.prepared.set(p.name, p.operations)
  }

  /** A statement starts running: what its audit event will need. */
  startRunning(info: StatementInfo): Running {
    return {sql: info.sql, decision: info.decision, startedAt: performance.now(), rows: null, error: null}
  }
}

/** Emits a session's audit events; a failing sink never takes the session down. */
export class SessionAudit {
  constructor(
    private readonly audit: AuditSink,
    private readonly auditBase: AuditBase,
  ) {}

  /** Emits a session_start or session_end event. */
  sessionEvent(type: Extract<AuditEventType, 'session_start' | 'session_end'>, error?: string): void {
    this.emit({
      ...this.auditBase,
      id: randomUUID(),
      type,
      time: new Date().toISOString(),
      error: error ?? null,
    })
  }

  /** Emits the event of a decided statement: denied ones right away, allowed ones when they finish. */
  statementEvent(info: StatementInfo, running?: Running): void {
    const {sql, decision} = info
    this.emit({
      id: randomUUID(),
      type: 'statement',
      time: new Date().toISOString(),
      ...this.auditBase,
      statement: sql,
      kinds: unique(decision.operations, (o) => [o.kind]),
      tables: unique(decision.operations, (o) => o.tables),
      decision: decision.decision,
      rule: decision.rule,
      rows: running?.rows ?? null,
      duration_ms:
        running === undefined ? 0 : Math.round((performance.now() - running.startedAt) * 1000) / 1000,
      error:
        running?.error ?? (decision.decision === 'allow' ? null : (decision.message ?? decision.decision)),
    })
  }

  private emit(event: AuditEvent): void {
    try {
      void Promise.resolve(this.audit.write(event)).catch(() => undefined)
    } catch {
      // An audit sink failure must not take the session down; the sink reports its own errors.
    }
  }
}

/** The distinct values of a field over operations; the common single-operation case allocates no Set. */
function unique<T>(ops: readonly T[], pick: (op: T) => readonly string[]): readonly string[] {
  if (ops.length === 1) return pick(ops[0] as T)
  return [...new Set(ops.flatMap(pick))]
}

/** Rows affected or returned, from a CommandComplete tag ("SELECT 5", "INSERT 0 3", "UPDATE 2"). */
export function rowsOfTag(frame: Buffer): number | null {
  let end = frame.length - 1
  if (frame[end] === 0) end--
  let start = end
  while (start >= 5 && (frame[start] as number) >= 0x30 && (frame[start] as number) <= 0x39) start--
  if (start === end || frame[start] !== 0x20) return null
  return Number(frame.toString('latin1', start + 1, end + 1))
}
