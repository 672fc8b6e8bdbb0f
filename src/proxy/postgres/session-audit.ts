/**
 * A session's audit events. One event per statement is on the relay's hot path, so building one is
 * kept cheap: a plain object of a fixed shape (no spreads), the time formatted from a per-second
 * cached prefix, the kinds and tables of a decision computed once per decision (cached decisions are
 * shared objects), and no serialisation here: sinks serialise in batches, off the message path.
 */
import {randomUUID} from 'node:crypto'

import type {AuditEvent, AuditEventType, AuditSink} from '../../audit/types.js'
import type {Decision, Operation} from '../../policy/index.js'

/** A decided statement: its text and the decision. */
export interface StatementInfo {
  readonly sql: string
  readonly decision: Decision
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

interface Facts {
  readonly kinds: readonly string[]
  readonly tables: readonly string[]
}

const factsCache = new WeakMap<Decision, Facts>()

/** The distinct kinds and tables of a decision's operations; computed once per decision object. */
function factsOf(d: Decision): Facts {
  let facts = factsCache.get(d)
  if (facts === undefined) {
    facts = {kinds: unique(d.operations, (o) => [o.kind]), tables: unique(d.operations, (o) => o.tables)}
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

/** Emits a session's audit events; a failing sink never takes the session down. */
export class SessionAudit {
  constructor(
    private readonly sink: AuditSink,
    private readonly base: AuditBase,
  ) {}

  /** Emits a session_start or session_end event. */
  sessionEvent(type: Extract<AuditEventType, 'session_start' | 'session_end'>, error?: string): void {
    const b = this.base
    this.emit({
      id: randomUUID(),
      type,
      time: isoTime(),
      session_id: b.session_id,
      identity: b.identity,
      actor: b.actor,
      target: b.target,
      protocol: b.protocol,
      database: b.database,
      db_user: b.db_user,
      error: error ?? null,
      client_version: b.client_version,
      application_name: b.application_name,
    })
  }

  /** Emits the event of a decided statement: denied ones right away, allowed ones when they finish. */
  statementEvent(info: StatementInfo, running?: Running): void {
    const b = this.base
    const d = info.decision
    const facts = factsOf(d)
    this.emit({
      id: randomUUID(),
      type: 'statement',
      time: isoTime(),
      session_id: b.session_id,
      identity: b.identity,
      actor: b.actor,
      target: b.target,
      protocol: b.protocol,
      database: b.database,
      db_user: b.db_user,
      statement: info.sql,
      kinds: facts.kinds,
      tables: facts.tables,
      decision: d.decision,
      rule: d.rule,
      rows: running === undefined ? null : running.rows,
      masked_columns: running?.masked,
      duration_ms:
        running === undefined ? 0 : Math.round((performance.now() - running.startedAt) * 1000) / 1000,
      error: running?.error ?? (d.decision === 'allow' ? null : (d.message ?? d.decision)),
      client_version: b.client_version,
      application_name: b.application_name,
    })
  }

  private emit(event: AuditEvent): void {
    try {
      const pending = this.sink.write(event)
      if (pending !== undefined) pending.catch(() => undefined)
    } catch {
      // An audit sink failure must not take the session down; the sink reports its own errors.
    }
  }
}
