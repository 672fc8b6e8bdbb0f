/**
 * libpg-query, the real PostgreSQL 18 parser compiled to WASM: loaded once, then parsed synchronously
 * on the hot path. Failures become values (never exceptions), in one line with the position.
 */
import {loadModule, parseSync} from 'libpg-query'
import {isObject} from './ast.js'

/** The statements of a parsed query (each a `{"StmtType": {...}}` node), or why it could not be parsed. */
export type Parsed =
  {readonly ok: true; readonly statements: readonly unknown[]} | {readonly ok: false; readonly error: string}

let loaded = false
let loading: Promise<void> | undefined

/** Loads the WASM module; idempotent, and retried on the next call if it failed. */
export async function loadParser(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true
    },
    (error: unknown) => {
      loading = undefined
      throw error
    },
  )
  await loading
}

/** Parses a query into its top-level statements. */
export function parse(sql: string): Parsed {
  if (!loaded)
    return {ok: false, error: 'the Postgres parser is not loaded (loadPostgresParser() was not awaited)'}
  // The parser reads a C string: text after a NUL would be invisible to it, so refuse the query whole.
  if (sql.includes('\0'))
    return {ok: false, error: 'the query contains a NUL character, which PostgreSQL does not accept'}
  // parseSync refuses an empty string; for PostgreSQL it is an empty query.
  if (sql === '') return {ok: true, statements: []}
  let result: unknown
  try {
    result = parseSync(sql)
  } catch (error) {
    return {ok: false, error: describe(error)}
  }
  const stmts =
    isObject(result) && Array.isArray(result.stmts) ? (result.stmts as readonly unknown[]) : undefined
  if (!stmts) return {ok: false, error: 'the Postgres parser returned no statement list'}
  return {ok: true, statements: stmts.map((raw) => (isObject(raw) ? raw.stmt : undefined))}
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'the Postgres parser failed on this query'
  // The WASM parser or its JSON output ran out of stack: the query is nested too deeply.
  if (error instanceof RangeError) return 'the query is nested too deeply to parse'
  const message = error.message.replace(/\s+/g, ' ').trim()
  const details: unknown = (error as {sqlDetails?: unknown}).sqlDetails
  const position =
    isObject(details) && typeof details.cursorPosition === 'number' ? details.cursorPosition : undefined
  // Positions count characters from 1, as PostgreSQL reports them.
  return position === undefined ? message : `${message} (at character ${position + 1})`
}
