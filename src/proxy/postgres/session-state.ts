/**
 * What one Postgres session knows while it relays: the responses it expects, the server settings
 * that change how SQL is read, prepared statements and portals, and how it reports to the audit sink.
 */
import type {EvalContext, Guard, Operation} from '../../policy/index.js'
import {encodingClass, type EncodingClass, type TextContext} from './decide.js'
import {MaskSession} from './mask-session.js'
import {TxStatus} from './messages.js'
import {Expect, Pipeline, entry} from './pipeline.js'
import type {RunWriter} from '../run-writer.js'
import type {Running, SessionAudit, StatementInfo} from '../session-audit.js'
import type {GuardSource} from '../audited-guard.js'

/** Shared state of the two dispatchers of one session. */
export class SessionState implements TextContext {
  readonly pipeline = new Pipeline()
  /** Transaction status of the last ReadyForQuery the server sent. */
  txStatus: number = TxStatus.Idle
  standardConformingStrings: boolean
  clientEncoding: string
  /** How query text in clientEncoding decodes; updated with it. */
  encoding: EncodingClass
  /** Operations of named prepared statements (protocol Parse and SQL PREPARE share one namespace). */
  readonly prepared = new Map<string, readonly Operation[]>()
  /** What named statements and portals run, for the audit events of Execute. */
  readonly statements = new Map<string, StatementInfo>()
  readonly portals = new Map<string, StatementInfo>()
  /** After a denial in the extended protocol: drop client messages until Sync, as a server would. */
  discardUntilSync = false
  /** Masking of results; the relay gives it the side connection (without one, every lookup fails closed). */
  masking: MaskSession = new MaskSession(
    () => Promise.reject(new Error('no catalog connection')),
    new Uint8Array(32),
    [],
  )

  constructor(
    private readonly source: GuardSource,
    readonly toClient: RunWriter,
    readonly audit: SessionAudit,
    parameters: ReadonlyMap<string, string>,
  ) {
    this.standardConformingStrings = parameters.get('standard_conforming_strings') !== 'off'
    this.clientEncoding = parameters.get('client_encoding') ?? 'UTF8'
    this.encoding = encodingClass(this.clientEncoding)
  }

  /** The guard in force now. */
  get guard(): Guard {
    return this.source.guard
  }

  /** Who the session acts as now. */
  get evalContext(): EvalContext {
    return this.source.evalContext
  }

  /** Queues a synthetic response behind everything the server still owes; writes it now if nothing is owed. */
  inject(build: () => Buffer): void {
    if (this.pipeline.length === 0) this.toClient.send(build())
    else this.pipeline.push(entry(Expect.Inject, undefined, build))
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
    else if (name === 'client_encoding') {
      this.clientEncoding = value
      this.encoding = encodingClass(value)
    }
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
    return {
      sql: info.sql,
      decision: info.decision,
      startedAt: performance.now(),
      rows: null,
      error: null,
      masked: undefined,
    }
  }
}

/** Rows affected or returned, from the CommandComplete `buf[start, end)` ("SELECT 5", "INSERT 0 3"). */
export function rowsOfTag(buf: Buffer, start: number, frameEnd: number): number | null {
  let end = frameEnd - 1
  if (buf[end] === 0) end--
  let first = end
  while (first >= start + 5 && (buf[first] as number) >= 0x30 && (buf[first] as number) <= 0x39) first--
  if (first === end || buf[first] !== 0x20) return null
  let n = 0
  for (let i = first + 1; i <= end; i++) n = n * 10 + (buf[i] as number) - 0x30
  return n
}
