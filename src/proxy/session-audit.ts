/**
 * A session's audit events. One event per statement is on the relay's hot path, so building one is
 * kept cheap: a plain object of a fixed shape (no spreads), the time formatted from a per-second
 * cached prefix, the kinds and tables of a decision computed once per decision (cached decisions are
 * shared objects), ids from the session id and a counter, and no serialisation here: sinks serialise
 * in batches, off the message path.
 *
 * Durability: when the sink's write returns a promise (the durable spool), the session's output to the
 * client is held until it settles, so a client never sees the end of a statement (CommandComplete,
 * ReadyForQuery, or a denial) before its event is on disk. When the event cannot be recorded, a statement
 * that wrote ends the session (the upstream connection goes, so an open transaction rolls back); a read's
 * result is released and the loss reported.
 */
import {auditEventOf} from '../audit/event.js'
import type {
  AuditEvent,
  AuditEventMembers,
  AuditEventType,
  AuditProcess,
  AuditSessionFacts,
  AuditSessionRecorder,
  AuditSink,
} from '../audit/types.js'
import type {Decision, Operation} from '../policy/index.js'

/** A decided statement: its text and the decision. */
export interface StatementInfo {
  readonly sql: string
  readonly decision: Decision
  /** A statement approved at Parse: the grant spent then, and how many more Binds it covers (review.ts). */
  readonly grant?: {readonly approvalId: string; binds: number} | undefined
}

/** A statement being executed, for its audit event. */
export interface Running extends StatementInfo {
  readonly startedAt: number
  rows: number | null
  error: string | null
  /** Output columns masked, as `column:rule` (`*:rule` for values a detect rule found). */
  masked?: readonly string[] | undefined
}

/** The constant part of every audit event of a session. */
export type AuditBase = Omit<AuditEvent, 'id' | 'type' | 'time'>

/** Where a session's output to its client can be held until an event is durable (the RunWriter). */
export interface HoldableOutput {
  /** Holds output until release() is called with the returned ticket. */
  hold(): number
  /** Settles a hold: true writes the held output, false drops it (the session is ending). */
  release(ticket: number, ok: boolean): void
}

/** Told when an event could not be recorded; `wrote` when its statement ran and may have changed data. */
export type LostEventHandler = (error: Error, wrote: boolean) => void

/** Kinds that change nothing: their statements still run when the audit spool cannot record them. */
const READ_ONLY_KINDS: ReadonlySet<string> = new Set(['select', 'show', 'explain', 'set', 'transaction'])

/** True when a decision's statement may write: any kind but the read-only ones, or nothing known. */
export function mayWrite(d: Decision): boolean {
  if (d.operations.length === 0) return d.unparseable === true
  for (const op of d.operations) if (!READ_ONLY_KINDS.has(op.kind)) return true
  return false
}

interface Facts {
  readonly kinds: readonly string[]
  readonly tables: readonly string[]
  /** mayWrite of the decision. */
  readonly wrote: boolean
}

const factsCache = new WeakMap<Decision, Facts>()

/** The distinct kinds and tables of a decision's operations; computed once per decision object. */
function factsOf(d: Decision): Facts {
  let facts = factsCache.get(d)
  if (facts === undefined) {
    facts = {
      kinds: unique(d.operations, (o) => [o.kind]),
      tables: unique(d.operations, (o) => o.tables),
      wrote: mayWrite(d),
    }
    factsCache.set(d, facts)
  }
  return facts
}

function unique(ops: readonly Operation[], pick: (op: Operation) => readonly string[]): readonly string[] {
  if (ops.length === 1) return pick(ops[0] as Operation)
  return [...new Set(ops.flatMap(pick))]
}

let cachedSecond = -1
let cachedPrefix = ''

/** ISO 8601 UTC time of `ms` (epoch milliseconds); the date part is formatted once per second. */
export function isoTime(ms: number = Date.now()): string {
  const second = Math.floor(ms / 1000)
  if (second !== cachedSecond) {
    cachedSecond = second
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20)
  }
  const frac = ms - second * 1000
  return `${cachedPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`
}

/** No masked columns (shared: events are never changed once built). */
const NONE: readonly string[] = Object.freeze([])

/** A statement's event members, with what releasing its held output needs. */
interface Statement extends AuditEventMembers {
  /** mayWrite of its decision, and it ran. */
  readonly wrote: boolean
  /** Its hold on the session's output (HoldableOutput.hold). */
  ticket: number
}

/** Emits a session's audit events; a failing sink never takes the session down. */
export class SessionAudit {
  private count = 0
  private output: HoldableOutput | undefined
  private onLost: LostEventHandler | undefined
  /** What every event of this session shares (the process is added once known). */
  private facts: AuditSessionFacts
  /** The sink's recorder of this session's statements (made again when the process is known). */
  private recorder: AuditSessionRecorder | undefined

  constructor(
    private readonly sink: AuditSink,
    private readonly base: AuditBase,
  ) {
    this.facts = {
      session_id: base.session_id,
      identity: base.identity,
      actor: base.actor,
      target: base.target,
      protocol: base.protocol,
      database: base.database,
      db_user: base.db_user,
      client_version: base.client_version,
      application_name: base.application_name,
      groups: base.groups,
      agent: base.agent,
      process: base.process ?? null,
    }
    this.recorder = sink.session?.(this.facts)
  }

  /** Holds `output` until each later event is durable; `onLost` hears of events that could not be. */
  bind(output: HoldableOutput, onLost: LostEventHandler): void {
    this.output = output
    this.onLost = onLost
  }

  /** Records who is on the other end of the connection, for every later event. */
  setProcess(process: AuditProcess): void {
    this.facts = {...this.facts, process}
    this.recorder = this.sink.session?.(this.facts)
  }

  /** Why a statement that writes must be refused now (the trail cannot record it). */
  refusal(): Error | undefined {
    return this.sink.refusal?.()
  }

  /** A unique event id: the session's id and a counter (no random bytes per statement). */
  private nextId(): string {
    return `${this.base.session_id}.${++this.count}`
  }

  /** Emits a session_start or session_end event; resolves (never rejects) with the sink's answer. */
  sessionEvent(
    type: Extract<AuditEventType, 'session_start' | 'session_end'>,
    error?: string,
  ): Promise<Error | undefined> {
    return this.record(
      auditEventOf(this.facts, {
        id: this.nextId(),
        type,
        time: isoTime(),
        statement: null,
        kinds: NONE,
        tables: NONE,
        decision: null,
        rule: null,
        rows: null,
        masked_columns: NONE,
        duration_ms: null,
        error: error ?? null,
        policy_version: this.base.policy_version ?? null,
      }),
    )
  }

  /** Emits the event of a decided statement: denied ones right away, allowed ones when they finish. */
  statementEvent(info: StatementInfo, running?: Running): void {
    if (this.sink.discards === true) return
    const d = info.decision
    const facts = factsOf(d)
    const output = this.output
    const wrote = running !== undefined && facts.wrote
    const members: Statement = {
      id: this.nextId(),
      type: 'statement',
      time: isoTime(),
      statement: info.sql,
      kinds: facts.kinds,
      tables: facts.tables,
      decision: d.decision,
      rule: d.rule,
      rows: running === undefined ? null : running.rows,
      masked_columns: running?.masked ?? NONE,
      duration_ms:
        running === undefined ? 0 : Math.round((performance.now() - running.startedAt) * 1000) / 1000,
      error: running?.error ?? (d.decision === 'allow' ? null : (d.message ?? d.decision)),
      policy_version: this.base.policy_version ?? null,
      wrote,
      ticket: output === undefined ? -1 : 0,
    }
    const recorder = this.recorder
    if (output !== undefined && (recorder !== undefined || this.sink.record !== undefined)) {
      // The sink's callback form: no promise (and, with a recorder, no closure) per statement.
      members.ticket = output.hold()
      try {
        if (recorder !== undefined) recorder.record(members, this.recorded)
        else this.sink.record?.(auditEventOf(this.facts, members), (err) => this.recorded(err, members))
      } catch (err) {
        this.recorded(err instanceof Error ? err : new Error(String(err)), members)
      }
      return
    }
    const event = auditEventOf(this.facts, members)
    const pending = this.emit(event)
    if (pending === undefined) return
    if (output === undefined) {
      pending.catch(() => undefined)
      return
    }
    members.ticket = output.hold()
    pending.then(
      () => this.recorded(undefined, members),
      (err: unknown) => this.recorded(err instanceof Error ? err : new Error(String(err)), members),
    )
  }

  /** Releases a statement's held output once its event is recorded; reports it lost otherwise. */
  private readonly recorded = (err: Error | undefined, s: Statement): void => {
    const output = this.output
    if (output === undefined) return
    if (err === undefined) return output.release(s.ticket, true)
    this.onLost?.(err, s.wrote)
    output.release(s.ticket, !s.wrote)
  }

  /** Writes an event and settles with the sink's error, if any (session events). */
  private record(event: AuditEvent): Promise<Error | undefined> {
    const pending = this.emit(event)
    if (pending === undefined) return Promise.resolve(undefined)
    return pending.then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    )
  }

  /** Hands an event to the sink; a promise when the sink confirms durability. Never throws. */
  private emit(event: AuditEvent): Promise<void> | undefined {
    try {
      return this.sink.write(event) ?? undefined
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }
}
