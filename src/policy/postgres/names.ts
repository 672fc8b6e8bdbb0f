/**
 * Names as policy sees them: tables as `schema.table`, functions as written. libpg-query has already
 * folded unquoted identifiers to lower case and decoded U&"..." escapes; quoted identifiers keep their case.
 */
import {type AstObject, str} from './ast.js'

/**
 * The schema an unqualified relation resolves to. pg_catalog is implicitly first on every search_path,
 * and the relations it holds all start with `pg_`, so those names resolve there before the default schema.
 */
function schemaFor(relname: string, defaultSchema: string): string {
  return relname.startsWith('pg_') ? 'pg_catalog' : defaultSchema
}

/** Schema and name of a RangeVar, resolved like `rangeVarName` (for callers that need the parts apart). */
export function rangeVarParts(
  rangeVar: AstObject,
  defaultSchema: string,
): {readonly schema: string; readonly name: string} | undefined {
  const relname = str(rangeVar, 'relname')
  if (relname === undefined) return undefined
  return {schema: str(rangeVar, 'schemaname') ?? schemaFor(relname, defaultSchema), name: relname}
}

/** `schema.table` of a RangeVar; `db.schema.table` drops the database (Postgres refuses other databases). */
export function rangeVarName(rangeVar: AstObject, defaultSchema: string): string | undefined {
  const relname = str(rangeVar, 'relname')
  if (relname === undefined) return undefined
  const schema = str(rangeVar, 'schemaname')
  return `${schema ?? schemaFor(relname, defaultSchema)}.${relname}`
}

/** `schema.table` of a dotted name list (`[table]`, `[schema, table]` or `[db, schema, table]`). */
export function qualifiedRelationName(parts: readonly string[], defaultSchema: string): string | undefined {
  const relname = parts[parts.length - 1]
  if (relname === undefined) return undefined
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined
  return `${schema ?? schemaFor(relname, defaultSchema)}.${relname}`
}

/**
 * A called function as written: `name` or `schema.name`, lower-cased so that a quoted `"PG_READ_FILE"`
 * cannot slip past a rule on `pg_read_file` (it would name a different function, so this errs on the
 * side of the rule). A database qualifier is dropped like for tables.
 */
export function functionName(parts: readonly string[]): string | undefined {
  if (parts.length === 0) return undefined
  return parts.slice(-2).join('.').toLowerCase()
}
