/**
 * Stored code a MySQL statement may run where lineage cannot follow it: procedures (CALL), stored
 * functions, and the triggers of the tables it writes. Such code can copy a masked value into any
 * table or variable, so a session that runs it is masked whole from then on, as the Postgres engine
 * does for user functions, DO and CALL. Which names are stored code is read from the catalog per
 * schema (its triggers and routines), with the proxy's catalog lookup; what is not known runs code.
 */
import type {Operation} from '../../policy/index.js'
import {pureMysqlFunction} from '../../policy/lineage/mysql-functions.js'

/** Operation kinds whose tables' triggers may fire (LOAD DATA is `copy`). */
const WRITES = new Set(['insert', 'update', 'delete', 'merge', 'copy', 'other'])

/** What a statement may run, before the catalog says which of the names are stored code. */
export interface CodeCandidates {
  /** It certainly runs stored code (CALL, a schema-qualified function), or the proxy cannot tell. */
  readonly certain: boolean
  /** Unqualified calls that are stored functions if the schema has one: `schema.name`, lower-case. */
  readonly functions: readonly string[]
  /** Tables it writes, whose triggers fire: `schema.table`, lower-case. */
  readonly tables: readonly string[]
}

/** The stored code of one schema, lower-case names. */
export interface SchemaCode {
  readonly triggers: Set<string>
  readonly routines: Set<string>
}

/** The candidates of a statement from its analysis; undefined operations (no decision): certain. */
export function codeCandidates(ops: readonly Operation[] | undefined, schema: string): CodeCandidates {
  if (ops === undefined) return {certain: true, functions: [], tables: []}
  const functions: string[] = []
  const tables: string[] = []
  let certain = false
  for (const op of ops) {
    if (op.kind === 'call') certain = true
    for (const f of op.functions) {
      // Built-ins cannot be qualified; an unqualified built-in hides a stored function of its name.
      if (f.includes('.')) certain = true
      else if (!pureMysqlFunction(f)) functions.push(`${schema}.${f}`.toLowerCase())
    }
    if (WRITES.has(op.kind)) for (const t of op.tables) tables.push(t.toLowerCase())
  }
  return {certain, functions, tables}
}

const split = (key: string): [string, string] => {
  const dot = key.indexOf('.')
  return [key.slice(0, dot), key.slice(dot + 1)]
}

/** Schemas whose stored code must be looked up before the candidates can be judged. */
export function missingSchemas(c: CodeCandidates, known: ReadonlyMap<string, SchemaCode>): string[] {
  if (c.certain) return []
  const out = new Set<string>()
  for (const key of [...c.functions, ...c.tables]) {
    const [schema] = split(key)
    if (!known.has(schema)) out.add(schema)
  }
  return [...out]
}

/** True when the statement runs stored code, or may (a schema whose code is not known). */
export function runsStoredCode(c: CodeCandidates, known: ReadonlyMap<string, SchemaCode>): boolean {
  if (c.certain) return true
  const has = (key: string, kind: keyof SchemaCode): boolean => {
    const [schema, name] = split(key)
    const code = known.get(schema)
    return code === undefined || code[kind].has(name)
  }
  return c.functions.some((f) => has(f, 'routines')) || c.tables.some((t) => has(t, 'triggers'))
}

/**
 * A string literal that reads the same whatever the session's sql_mode (NO_BACKSLASH_ESCAPES,
 * ANSI_QUOTES); with an introducer, not CONVERT(), so the server still looks up only that name.
 */
export const quote = (s: string): string => `_utf8mb4 X'${Buffer.from(s, 'utf8').toString('hex')}'`

/**
 * The SELECTs (for the catalog lookup's UNION ALL: kind, schema, name, text, position) that read the
 * triggers and routines of `schemas`, and confirm each schema exists under that exact name (a schema
 * not confirmed stays unknown: its code may run).
 */
export function codeQueries(schemas: readonly string[]): string[] {
  return schemas.flatMap((s) => [
    `SELECT 2, EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME, 0 FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ${quote(s)}`,
    `SELECT 3, ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, 0 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${quote(s)}`,
    `SELECT 4, SCHEMA_NAME, '', '', 0 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${quote(s)}`,
  ])
}

/** Collects the rows of `codeQueries` and records the schemas they confirmed. */
export class CodeRows {
  private readonly found = new Map<string, SchemaCode>()
  private readonly confirmed = new Set<string>()

  /** One row; false when it is not one of the code queries'. */
  row(kind: string | null, schema: string, name: string): boolean {
    if (kind !== '2' && kind !== '3' && kind !== '4') return false
    const key = schema.toLowerCase()
    if (kind === '4') {
      this.confirmed.add(key)
      return true
    }
    const code = this.found.get(key) ?? {triggers: new Set<string>(), routines: new Set<string>()}
    this.found.set(key, code)
    ;(kind === '2' ? code.triggers : code.routines).add(name.toLowerCase())
    return true
  }

  /** Records what the lookup found for `schemas` in `known`. */
  commit(schemas: readonly string[], known: Map<string, SchemaCode>): void {
    for (const s of schemas)
      if (this.confirmed.has(s)) known.set(s, this.found.get(s) ?? {triggers: new Set(), routines: new Set()})
  }
}
