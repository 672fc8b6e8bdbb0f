/**
 * Built-ins that run SQL given to them as text: `query_to_xml('select * from secrets', ...)`,
 * `ts_stat('select ...')`, `ts_rewrite(q, 'select ...')`, and `table_to_xml('secrets', ...)`, which
 * reads the table its text names. Their text is judged as the statement it is (nested under the call's
 * operation); text computed at run time cannot be judged before it runs, so the query is refused, as are
 * the schema_to_xml and database_to_xml families (they read every table of a schema or database).
 * A function of another schema with the same name is user code, judged as any other call.
 */
import {isObject, str, unwrap} from './ast.js'

/** What a call runs as SQL: the text to judge, an error (refuse), or undefined (nothing). */
export type DynamicSql = {readonly sql: string} | {readonly error: string} | undefined

/** The index of the argument holding SQL, by the call's number of arguments. */
const QUERY_ARGUMENT: Readonly<Record<string, (count: number) => number | undefined>> = {
  query_to_xml: () => 0,
  query_to_xmlschema: () => 0,
  query_to_xml_and_xmlschema: () => 0,
  ts_stat: () => 0,
  // ts_rewrite(query, select text); the three-argument form substitutes without running SQL.
  ts_rewrite: (count) => (count === 2 ? 1 : undefined),
}

/** Calls whose first argument names (regclass) the table they read. */
const TABLE_ARGUMENT = new Set(['table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema'])

/** Calls that read every table of a schema or of the database. */
const READS_ALL = new Set([
  'schema_to_xml',
  'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xmlschema',
  'database_to_xml_and_xmlschema',
])

/** The SQL a call of `name` (functionName's form: lower case, at most schema and name) runs. */
export function dynamicSql(name: string, args: readonly unknown[]): DynamicSql {
  const builtin = name.startsWith('pg_catalog.') ? name.slice('pg_catalog.'.length) : name
  if (builtin.includes('.')) return undefined
  if (READS_ALL.has(builtin))
    return {error: `${builtin} reads every table of a schema or database, which the guard cannot list`}
  const table = TABLE_ARGUMENT.has(builtin)
  const at = table ? 0 : QUERY_ARGUMENT[builtin]?.(args.length)
  if (at === undefined) return undefined
  const text = constantText(args[at])
  if (text === undefined)
    return {
      error: `${builtin} runs SQL that is not a string constant, which the guard cannot judge before it runs`,
    }
  // The table's name is read as the server reads a regclass: an identifier, maybe schema-qualified.
  return {sql: table ? `TABLE ${text}` : text}
}

/** The value of a string constant (through casts), or undefined. */
function constantText(value: unknown): string | undefined {
  let t = unwrap(value)
  while (t?.type === 'TypeCast') t = unwrap(t.node.arg)
  if (t?.type !== 'A_Const') return undefined
  const sval = t.node.sval
  return isObject(sval) ? (str(sval, 'sval') ?? '') : undefined
}
