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

/** Where audit events go. Writes must never throw into the proxy's hot path. */
export interface AuditSink {
  /** Records one event; a promise resolves once it is durable (the proxy holds the result until then). */
  write(event: AuditEvent): Promise<void> | void
  /** Why a statement that writes must be refused now (events cannot be recorded); undefined when fine. */
  refusal?(): Error | undefined
  /** Flushes and releases the sink. */
  close(): Promise<void>
}

/** A sink that drops everything (tests, or audit disabled explicitly). */
export const nullAuditSink: AuditSink = {
  write: () => undefined,
  close: () => Promise.resolve(),
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

/** The inside of a JSON string literal; printable ASCII without quote or backslash (nearly every value) is kept. */
function esc(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s).slice(1, -1)
  }
  return s
}

function str(s: string): string {
  return `"${esc(s)}"`
}

function pushStrings(out: string[], list: readonly string[]): void {
  out.push('[')
  for (let i = 0; i < list.length; i++) out.push(i === 0 ? '"' : ',"', esc(list[i] as string), '"')
  out.push(']')
}

function pushStringOrNull(out: string[], s: string | null): void {
  if (s === null) out.push('null')
  else out.push('"', esc(s), '"')
}

function num(n: number | null): string {
  return n !== null && Number.isFinite(n) ? String(n) : 'null'
}

/** The per-session fields of events, serialised once per session. */
interface SessionFields {
  readonly identity: string
  readonly actor: string
  readonly target: string
  readonly protocol: string
  readonly database: string
  readonly db_user: string
  readonly client_version: string
  readonly application_name: string | undefined
  /** `,"session_id":…,"identity":…,…,"db_user":…` */
  readonly head: string
  /** `,"client_version":…[,"application_name":…]}` */
  readonly tail: string
}

const sessionFields = new Map<string, SessionFields>()

function sameSession(f: SessionFields, e: AuditEvent): boolean {
  return (
    f.identity === e.identity &&
    f.actor === e.actor &&
    f.target === e.target &&
    f.protocol === e.protocol &&
    f.database === e.database &&
    f.db_user === e.db_user &&
    f.client_version === e.client_version &&
    f.application_name === e.application_name
  )
}

/** The serialised session fields of an event; compared field by field, so a reused session id is safe. */
function sessionFieldsOf(e: AuditEvent): SessionFields {
  const cached = sessionFields.get(e.session_id)
  if (cached !== undefined && sameSession(cached, e)) return cached
  const app = e.application_name
  const fields: SessionFields = {
    identity: e.identity,
    actor: e.actor,
    target: e.target,
    protocol: e.protocol,
    database: e.database,
    db_user: e.db_user,
    client_version: e.client_version,
    application_name: app,
    head: [
      `,"session_id":${str(e.session_id)},"identity":${str(e.identity)},"actor":${str(e.actor)}`,
      `,"target":${str(e.target)},"protocol":${str(e.protocol)},"database":${str(e.database)}`,
      `,"db_user":${str(e.db_user)}`,
    ].join(''),
    tail: [
      `,"client_version":${str(e.client_version)}`,
      app === undefined ? '' : `,"application_name":${str(app)}`,
      '}',
    ].join(''),
  }
  // Bounded: a long-lived process must not keep every session it ever saw.
  if (sessionFields.size >= 1024) sessionFields.clear()
  sessionFields.set(e.session_id, fields)
  return fields
}

/**
 * One event as JSON: the same text as JSON.stringify of an event whose keys were added in the order
 * of AuditEvent (undefined fields left out), at a fraction of its cost, which matters at one event
 * per statement. The per-session fields are serialised once per session, and the line is joined
 * from its parts at once (a flat string: no chain of concatenations to flatten when it is written).
 */
export function auditEventJson(e: AuditEvent): string {
  const session = sessionFieldsOf(e)
  const out = ['{"id":"', esc(e.id), '","type":"', esc(e.type), '","time":"', esc(e.time), '"', session.head]
  if (e.statement !== undefined) out.push(',"statement":"', esc(e.statement), '"')
  if (e.kinds !== undefined) {
    out.push(',"kinds":')
    pushStrings(out, e.kinds)
  }
  if (e.tables !== undefined) {
    out.push(',"tables":')
    pushStrings(out, e.tables)
  }
  if (e.decision !== undefined) out.push(',"decision":"', esc(e.decision), '"')
  if (e.rule !== undefined) {
    out.push(',"rule":')
    pushStringOrNull(out, e.rule)
  }
  if (e.masked_columns !== undefined && e.masked_columns.length > 0) {
    out.push(',"masked_columns":')
    pushStrings(out, e.masked_columns)
  }
  if (e.rows !== undefined) out.push(',"rows":', num(e.rows))
  if (e.duration_ms !== undefined) out.push(',"duration_ms":', num(e.duration_ms))
  if (e.error !== undefined) {
    out.push(',"error":')
    pushStringOrNull(out, e.error)
  }
  out.push(session.tail)
  if (e.type === 'session_end') sessionFields.delete(e.session_id)
  return out.join('')
}
