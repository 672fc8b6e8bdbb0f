/**
 * Computations that cannot fail, for the Postgres walker (the MySQL table, mysql-functions.ts, uses the
 * helpers here). A computation that raises an error for some
 * inputs shows, by failing or not, a property of the value it read whatever masking does to its result:
 * `SELECT make_date(2000, ascii(email) - 96, 1) FROM users WHERE id = 1` fails when the first character
 * comes after 'l', and `ascii(email) * 30000000` overflows after 'G', so a binary search reads a masked
 * column one character at a time. So what a function, operator or cast computes from is judged as a
 * condition (decides.ts, `Decides.fails`) unless this table says that argument cannot make it fail.
 * Everything not listed fails closed: user-defined functions, arithmetic (which can overflow), casts to
 * anything but text, patterns and formats computed from a column, and expression kinds not named here.
 */
import {type AstObject, list, str, stringList, unwrap} from '../postgres/ast.js'

/**
 * Which arguments of a call cannot make it fail: all, the odd positions (the values of key/value
 * pairs), these positions, or those from a position on.
 */
export type Safe = 'all' | 'odd' | readonly number[] | {readonly from: number}

/** Entries of a table of safe arguments: each name in `words` (space-separated) with `safe`. */
export function names(words: string, safe: Safe): [string, Safe][] {
  return words.split(/\s+/).map((w) => [w, safe])
}

/** True when `table` says argument `i` of `name` cannot make the call fail (`i` -1: a named argument). */
export function safeIn(
  table: ReadonlyMap<string, Safe>,
  name: string | null | undefined,
  i: number,
): boolean {
  const safe = name === null || name === undefined ? undefined : table.get(name.toLowerCase())
  if (safe === undefined) return false
  if (safe === 'all') return true
  if (safe === 'odd') return i % 2 === 1
  return Array.isArray(safe) ? safe.includes(i) : i >= (safe as {from: number}).from
}

/** Built-in functions (pg_catalog or unqualified) and the arguments that cannot make them fail. */
const FUNCTIONS = new Map<string, Safe>([
  ...names(
    // text in, text or a number out, for any text
    'lower upper initcap length char_length character_length octet_length bit_length ascii md5 concat ' +
      'concat_ws btrim ltrim rtrim reverse replace strpos position starts_with translate quote_ident ' +
      'quote_literal quote_nullable textcat textanycat anytextcat left right string_to_array sha224 sha256 sha384 sha512 to_hex ' +
      'pg_typeof pg_column_size num_nulls num_nonnulls',
    'all',
  ),
  // JSON and arrays built from values, aggregates and windows that only gather or pick values
  ...names(
    'to_json to_jsonb row_to_json array_to_json json_build_array ' +
      'jsonb_build_array json_typeof jsonb_typeof json_strip_nulls ' +
      'jsonb_strip_nulls jsonb_pretty json_extract_path json_extract_path_text jsonb_extract_path ' +
      'jsonb_extract_path_text array_length cardinality array_to_string array_append array_prepend ' +
      'array_position array_positions unnest min max sum avg array_agg string_agg json_agg jsonb_agg ' +
      'bool_and bool_or every count row_number rank dense_rank percent_rank cume_dist first_value ' +
      'last_value',
    'all',
  ),
  // a key must not be NULL (nullif(substr(email, 1, 1), 'a') as a key fails for 'a'); values are safe
  ...names('json_build_object jsonb_build_object', 'odd'),
  ...names('json_object_agg jsonb_object_agg', [1]),
  // the value is safe; a length, position, field number or offset computed from a column is not
  // (not repeat: its result's length, and so whether it is too long, follows the value's)
  ...names('substr substring encode to_char lag lead nth_value', [0]),
  ...names('lpad rpad regexp_replace', [0, 2]),
  ...names('split_part overlay', [0, 1]),
  // the subject is safe; a pattern computed from a column may not compile (the arrays regexp_match
  // and regexp_split_to_array return are judged where they combine: arrayValued)
  ...names(
    'regexp_match regexp_matches regexp_like regexp_count regexp_substr regexp_instr ' +
      'regexp_split_to_array regexp_split_to_table',
    [0],
  ),
  // the field or unit is safe only as the statement's own text
  ...names('date_trunc date_part extract', [1]),
  // the format string may be invalid; the values it formats are safe when it only prints them (formatOnly)
  ['format', {from: 1}],
])

/** A format string's specifiers that print their value as it is (`%s`, `%L`, `%1$s`, `%-10s`) or `%%`. */
const PRINTS = /%(?:%|(?:\d+\$)?-?\d*[sL])/g

/**
 * True when `format`'s text is a constant that only prints its values: `%I` fails on a NULL, and a
 * width taken from an argument (`%*s`) fails unless it is an integer.
 */
function formatOnly(args: readonly unknown[]): boolean {
  const a = unwrap(args[0])
  if (a?.type !== 'A_Const') return false
  const text = str((a.node.sval as AstObject | undefined) ?? {}, 'sval')
  return text !== undefined && !text.replace(PRINTS, '').includes('%')
}

/**
 * True when argument `i` of built-in `name` (undefined: not a built-in) cannot make the call fail;
 * `args` are the call's arguments.
 */
export function safeArgument(name: string | undefined, i: number, args: readonly unknown[]): boolean {
  if (!safeIn(FUNCTIONS, name, i)) return false
  if (name === 'format') return formatOnly(args)
  // An array of arrays must have matching dimensions.
  if (ARRAY_COMBINING.has(name ?? '')) return !arrayValued(args[i])
  return true
}

/** Built-ins that put their argument into an array (of arrays, when it is one). */
const ARRAY_COMBINING = new Set(['array_agg', 'array_append', 'array_prepend'])

/** Built-ins whose result is an array whose length or dimensions may follow a value. */
const ARRAY_FUNCTIONS = new Set(
  (
    'string_to_array regexp_split_to_array regexp_match array_agg array_append array_prepend array_cat ' +
    'array_remove array_replace array_fill trim_array array_reverse array_sort'
  ).split(' '),
)

/**
 * True when an expression may be an array whose shape follows a value: a constructor, ARRAY(subquery),
 * a built-in that returns one, a cast to an array type. Arrays of different dimensions do not combine
 * (`ARRAY[a, b]`, `||`, array_agg), so the error shows the shape: `array[string_to_array(substr(email,
 * 1, 1), 'a'), array['q']]` fails when the first character is 'a'. (A column of an array type is not
 * seen: lineage does not know types.)
 */
export function arrayValued(value: unknown): boolean {
  const t = unwrap(value)
  if (t === undefined) return false
  switch (t.type) {
    case 'A_ArrayExpr':
      return true
    case 'SubLink':
      return str(t.node, 'subLinkType') === 'ARRAY_SUBLINK'
    case 'FuncCall':
      return ARRAY_FUNCTIONS.has(stringList(list(t.node, 'funcname'))?.at(-1)?.toLowerCase() ?? '')
    case 'TypeCast': {
      const typeName = t.node.typeName as AstObject | undefined
      return typeName !== undefined && list(typeName, 'arrayBounds').length > 0
    }
    default:
      return false
  }
}

/** Operators that compare, concatenate or look into JSON and arrays: total for any operands. */
const TOTAL_OPERATORS = new Set('= <> != < > <= >= || -> ->> #> #>> @> <@ ? ?| ?& &&'.split(' '))

/** Operators whose right operand is a pattern (LIKE, regular expressions): it may not compile. */
const PATTERN_OPERATORS = new Set('~~ ~~* !~~ !~~* ~ ~* !~ !~*'.split(' '))

/** Which operands of an A_Expr may make it fail. */
export function failingOperands(node: AstObject, kind: string): 'none' | 'right' | 'both' {
  switch (kind) {
    case 'AEXPR_OP':
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL': {
      const op = stringList(list(node, 'name'))?.at(-1) ?? ''
      // Arrays of different dimensions do not concatenate.
      if (op === '||' && (arrayValued(node.lexpr) || arrayValued(node.rexpr))) return 'both'
      if (TOTAL_OPERATORS.has(op)) return 'none'
      return PATTERN_OPERATORS.has(op) ? 'right' : 'both'
    }
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
    case 'AEXPR_SIMILAR':
      return 'right'
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
    case 'AEXPR_NULLIF':
    case 'AEXPR_IN':
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return 'none'
    default:
      return 'both'
  }
}

/** Types any value converts to without failing: text and its kin (an explicit cast truncates). */
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'char', 'name', 'citext'])

/** True for a cast that cannot fail: to a text type, not an array of one. */
export function totalCast(node: AstObject): boolean {
  const typeName = node.typeName as AstObject | undefined
  if (typeName === undefined || list(typeName, 'arrayBounds').length > 0) return false
  const type = stringList(list(typeName, 'names'))?.at(-1)
  return type !== undefined && TEXT_TYPES.has(type.toLowerCase())
}

/** XML built from values, which it escapes (XMLPARSE, XMLPI, XMLROOT and XMLSERIALIZE parse or check). */
const TOTAL_XML = new Set(['IS_XMLELEMENT', 'IS_XMLFOREST', 'IS_XMLCONCAT'])

/** True for an expression kind that cannot fail by itself (its parts are judged on their own). */
export function totalNode(type: string, node: AstObject): boolean {
  return TOTAL_NODES.has(type) || (type === 'XmlExpr' && TOTAL_XML.has(String(node.op)))
}

/**
 * Expression kinds that cannot fail by themselves (their parts are judged on their own): a column,
 * a boolean test or combination, CASE (its conditions are judged), COALESCE, GREATEST/LEAST, rows,
 * arrays, subscripts, subqueries, collation. Any other kind (XML, SQL/JSON functions, anything newer)
 * is judged whole.
 */
const TOTAL_NODES = new Set([
  'ColumnRef',
  'SubLink',
  'A_Indirection',
  'A_Indices',
  'CaseExpr',
  'CaseWhen',
  'SelectStmt',
  'BoolExpr',
  'NullTest',
  'BooleanTest',
  'CoalesceExpr',
  'MinMaxExpr',
  'RowExpr',
  'A_ArrayExpr',
  'CollateClause',
  'GroupingFunc',
  'ResTarget',
  'SortBy',
  'WindowDef',
  'List',
  'A_Star',
])
