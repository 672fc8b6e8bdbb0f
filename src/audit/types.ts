/**
 * Audit events and the sink they are written to. One event per statement and per session start/end.
 * The local JSON-lines spool implements the sink today; a signed, uploaded trail replaces it later.
 */

/** What an audit event records. */
export type AuditEventType = 'session_start' | 'session_end' | 'statement'

/** One audit event (the fields of product.md that are known in standalone mode). */
export interface AuditEvent {
  readonly id: string
  readonly type: AuditEventType
  /** ISO 8601 time the event happened (a statement: when it was decided). */
  readonly time: string
  readonly session_id: string
  /** Who: the OS user in standalone mode. */
  readonly identity: string
  readonly actor: 'human' | 'agent' | 'ci'
  /** host:port/database of the target. */
  readonly target: string
  readonly protocol: 'postgres' | 'mysql'
  readonly database: string
  readonly db_user: string
  /** The statement text as the client sent it; parameter values are never recorded. */
  readonly statement?: string | undefined
  readonly kinds?: readonly string[] | undefined
  readonly tables?: readonly string[] | undefined
  readonly decision?: 'allow' | 'deny' | 'review' | undefined
  readonly rule?: string | null | undefined
  readonly rows?: number | null | undefined
  /** Output columns the proxy masked, as `column:rule` (`*:rule` for values a detect rule found). */
  readonly masked_columns?: readonly string[] | undefined
  readonly duration_ms?: number | undefined
  readonly error?: string | null | undefined
  readonly client_version: string
  /** The client's application_name, when it sent one. */
  readonly application_name?: string | undefined
  /** Session facts of the signed trail (shared objects, one per session; not in the JSON-lines form). */
  readonly groups?: readonly string[] | undefined
  readonly agent?: string | null | undefined
  readonly process?: AuditProcess | null | undefined
  readonly policy_version?: string | null | undefined
}

/** The local process on the other end of a session's connection (src/audit/event.ts ProcessInfo). */
export type AuditProcess =
  | {
      readonly found: true
      readonly pid: number
      readonly exe: string | null
      readonly cmdline: readonly string[]
      readonly parents: readonly {
        readonly pid: number
        readonly exe: string | null
        readonly cmdline: readonly string[]
      }[]
    }
  | {readonly found: false; readonly reason: string}

/** The fields every event of one session shares (the rest are its AuditEventMembers). */
export type AuditSessionFacts = Omit<
  AuditEvent,
  | 'id'
  | 'type'
  | 'time'
  | 'statement'
  | 'kinds'
  | 'tables'
  | 'decision'
  | 'rule'
  | 'rows'
  | 'masked_columns'
  | 'duration_ms'
  | 'error'
  | 'policy_version'
>

/** What differs between the events of one session: with its AuditSessionFacts, one AuditEvent. */
export interface AuditEventMembers {
  readonly id: string
  readonly type: AuditEventType
  readonly time: string
  readonly statement: string | null
  readonly kinds: readonly string[]
  readonly tables: readonly string[]
  readonly decision: 'allow' | 'deny' | 'review' | null
  readonly rule: string | null
  readonly rows: number | null
  readonly masked_columns: readonly string[]
  readonly duration_ms: number | null
  readonly error: string | null
  /** Read per event: a renewed policy brings its version while the session is open. */
  readonly policy_version: string | null
}

/** A sink's recorder for the events of one session, whose shared facts it prepared once. */
export interface AuditSessionRecorder {
  /**
   * As AuditSink.record, for the event made of the session's facts and `members`; `done` is given the
   * members back (so that one callback per session serves every statement: no closure per statement).
   */
  record<M extends AuditEventMembers>(members: M, done: (err: Error | undefined, members: M) => void): void
}

/** Where audit events go. Writes must never throw into the proxy's hot path. */
export interface AuditSink {
  /** Records one event; a promise resolves once it is durable (the proxy holds the result until then). */
  write(event: AuditEvent): Promise<void> | void
  /**
   * The callback form of a write that confirms durability, for the proxy's hot path (no promise per
   * statement): `done` is called once, with undefined when the event is recorded, else with why not.
   */
  record?(event: AuditEvent, done: (err: Error | undefined) => void): void
  /**
   * A recorder for the statements of one session (the proxy's hot path): what is the same for all of its
   * events is prepared once. Undefined when the sink has none; record() or write() then take each event.
   */
  session?(facts: AuditSessionFacts): AuditSessionRecorder | undefined
  /** Why a statement that writes must be refused now (events cannot be recorded); undefined when fine. */
  refusal?(): Error | undefined
  /** Flushes and releases the sink. */
  close(): Promise<void>
  /** True when the sink keeps nothing: sessions then make no events for it at all. */
  readonly discards?: boolean
}

/**
 * A sink that drops everything, and whose sessions make no events: the benchmarks' audit-off baseline
 * (the CLI never uses it: every guarded session is audited).
 */
export const nullAuditSink: AuditSink = {
  write: () => undefined,
  close: () => Promise.resolve(),
  discards: true,
}

/** Writes each event to every sink; one sink failing does not stop the others. */
export function teeAuditSink(...sinks: readonly AuditSink[]): AuditSink {
  return {
    write: (event) => {
      for (const s of sinks)
        try {
          const pending = s.write(event)
          if (pending !== undefined) pending.catch(() => undefined)
        } catch {
          // Each sink reports its own failures.
        }
    },
    close: async () => {
      await Promise.all(sinks.map((s) => s.close()))
    },
  }
}
