/**
 * Functions that run SQL given to them as text: `query_to_xml('select * from secrets', ...)`,
 * `ts_stat('select ...')`, `ts_rewrite(q, 'select ...')`, `table_to_xml('secrets', ...)`, which reads the
 * table its text names, and those of two contrib extensions often installed: tablefunc's `crosstab` and
 * `connectby` and xml2's `xpath_table`, which paste their text arguments into the query they run, and
 * pg_cron's `cron.schedule`, whose command runs later, and dblink's functions, which run it on the server
 * their connection names (this one, possibly). Their text is judged as the statement it is (nested
 * under the call's operation); text computed at run time cannot be judged before it runs, so the query is
 * refused, as are the schema_to_xml and database_to_xml families (they read every table of a schema or
 * database).
 * A built-in's name in another schema is user code, judged as any other call; an extension can live in any
 * schema, so its functions are known by name alone.
 */
import {isObject, str, unwrap} from './ast.js'

/** What a call runs as SQL: the texts to judge, an error (refuse), or undefined (nothing). */
export type DynamicSql = {readonly sql: readonly string[]} | {readonly error: string} | undefined

/** A call's arguments as string constants (undefined: not one); `null` for an integer or boolean constant. */
type Texts = readonly (string | null | undefined)[]

/** What a call of a given name runs, from its arguments: SQL texts, or an error. */
type Runs = (texts: Texts) => readonly string[] | string | undefined

/** The arguments at `at` must be string constants, and are the SQL that runs. */
const queries =
  (...at: number[]): Runs =>
  (texts) =>
    textsAt(texts, at)

/** Built-ins (pg_catalog) that run SQL. */
const BUILTIN: Readonly<Record<string, Runs>> = {
  query_to_xml: queries(0),
  query_to_xmlschema: queries(0),
  query_to_xml_and_xmlschema: queries(0),
  ts_stat: queries(0),
  // ts_rewrite(query, select text); the three-argument form substitutes without running SQL.
  ts_rewrite: (texts) => (texts.length === 2 ? textsAt(texts, [1]) : undefined),
  // The first argument names (regclass) the table read.
  table_to_xml: tableAt(0),
  table_to_xmlschema: tableAt(0),
  table_to_xml_and_xmlschema: tableAt(0),
}

/** Functions of tablefunc, xml2 and dblink, in whatever schema the extension was created. */
const EXTENSION: Readonly<Record<string, Runs>> = {
  // crosstab(source_sql), crosstab(source_sql, category_sql), crosstab(source_sql, N); crosstabN(source_sql).
  crosstab: (texts) => textsAt(texts, texts.length === 2 && texts[1] !== null ? [0, 1] : [0]),
  crosstab2: queries(0),
  crosstab3: queries(0),
  crosstab4: queries(0),
  // connectby(relname, keyid_fld, parent_keyid_fld, [orderby_fld,] start_with, max_depth [, branch_delim]):
  // the names are pasted into its query unquoted, so only plain names can be judged.
  connectby: (texts) => {
    const names = textsAt(
      texts,
      texts.length >= 7 || (texts.length === 6 && texts[5] === null) ? [0, 1, 2, 3] : [0, 1, 2],
    )
    if (typeof names === 'string') return names
    if (!names.every((n) => PLAIN_NAME.test(n)))
      return 'pastes names that are not plain identifiers into the query it runs'
    const [relname, ...columns] = names as [string, ...string[]]
    return [`SELECT ${columns.join(', ')} FROM ${relname}`]
  },
  // xpath_table(key, document, relation, xpaths, criteria) runs exactly this query.
  xpath_table: (texts) => {
    const parts = textsAt(texts, [0, 1, 2, 4])
    if (typeof parts === 'string') return parts
    const [key, document, relation, criteria] = parts
    return [`SELECT ${key}, CAST(${document} AS text) FROM ${relation} WHERE ${criteria}`]
  },
  // dblink, dblink_exec: (sql), (sql, fail), (connection, sql), (connection, sql, fail); dblink_open:
  // (cursor, sql), (cursor, sql, fail), (connection, cursor, sql), (connection, cursor, sql, fail).
  dblink: (texts) => textsAt(texts, [lastText(texts)]),
  dblink_exec: (texts) => textsAt(texts, [lastText(texts)]),
  dblink_open: (texts) => textsAt(texts, [lastText(texts)]),
  dblink_send_query: queries(1),
}

/**
 * The last argument but a trailing constant that is not text (dblink's `fail`): where dblink's calls take
 * their SQL. Their connection may be this database, so the text is judged as the session's own.
 */
function lastText(texts: Texts): number {
  return texts.length > 1 && texts[texts.length - 1] === null ? texts.length - 2 : texts.length - 1
}

/**
 * pg_cron's functions, always in its schema `cron`: the command they schedule runs later, outside any
 * session, so it is judged when it is scheduled.
 */
const SCHEDULED: Readonly<Record<string, Runs>> = {
  // schedule(schedule, command), schedule(job_name, schedule, command)
  'cron.schedule': (texts) => textsAt(texts, [texts.length >= 3 ? 2 : 1]),
  'cron.schedule_in_database': queries(2),
  // alter_job(job_id, schedule, command, ...): a command, when one is given
  'cron.alter_job': (texts) => (texts.length >= 3 ? textsAt(texts, [2]) : undefined),
}

/** A column or (schema-qualified) relation name, bare or double-quoted: what pasted text may be. */
const PLAIN_NAME =
  /^(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")(?:\.(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")){0,2}$/

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
  const dot = name.lastIndexOf('.')
  const bare = name.slice(dot + 1)
  const builtin = dot < 0 || name.slice(0, dot) === 'pg_catalog'
  if (builtin && READS_ALL.has(bare))
    return {error: `${bare} reads every table of a schema or database, which the guard cannot list`}
  const runs = (builtin ? BUILTIN[bare] : undefined) ?? EXTENSION[bare] ?? SCHEDULED[name]
  if (runs === undefined) return undefined
  const sql = runs(args.map(constantText))
  if (sql === undefined) return undefined
  const shown = runs === SCHEDULED[name] ? name : bare
  return typeof sql === 'string' ? {error: `${shown} ${sql}`} : {sql}
}

/** The table the argument at `at` names, read whole as the server reads a regclass. */
function tableAt(at: number): Runs {
  return (texts) => {
    const names = textsAt(texts, [at])
    return typeof names === 'string' ? names : names.map((n) => `TABLE ${n}`)
  }
}

/** The string constants at `at`, or why not all of them are one. */
function textsAt(texts: Texts, at: readonly number[]): string[] | string {
  const out: string[] = []
  for (const i of at) {
    const text = texts[i]
    if (typeof text !== 'string')
      return 'runs SQL that is not a string constant, which the guard cannot judge before it runs'
    out.push(text)
  }
  return out
}

/**
 * The value of a string constant (through casts); null for an integer or boolean constant; undefined for
 * anything else (a parameter, an expression).
 */
function constantText(value: unknown): string | null | undefined {
  let t = unwrap(value)
  while (t?.type === 'TypeCast') t = unwrap(t.node.arg)
  if (t?.type !== 'A_Const') return undefined
  const sval = t.node.sval
  if (isObject(sval)) return str(sval, 'sval') ?? ''
  return isObject(t.node.ival) || isObject(t.node.boolval) ? null : undefined
}
