/**
 * The service behind `dbgate policy test`: decides statements against a policy file without a
 * database, one at a time (--sql) or from a JSON Lines file (--input), through the same Guard the
 * proxy uses.
 */
import {readFileSync} from 'node:fs'

import {UsageError, messageOf} from '../errors.js'
import {Guard, loadParsers} from '../policy/index.js'
import {
  ACTORS,
  type Actor,
  type Decision,
  type Dialect,
  type Policy,
  type WhereState,
} from '../policy/types.js'

/** The dialects `policy test` accepts. */
export const DIALECTS = ['postgres', 'mysql'] as const satisfies readonly Dialect[]

/**
 * Schema unqualified table names resolve to when none is given: Postgres' `public`, and for MySQL the
 * `mysql` database (there is no connection to tell the current one: pass --schema for your own).
 */
export const DEFAULT_SCHEMA: Readonly<Record<Dialect, string>> = {postgres: 'public', mysql: 'mysql'}

/**
 * The dialect and default schema `policy test --target` uses when no flag gives them: MySQL and the
 * target's database for a MySQL/MariaDB target, PostgreSQL (and `public`) for any other.
 */
export function targetDialect(
  summary: {readonly protocol: string; readonly database: string} | undefined,
  flags: {readonly dialect?: string | undefined; readonly schema?: string | undefined},
): {dialect: Dialect; schema: string | undefined} {
  const mysql = summary?.protocol === 'mysql'
  const dialect = (flags.dialect as Dialect | undefined) ?? (mysql ? 'mysql' : 'postgres')
  const ownSchema = mysql && dialect === 'mysql' ? summary.database : undefined
  return {dialect, schema: flags.schema ?? ownSchema}
}

/** Who runs the statements, and where: the flags, or one input line's fields. */
export interface StatementContext {
  readonly dialect: Dialect
  readonly actor: Actor
  readonly identity?: string | undefined
  readonly groups?: readonly string[] | undefined
  readonly target?: string | undefined
  readonly schema?: string | undefined
}

/** An operation as printed: exactly the fields of product.md. */
export interface OperationReport {
  readonly kind: string
  readonly tables: readonly string[]
  readonly functions: readonly string[]
  readonly where: WhereState
}

/** A decision as printed with --json and in --input output. */
export interface DecisionReport {
  readonly decision: Decision['decision']
  readonly rule: string | null
  readonly message: string | null
  readonly operations: readonly OperationReport[]
  /** Names of the masking rules that apply. */
  readonly masking: readonly string[]
  readonly unparseable: boolean
}

/** One line of --input output: a decision, or why the line could not be decided. */
export type LineReport = DecisionReport | {readonly line: number; readonly error: string}

/** Decides statements for one policy, keeping one Guard per dialect. */
export class PolicyTester {
  private readonly guards = new Map<Dialect, Guard>()

  private constructor(private readonly policy: Policy) {}

  /** Loads the SQL parsers once and returns a tester for the policy. */
  static async create(policy: Policy): Promise<PolicyTester> {
    await loadParsers()
    return new PolicyTester(policy)
  }

  /** Decides one query (which may hold several statements). */
  decide(sql: string, sc: StatementContext): DecisionReport {
    let guard = this.guards.get(sc.dialect)
    if (guard === undefined) {
      guard = new Guard(this.policy, sc.dialect)
      this.guards.set(sc.dialect, guard)
    }
    const ctx = {actor: sc.actor, identity: sc.identity, groups: sc.groups, target: sc.target}
    const {decision} = guard.decide(sql, ctx, {defaultSchema: sc.schema ?? DEFAULT_SCHEMA[sc.dialect]})
    return toReport(decision)
  }

  /** Decides every non-blank line of JSON Lines text; a bad line yields an error entry, the others go on. */
  decideLines(text: string, defaults: StatementContext): LineReport[] {
    const out: LineReport[] = []
    text.split(/\r?\n/).forEach((raw, index) => {
      if (raw.trim() === '') return
      const line = index + 1
      try {
        const {sql, sc} = readLine(raw, defaults)
        out.push(this.decide(sql, sc))
      } catch (err) {
        out.push({line, error: `line ${line}: ${messageOf(err)}`})
      }
    })
    return out
  }
}

/** Reads an --input file; a missing or unreadable file is a usage error. */
export function readInputFile(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(err)
    throw new UsageError(`Cannot read input file ${file}: ${reason}`)
  }
}

/** Converts a Decision into the printed shape. */
export function toReport(d: Decision): DecisionReport {
  return {
    decision: d.decision,
    rule: d.rule,
    message: d.message,
    operations: d.operations.map((op) => ({
      kind: op.kind,
      tables: op.tables,
      functions: op.functions,
      where: op.where,
    })),
    masking: d.masking.map((m) => m.name),
    unparseable: d.unparseable,
  }
}

const LINE_KEYS = ['sql', 'dialect', 'actor', 'identity', 'groups', 'target', 'schema']

function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new Error(`"${key}" must be a string`)
  return v
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  key: string,
): T | undefined {
  if (value === undefined) return undefined
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`unknown ${key} "${value}"; allowed: ${allowed.join(', ')}`)
  }
  return value as T
}

/** Validates one input line: a JSON object with "sql" and optional context fields overriding the flags. */
export function readLine(raw: string, defaults: StatementContext): {sql: string; sc: StatementContext} {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    throw new Error(`not valid JSON (${messageOf(err)})`, {cause: err})
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('expected a JSON object like {"sql": "select 1"}')
  }
  const obj = parsed as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!LINE_KEYS.includes(key)) throw new Error(`unknown key "${key}"; allowed: ${LINE_KEYS.join(', ')}`)
  }
  const sql = optionalString(obj, 'sql')
  if (sql === undefined) throw new Error('"sql" is required')
  const groups = obj.groups
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    throw new Error('"groups" must be a list of strings')
  }
  return {
    sql,
    sc: {
      dialect: oneOf(optionalString(obj, 'dialect'), DIALECTS, 'dialect') ?? defaults.dialect,
      actor: oneOf(optionalString(obj, 'actor'), ACTORS, 'actor') ?? defaults.actor,
      identity: optionalString(obj, 'identity') ?? defaults.identity,
      groups: groups ?? defaults.groups,
      target: optionalString(obj, 'target') ?? defaults.target,
      schema: optionalString(obj, 'schema') ?? defaults.schema,
    },
  }
}

const ACTION_STYLE = {deny: 'red', review: 'yellow', allow: 'green'} as const

/** A short human summary: the decision and what decided it, then one line per operation. */
export function formatDecision(
  r: DecisionReport,
  paint: (text: string, style: 'red' | 'green' | 'yellow' | 'dim' | 'bold') => string,
): string {
  const head = paint(r.decision.toUpperCase(), ACTION_STYLE[r.decision])
  const by = r.unparseable
    ? 'unparseable statement (defaults.unparseable)'
    : r.rule === null
      ? r.operations.length === 0
        ? 'no statement (defaults.action)'
        : 'no rule matched (defaults.action)'
      : `rule ${paint(r.rule, 'bold')}`
  const lines = [`${head} by ${by}${r.message === null ? '' : `: ${r.message}`}`]
  for (const op of r.operations) {
    const parts = [
      op.kind.padEnd(11),
      op.tables.length > 0 ? op.tables.join(', ') : paint('(no tables)', 'dim'),
    ]
    if (op.functions.length > 0) parts.push(paint('functions:', 'dim') + ' ' + op.functions.join(', '))
    if (op.where !== null) parts.push(paint('where:', 'dim') + ' ' + op.where)
    lines.push(`  ${parts.join('  ')}`)
  }
  if (r.masking.length > 0) lines.push(`  ${paint('masking:', 'dim')} ${r.masking.join(', ')}`)
  return lines.join('\n')
}
