/**
 * The full audit event of the signed trail (product.md "Audit event (minimum fields)") and its canonical
 * serialisation: the exact bytes that are hashed into the chain and covered by batch signatures.
 */
import type {AuditEvent} from './types.js'
import {canonicalJson} from './canonical-json.js'

export {canonicalJson}

/** What an event records. */
export type FullEventType = 'session_start' | 'statement' | 'session_end' | 'approval'

/** Who is behind a session. */
export type Actor = 'human' | 'agent' | 'ci'

/** The policy decision of a statement. */
export type Decision = 'allow' | 'deny' | 'review'

/** One local process: its id, executable and argument vector. */
export interface ProcessRef {
  readonly pid: number
  /** The executable's path; null when it could not be read (another user's process). */
  readonly exe: string | null
  readonly cmdline: readonly string[]
}

/** The process found on the other end of a local connection, with its parents (nearest first). */
export interface ProcessFound extends ProcessRef {
  readonly found: true
  readonly parents: readonly ProcessRef[]
}

/** A lookup that could not name the process, and why; never a guess. */
export interface ProcessNotFound {
  readonly found: false
  readonly reason: string
}

/** Who is on the other end of a local connection. */
export type ProcessInfo = ProcessFound | ProcessNotFound

/** An event before it is chained: everything but `seq` and `prev_hash`. */
export interface AuditEventBody {
  readonly id: string
  readonly type: FullEventType
  /** ISO 8601. */
  readonly time: string
  readonly session_id: string
  readonly identity: string
  readonly groups: readonly string[]
  readonly actor: Actor
  /** The agent's name when an agent acts for the identity. */
  readonly agent: string | null
  readonly process: ProcessInfo | null
  readonly target: string
  readonly protocol: 'postgres' | 'mysql'
  readonly database: string
  readonly db_user: string
  /** The statement as the client sent it; parameter values only after masking. */
  readonly statement: string | null
  readonly fingerprint: string | null
  readonly kinds: readonly string[]
  readonly tables: readonly string[]
  readonly decision: Decision | null
  readonly rule: string | null
  readonly approval_id: string | null
  readonly masked_columns: readonly string[]
  readonly rows: number | null
  readonly duration_ms: number | null
  readonly error: string | null
  readonly policy_version: string | null
  readonly client_version: string
  readonly application_name: string | null
}

/** An event in the chain: `seq` is monotonic per device, `prev_hash` the previous event's hash. */
export interface ChainedEvent extends AuditEventBody {
  readonly seq: number
  readonly prev_hash: string
}

/** Session facts the proxy's current event does not carry yet. */
export interface AuditEnrichment {
  readonly groups?: readonly string[] | undefined
  readonly agent?: string | null | undefined
  readonly process?: ProcessInfo | null | undefined
  readonly fingerprint?: string | null | undefined
  readonly approval_id?: string | null | undefined
  readonly masked_columns?: readonly string[] | undefined
  readonly policy_version?: string | null | undefined
}

/** Maps the proxy's current event (src/audit/types.ts) into the full one, with session facts added. */
export function fromAuditEvent(e: AuditEvent, extra: AuditEnrichment = {}): AuditEventBody {
  return {
    id: e.id,
    type: e.type,
    time: e.time,
    session_id: e.session_id,
    identity: e.identity,
    groups: extra.groups ?? [],
    actor: e.actor,
    agent: extra.agent ?? null,
    process: extra.process ?? null,
    target: e.target,
    protocol: e.protocol,
    database: e.database,
    db_user: e.db_user,
    statement: e.statement ?? null,
    fingerprint: extra.fingerprint ?? null,
    kinds: e.kinds ?? [],
    tables: e.tables ?? [],
    decision: e.decision ?? null,
    rule: e.rule ?? null,
    approval_id: extra.approval_id ?? null,
    masked_columns: extra.masked_columns ?? e.masked_columns ?? [],
    rows: e.rows ?? null,
    duration_ms: e.duration_ms ?? null,
    error: e.error ?? null,
    policy_version: extra.policy_version ?? null,
    client_version: e.client_version,
    application_name: e.application_name ?? null,
  }
}

const EVENT_TYPES: ReadonlySet<string> = new Set(['session_start', 'statement', 'session_end', 'approval'])
const HASH = /^[0-9a-f]{64}$/

/** Parses one stored event (untrusted bytes); throws a TypeError naming what is wrong. */
export function parseChainedEvent(text: string): ChainedEvent {
  const doc = JSON.parse(text) as unknown
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TypeError('not an object')
  const e = doc as Record<string, unknown>
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) throw new TypeError('bad seq')
  if (typeof e.prev_hash !== 'string' || !HASH.test(e.prev_hash)) throw new TypeError('bad prev_hash')
  if (typeof e.type !== 'string' || !EVENT_TYPES.has(e.type)) throw new TypeError('bad type')
  if (typeof e.id !== 'string' || typeof e.session_id !== 'string') throw new TypeError('bad id')
  return doc as ChainedEvent
}

/** A JSON string literal; printable ASCII without quote or backslash (nearly every value) needs no escaping. */
function str(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s)
  }
  return `"${s}"`
}

/** The event's keys in canonical (sorted) order. */
const EVENT_KEYS: readonly (keyof ChainedEvent)[] = (
  [
    'actor',
    'agent',
    'application_name',
    'approval_id',
    'client_version',
    'database',
    'db_user',
    'decision',
    'duration_ms',
    'error',
    'fingerprint',
    'groups',
    'id',
    'identity',
    'kinds',
    'masked_columns',
    'policy_version',
    'prev_hash',
    'process',
    'protocol',
    'rows',
    'rule',
    'seq',
    'session_id',
    'statement',
    'tables',
    'target',
    'time',
    'type',
  ] as const
).slice()

/**
 * canonicalJson of a chained event without sorting keys at run time: a third of the general function's
 * cost at one event per statement. Falls back to it for any value it does not expect, so the text is
 * always identical (a property test holds the two together).
 */
export function canonicalEventJson(e: ChainedEvent): string {
  if (Object.keys(e).length !== EVENT_KEYS.length) return canonicalJson(e)
  let out = '{'
  for (const k of EVENT_KEYS) {
    const v: unknown = e[k]
    let text: string
    if (typeof v === 'string') text = str(v)
    else if (v === null) text = 'null'
    else if (v === undefined) return canonicalJson(e)
    else text = canonicalJson(v)
    out += `${out.length === 1 ? '' : ','}"${k}":${text}`
  }
  return `${out}}`
}
