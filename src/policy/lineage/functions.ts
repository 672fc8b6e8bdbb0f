/**
 * Built-in functions whose result is computed from their arguments alone (no dynamic SQL, no reading
 * of other relations), so lineage can follow them. Any other function (a user function, or a built-in
 * such as query_to_xml or ts_stat that runs a query given as text) makes its result opaque: it could
 * return anything the database holds.
 */
import {type AstObject, isObject, list, stringList, wrapperType} from '../postgres/ast.js'
import {dynamicSql} from '../postgres/dynamic-sql.js'
import {functionName} from '../postgres/names.js'

const PURE = new Set(
  [
    // strings
    'lower upper initcap length char_length character_length octet_length bit_length concat concat_ws',
    'substr substring left right lpad rpad ltrim rtrim btrim trim replace reverse translate repeat',
    'split_part strpos position overlay md5 sha224 sha256 sha384 sha512 encode decode convert convert_to',
    'convert_from to_hex ascii chr format quote_ident quote_literal quote_nullable regexp_replace',
    'regexp_match regexp_matches regexp_split_to_array regexp_split_to_table regexp_substr regexp_count',
    'regexp_instr regexp_like starts_with string_to_array string_to_table array_to_string normalize',
    'is_normalized unistr to_ascii casefold text varchar bpchar like_escape similar_to_escape',
    'similar_escape textcat textlen bit_count get_byte get_bit crc32 crc32c',
    // numbers
    'abs ceil ceiling floor round trunc sign sqrt cbrt power pow exp ln log log10 mod div pi degrees',
    'radians sin cos tan asin acos atan atan2 width_bucket numeric int2 int4 int8 float4 float8 gcd lcm',
    'factorial scale min_scale trim_scale random setseed',
    // dates and times
    'now clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part extract',
    'age to_char to_date to_timestamp to_number make_date make_time make_timestamp make_timestamptz',
    'make_interval justify_days justify_hours justify_interval isfinite date_bin timezone overlaps',
    // json
    'to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array',
    'jsonb_build_array json_object jsonb_object json_agg jsonb_agg json_agg_strict jsonb_agg_strict',
    'json_object_agg jsonb_object_agg json_extract_path json_extract_path_text jsonb_extract_path',
    'jsonb_extract_path_text json_array_length jsonb_array_length jsonb_set jsonb_set_lax jsonb_insert',
    'jsonb_pretty jsonb_strip_nulls json_strip_nulls json_typeof jsonb_typeof jsonb_path_query',
    'jsonb_path_query_first jsonb_path_query_array jsonb_path_exists jsonb_path_match json_each',
    'json_each_text jsonb_each jsonb_each_text json_array_elements json_array_elements_text',
    'jsonb_array_elements jsonb_array_elements_text json_object_keys jsonb_object_keys',
    'json_populate_record jsonb_populate_record json_to_record jsonb_to_record json_populate_recordset',
    'jsonb_populate_recordset json_to_recordset jsonb_to_recordset',
    // arrays
    'array_agg array_append array_prepend array_cat array_length array_lower array_upper array_dims',
    'array_ndims array_position array_positions array_remove array_replace cardinality unnest',
    'generate_subscripts array_fill trim_array array_reverse array_sort',
    // aggregates and window functions
    'count sum avg min max string_agg bool_and bool_or every stddev variance stddev_pop stddev_samp',
    'var_pop var_samp mode percentile_cont percentile_disc corr covar_pop covar_samp regr_avgx',
    'regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy bit_and bit_or',
    'bit_xor xmlagg any_value row_number rank dense_rank percent_rank cume_dist ntile lag lead',
    'first_value last_value nth_value',
    // text search, xml
    'to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_headline setweight',
    'xpath xpath_exists xmlexists xml_is_well_formed xmlcomment xmltext',
    // session facts, generators and sequences: they read no column. current_setting is not here: a
    // setting can hold any text a statement put there with set_config. Nor is setval: it stores its
    // argument (ascii(substr(email, 1, 1))) in a sequence that later statements read, and currval and
    // lastval return what it stored.
    'generate_series version current_database current_schema current_schemas nextval',
    'pg_backend_pid gen_random_uuid uuidv4 uuidv7 pg_typeof num_nonnulls num_nulls inet_client_addr',
    'txid_current pg_current_xact_id pg_postmaster_start_time pg_collation_for',
  ]
    .join(' ')
    .split(' '),
)

/** Statements that run code lineage cannot see. */
const UNTRACKED_STATEMENTS = new Set(['DoStmt', 'CallStmt'])

/**
 * True when a statement runs code lineage cannot see: a function that is not a pure built-in
 * (anywhere, WHERE included), DO or CALL. Such code could open or close cursors and prepared statements.
 */
export function callsUntracked(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(callsUntracked)
  if (!isObject(value)) return false
  const type = wrapperType(value)
  if (type !== undefined) {
    if (UNTRACKED_STATEMENTS.has(type)) return true
    const node = value[type]
    if (type === 'FuncCall' && isObject(node)) {
      const parts = stringList(list(node, 'funcname'))
      if (!parts || pureFunction(parts) === undefined) return true
    }
    return callsUntracked(node)
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'object' && v !== null && callsUntracked(v)) return true
  }
  return false
}

/**
 * Built-ins that keep an argument where other sessions read it: a sequence (`setval`), a notification
 * (`pg_notify`), a large object, the write-ahead log, an advisory lock's key, the backend a pid names;
 * and the dblink extension's functions, which send their arguments (a connection string, SQL text) to
 * another server.
 */
export const SHARES_ARGUMENT: ReadonlySet<string> = new Set([
  'setval',
  'pg_notify',
  'lo_from_bytea',
  'lo_put',
  'lowrite',
  'pg_logical_emit_message',
  'dblink',
  'dblink_exec',
  'dblink_open',
  'dblink_fetch',
  'dblink_send_query',
  'dblink_connect',
  'dblink_connect_u',
  // Advisory locks: every session sees their keys in pg_locks, and whether a key is taken.
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_xact_lock',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  // The backend given by a number: its session ends or its query is cancelled, which it sees.
  'pg_cancel_backend',
  'pg_terminate_backend',
])

/** Built-ins whose point is how long they take (DELAY). */
const DELAYS = new Set(['pg_sleep', 'pg_sleep_for', 'pg_sleep_until'])

/** The first delay a statement calls, anywhere; undefined when none. */
export function delayCalled(value: unknown): string | undefined {
  return firstCall(value, (name) => DELAYS.has(name))
}

/** Built-ins that store an argument where later statements (and other sessions) read it. */
const STORES_ARGUMENT = new Set(['setval', 'set_config'])

/**
 * True when a statement stores a value computed from a column or a subquery with a built-in that keeps
 * it (`setval('s', ascii(substr(email, 1, 1)))`, `set_config('application_name', email, false)`):
 * the value comes back later from a sequence or a setting lineage cannot follow.
 */
export function storesComputedValue(value: unknown): boolean {
  return computedArgument(value, STORES_ARGUMENT) !== undefined
}

/** True when arguments hold a value computed from a column or a subquery. */
export function computedFrom(args: unknown): boolean {
  return /"(ColumnRef|SubLink)"/.test(JSON.stringify(args))
}

/**
 * The first built-in of `names` a statement passes a value computed from a column or a subquery;
 * undefined when none.
 */
export function computedArgument(value: unknown, names: ReadonlySet<string>): string | undefined {
  return firstCall(value, (name, node) => names.has(name) && computedFrom(list(node, 'args')))
}

/** The (unqualified) name of the first call anywhere in `value` that `test` accepts; undefined when none. */
/**
 * The SQL texts calls of a statement run (`query_to_xml('select ...')`, `ts_stat`, `table_to_xml`,
 * dblink...; postgres/dynamic-sql.ts): they choose, order and compute rows the call returns, so lineage
 * judges them as statements of their own. A text computed at run time is the guard's to refuse.
 */
export function dynamicQueries(value: unknown): string[] {
  const out: string[] = []
  firstCall(value, (_, node) => {
    const parts = stringList(list(node, 'funcname'))
    const name = parts && functionName(parts)
    const runs = name === undefined ? undefined : dynamicSql(name, list(node, 'args'))
    if (runs !== undefined && 'sql' in runs) out.push(...runs.sql)
    return false
  })
  return out
}

function firstCall(value: unknown, test: (name: string, node: AstObject) => boolean): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = firstCall(v, test)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (!isObject(value)) return undefined
  const type = wrapperType(value)
  if (type === 'FuncCall' && isObject(value[type])) {
    const node = value[type]
    const name = stringList(list(node, 'funcname'))?.at(-1)
    if (name !== undefined && test(name, node)) return name
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'object' && v !== null) {
      const found = firstCall(v, test)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** Schemas whose functions are the server's own. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema'])

/** A call of code that may be a user's, and its arguments. */
export interface UserCodeCall {
  readonly name: string
  readonly args: readonly unknown[]
}

/**
 * The calls a statement makes, anywhere (a query, an index or check expression, a policy, CALL), of a
 * function that may be a user's code, given a value computed from a column or a subquery: a function
 * named in a schema other than the system's, or one whose name `userCode` says some user-defined function
 * has (it may be what the call resolves to). Such code may store its arguments anywhere.
 */
export function userCodeCalls(
  value: unknown,
  userCode: (name: string) => boolean | undefined,
  out: UserCodeCall[] = [],
): UserCodeCall[] {
  if (Array.isArray(value)) {
    for (const v of value) userCodeCalls(v, userCode, out)
    return out
  }
  if (!isObject(value)) return out
  const type = wrapperType(value)
  if (type === 'FuncCall' && isObject(value[type])) {
    const node = value[type]
    const parts = stringList(list(node, 'funcname'))?.map((p) => p.toLowerCase())
    const name = parts?.at(-1)
    const args = list(node, 'args')
    if (parts !== undefined && name !== undefined && computedFrom(args)) {
      const schema = parts.length > 1 ? parts[parts.length - 2] : undefined
      const system = schema !== undefined && SYSTEM_SCHEMAS.has(schema)
      if (!system && (schema !== undefined || userCode(name) !== false))
        out.push({name: parts.join('.'), args})
    }
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'object' && v !== null) userCodeCalls(v, userCode, out)
  }
  return out
}

/**
 * Built-ins that return a set: in a select list, as in FROM, how many rows they return depends on their
 * arguments (`generate_series(1, ascii(email))` returns 117 rows for an `u`).
 */
const SET_RETURNING = new Set(
  [
    'generate_series generate_subscripts unnest regexp_matches regexp_split_to_table string_to_table',
    'json_array_elements json_array_elements_text jsonb_array_elements jsonb_array_elements_text json_each',
    'json_each_text jsonb_each jsonb_each_text json_object_keys jsonb_object_keys jsonb_path_query',
    'json_populate_recordset jsonb_populate_recordset json_to_recordset jsonb_to_recordset',
  ]
    .join(' ')
    .split(' '),
)

/** What decides how many rows a statement returns from computed values: a set-returning call, a LIMIT. */
export interface RowCountArguments {
  /** `generate_series()`, `LIMIT`. */
  readonly what: string
  readonly args: readonly unknown[]
}

/**
 * The places a statement's row count is computed from columns or subqueries: a function in FROM (any:
 * a user's may return a set too), a set-returning built-in in a select list, a LIMIT or OFFSET. The
 * number of rows then shows the value (`SELECT count(*) FROM users, generate_series(1, ascii(email))`),
 * which masking cannot hide. Conditions (WHERE, JOIN ... ON) decide row counts too: conditions.ts judges them.
 */
export function rowCountArguments(value: unknown, out: RowCountArguments[] = []): RowCountArguments[] {
  if (Array.isArray(value)) {
    for (const v of value) rowCountArguments(v, out)
    return out
  }
  if (!isObject(value)) return out
  const type = wrapperType(value)
  const node = type === undefined ? undefined : value[type]
  // `unnest(ARRAY[a, b])` returns as many rows as the constructor has elements, whatever they hold.
  const counting = (name: string | undefined, args: readonly unknown[]): readonly unknown[] =>
    name?.split('.').at(-1)?.toLowerCase() === 'unnest'
      ? args.filter((a) => !isObject(a) || a.A_ArrayExpr === undefined)
      : args
  if (type === 'RangeFunction' && isObject(node)) {
    for (const item of list(node, 'functions')) {
      const call = isObject(item) && isObject(item.List) ? list(item.List, 'items')[0] : undefined
      const fn = isObject(call) && isObject(call.FuncCall) ? call.FuncCall : undefined
      const args = fn === undefined ? [call] : list(fn, 'args')
      const name = fn === undefined ? undefined : stringList(list(fn, 'funcname'))?.join('.')
      if (computedFrom(counting(name, args))) out.push({what: `${name ?? 'a function'}()`, args})
    }
  }
  if (type === 'SelectStmt' && isObject(node)) {
    const limits = [node.limitCount, node.limitOffset].filter((l) => l !== undefined)
    if (computedFrom(limits)) out.push({what: 'LIMIT', args: limits})
    for (const target of list(node, 'targetList')) {
      const t = isObject(target) && isObject(target.ResTarget) ? target.ResTarget.val : undefined
      const fn = isObject(t) && isObject(t.FuncCall) ? t.FuncCall : undefined
      const parts = fn === undefined ? undefined : stringList(list(fn, 'funcname'))
      const name = builtinName(parts)?.toLowerCase()
      if (
        fn &&
        name !== undefined &&
        SET_RETURNING.has(name) &&
        computedFrom(counting(name, list(fn, 'args')))
      )
        out.push({what: `${name}()`, args: list(fn, 'args')})
    }
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'object' && v !== null) rowCountArguments(v, out)
  }
  return out
}

/** A call's name when it names a built-in: unqualified, or in pg_catalog; undefined otherwise. */
export function builtinName(parts: readonly string[] | undefined): string | undefined {
  if (parts === undefined || (parts.length !== 1 && parts[0] !== 'pg_catalog')) return undefined
  return parts.at(-1)
}

/** The name of a called function if lineage can follow it (a pure built-in), else undefined. */
export function pureFunction(parts: readonly string[]): string | undefined {
  const name = parts[parts.length - 1]
  if (name === undefined) return undefined
  // A schema-qualified call names pg_catalog or someone's own function (which could read anything).
  if (parts.length > 1 && parts[parts.length - 2] !== 'pg_catalog') return undefined
  return PURE.has(name) ? name : undefined
}

/** Result columns of set-returning built-ins that return more than one column, by name. */
const RECORD_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  json_each: ['key', 'value'],
  json_each_text: ['key', 'value'],
  jsonb_each: ['key', 'value'],
  jsonb_each_text: ['key', 'value'],
}

/**
 * Column names a pure built-in returns in FROM (without a column definition list): most return one
 * column named after the function; `unnest(a, b)` returns one per argument. Undefined when the shape
 * depends on types lineage does not know (json_to_record without a column list).
 */
export function functionColumns(name: string, args: number): readonly string[] | undefined {
  const record = RECORD_COLUMNS[name]
  if (record) return record
  if (name.endsWith('_to_record') || name.endsWith('_to_recordset') || name.includes('populate_record'))
    return undefined
  if (name === 'unnest' && args > 1) return Array.from({length: args}, () => 'unnest')
  return [name]
}
