/**
 * The full audit event of the signed trail (product.md "Audit event (minimum fields)") and its canonical
 * serialisation: the exact bytes that are hashed into the chain and covered by batch signatures.
 */
import type {AuditEvent, AuditEventMembers, AuditSessionFacts} from './types.js'
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

/**
 * A body built by fromAuditEvent: exactly the body's keys, so its canonical form needs no key check. A
 * class rather than a brand in a WeakSet (one WeakSet insertion per statement showed in profiles); a copy
 * made by spreading is a plain object again, so extra keys added to a copy are never skipped.
 */
class ExactBody implements AuditEventBody {
  readonly id: AuditEventBody['id']
  readonly type: AuditEventBody['type']
  readonly time: AuditEventBody['time']
  readonly session_id: AuditEventBody['session_id']
  readonly identity: AuditEventBody['identity']
  readonly groups: AuditEventBody['groups']
  readonly actor: AuditEventBody['actor']
  readonly agent: AuditEventBody['agent']
  readonly process: AuditEventBody['process']
  readonly target: AuditEventBody['target']
  readonly protocol: AuditEventBody['protocol']
  readonly database: AuditEventBody['database']
  readonly db_user: AuditEventBody['db_user']
  readonly statement: AuditEventBody['statement']
  readonly fingerprint: AuditEventBody['fingerprint']
  readonly kinds: AuditEventBody['kinds']
  readonly tables: AuditEventBody['tables']
  readonly decision: AuditEventBody['decision']
  readonly rule: AuditEventBody['rule']
  readonly approval_id: AuditEventBody['approval_id']
  readonly masked_columns: AuditEventBody['masked_columns']
  readonly rows: AuditEventBody['rows']
  readonly duration_ms: AuditEventBody['duration_ms']
  readonly error: AuditEventBody['error']
  readonly policy_version: AuditEventBody['policy_version']
  readonly client_version: AuditEventBody['client_version']
  readonly application_name: AuditEventBody['application_name']

  constructor(e: AuditEvent, extra: AuditEnrichment) {
    this.id = e.id
    this.type = e.type
    this.time = e.time
    this.session_id = e.session_id
    this.identity = e.identity
    this.groups = extra.groups ?? e.groups ?? []
    this.actor = e.actor
    this.agent = extra.agent ?? e.agent ?? null
    this.process = extra.process ?? e.process ?? null
    this.target = e.target
    this.protocol = e.protocol
    this.database = e.database
    this.db_user = e.db_user
    this.statement = e.statement ?? null
    this.fingerprint = extra.fingerprint ?? null
    this.kinds = e.kinds ?? []
    this.tables = e.tables ?? []
    this.decision = e.decision ?? null
    this.rule = e.rule ?? null
    this.approval_id = extra.approval_id ?? null
    this.masked_columns = extra.masked_columns ?? e.masked_columns ?? []
    this.rows = e.rows ?? null
    this.duration_ms = e.duration_ms ?? null
    this.error = e.error ?? null
    this.policy_version = extra.policy_version ?? e.policy_version ?? null
    this.client_version = e.client_version
    this.application_name = e.application_name ?? null
  }
}

/** Maps the proxy's current event (src/audit/types.ts) into the full one, with session facts added. */
export function fromAuditEvent(e: AuditEvent, extra: AuditEnrichment = {}): AuditEventBody {
  return new ExactBody(e, extra)
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

/** A character JSON.stringify escapes, or one outside printable ASCII (then it decides). Code units: no `u`. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_ESCAPING = /[\u0000-\u001f"\\\u007f-\uffff]/

/** A JSON string literal; printable ASCII without quote or backslash (nearly every value) needs no escaping. */
function str(s: string): string {
  // A regular expression scans faster than a charCodeAt loop (measured: about 40 % less per statement text).
  return NEEDS_ESCAPING.test(s) ? JSON.stringify(s) : `"${s}"`
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

/** Thrown by `j` for a value only the general function can write; caught once per event. */
const UNEXPECTED: unique symbol = Symbol('unexpected value')

/** The canonical text of one member value; throws UNEXPECTED when only the general function can say. */
function j(v: unknown): string {
  if (typeof v === 'string') return str(v)
  if (v === null) return 'null'
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return String(v)
  } else if (typeof v === 'object') return canonicalJson(v)
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- a sentinel, never escapes this module
  throw UNEXPECTED
}

/**
 * canonicalJson of a chained event without sorting keys at run time: a third of the general function's
 * cost at one event per statement. Falls back to it for any value it does not expect, so the text is
 * always identical (a property test holds the two together).
 */
export function canonicalEventJson(e: ChainedEvent): string {
  if (Object.keys(e).length !== EVENT_KEYS.length) return canonicalJson(e)
  return canonicalChained(e, e.seq, e.prev_hash) ?? canonicalJson(e)
}

/**
 * The canonical text of `body` chained with `seq` and `prevHash`, without building the chained object (the
 * spool's path: one event per statement). Same text as canonicalEventJson of `{...body, seq, prev_hash}`.
 */
export function canonicalChainedJson(body: AuditEventBody, seq: number, prevHash: string): string {
  const text = body instanceof ExactBody ? canonicalChained(body, seq, prevHash) : undefined
  return text ?? canonicalEventJson({...body, seq, prev_hash: prevHash})
}

/**
 * The members written in canonical (sorted) key order, unrolled: no key loop, no per-key prefix built at run
 * time, one concatenation per member. The order must be EVENT_KEYS' (the property test holds it).
 */
function canonicalChained(e: AuditEventBody, seq: number, prevHash: string): string | undefined {
  try {
    return (
      `{"actor":${j(e.actor)},"agent":${j(e.agent)},"application_name":${j(e.application_name)}` +
      `,"approval_id":${j(e.approval_id)},"client_version":${j(e.client_version)},"database":${j(e.database)}` +
      `,"db_user":${j(e.db_user)},"decision":${j(e.decision)},"duration_ms":${j(e.duration_ms)}` +
      `,"error":${j(e.error)},"fingerprint":${j(e.fingerprint)},"groups":${j(e.groups)},"id":${j(e.id)}` +
      `,"identity":${j(e.identity)},"kinds":${j(e.kinds)},"masked_columns":${j(e.masked_columns)}` +
      `,"policy_version":${j(e.policy_version)},"prev_hash":${j(prevHash)},"process":${j(e.process)}` +
      `,"protocol":${j(e.protocol)},"rows":${j(e.rows)},"rule":${j(e.rule)},"seq":${j(seq)}` +
      `,"session_id":${j(e.session_id)},"statement":${j(e.statement)},"tables":${j(e.tables)}` +
      `,"target":${j(e.target)},"time":${j(e.time)},"type":${j(e.type)}}`
    )
  } catch (err) {
    if (err === UNEXPECTED) return undefined
    throw err
  }
}

/** The proxy event of a session's `facts` and one event's `members`. */
export function auditEventOf(facts: AuditSessionFacts, m: AuditEventMembers): AuditEvent {
  return {
    ...facts,
    id: m.id,
    type: m.type,
    time: m.time,
    statement: m.statement ?? undefined,
    kinds: m.kinds,
    tables: m.tables,
    decision: m.decision ?? undefined,
    rule: m.rule,
    rows: m.rows,
    masked_columns: m.masked_columns,
    duration_ms: m.duration_ms ?? undefined,
    error: m.error,
    policy_version: m.policy_version,
  }
}

/** The canonical text of an array of strings; throws UNEXPECTED for any other element. */
function strings(list: readonly string[]): string {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- a sentinel, never escapes this module
  if (!Array.isArray(list)) throw UNEXPECTED
  if (list.length === 0) return '[]'
  let out = '['
  for (let i = 0; i < list.length; i++) {
    const v: unknown = list[i]
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- a sentinel, never escapes this module
    if (typeof v !== 'string') throw UNEXPECTED
    out += i === 0 ? str(v) : `,${str(v)}`
  }
  return `${out}]`
}

/**
 * The canonical form of one session's events, whose shared facts (actor, identity, target, process, ...)
 * are written once per session: each event then writes only its own members between the prepared runs
 * of constant members (keys in canonical order). The text is always canonicalJson's of the chained
 * event that fromAuditEvent makes of the same proxy event (a property test holds them together); a value
 * it does not expect goes through canonicalJson.
 */
export class SessionText {
  /** `{"actor":…` up to `"decision":`. */
  private readonly head: string
  /** `,"fingerprint":null,"groups":…,"id":`. */
  private readonly groups: string
  /** `,"identity":…,"kinds":`. */
  private readonly identity: string
  /** `,"process":…,"protocol":…,"rows":`. */
  private readonly process: string
  /** `,"session_id":…,"statement":`. */
  private readonly session: string
  /** `,"target":…,"time":`. */
  private readonly target: string
  /** The last policy version written, and its text. */
  private policy: string | null = null
  private policyText = 'null'

  constructor(private readonly facts: AuditSessionFacts) {
    const c = (v: unknown): string => canonicalJson(v ?? null)
    this.head =
      `{"actor":${c(facts.actor)},"agent":${c(facts.agent)},"application_name":${c(facts.application_name)}` +
      `,"approval_id":null,"client_version":${c(facts.client_version)},"database":${c(facts.database)}` +
      `,"db_user":${c(facts.db_user)},"decision":`
    this.groups = `,"fingerprint":null,"groups":${c(facts.groups ?? [])},"id":`
    this.identity = `,"identity":${c(facts.identity)},"kinds":`
    this.process = `,"process":${c(facts.process)},"protocol":${c(facts.protocol)},"rows":`
    this.session = `,"session_id":${c(facts.session_id)},"statement":`
    this.target = `,"target":${c(facts.target)},"time":`
  }

  /** The proxy event of this session with `members`. */
  event(m: AuditEventMembers): AuditEvent {
    return auditEventOf(this.facts, m)
  }

  /** canonicalJson of the event of `m` (fromAuditEvent's body), chained with `seq` and `prevHash`. */
  chained(m: AuditEventMembers, seq: number, prevHash: string): string {
    try {
      return (
        `${this.head}${j(m.decision)},"duration_ms":${j(m.duration_ms)},"error":${j(m.error)}${this.groups}` +
        `${j(m.id)}${this.identity}${strings(m.kinds)},"masked_columns":${strings(m.masked_columns)}` +
        `,"policy_version":${this.policyOf(m.policy_version)},"prev_hash":${j(prevHash)}${this.process}` +
        `${j(m.rows)},"rule":${j(m.rule)},"seq":${j(seq)}${this.session}${j(m.statement)},"tables":` +
        `${strings(m.tables)}${this.target}${j(m.time)},"type":${j(m.type)}}`
      )
    } catch (err) {
      if (err !== UNEXPECTED) throw err
      return canonicalJson({...fromAuditEvent(this.event(m)), seq, prev_hash: prevHash})
    }
  }

  /** The text of a policy version: the same as the last event's, nearly always. */
  private policyOf(version: string | null): string {
    if (version !== this.policy) {
      this.policyText = j(version)
      this.policy = version
    }
    return this.policyText
  }
}
