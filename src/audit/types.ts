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
  readonly duration_ms?: number | undefined
  readonly error?: string | null | undefined
  readonly client_version: string
  /** The client's application_name, when it sent one. */
  readonly application_name?: string | undefined
}

/** Where audit events go. Writes must never throw into the proxy's hot path. */
export interface AuditSink {
  /** Records one event. */
  write(event: AuditEvent): Promise<void> | void
  /** Flushes and releases the sink. */
  close(): Promise<void>
}

/** A sink that drops everything (tests, or audit disabled explicitly). */
export const nullAuditSink: AuditSink = {
  write: () => undefined,
  close: () => Promise.resolve(),
}

/** Writes each event to every sink. */
export function teeAuditSink(...sinks: readonly AuditSink[]): AuditSink {
  return {
    write: (event) => {
      for (const s of sinks) void s.write(event)
    },
    close: async () => {
      await Promise.all(sinks.map((s) => s.close()))
    },
  }
}
