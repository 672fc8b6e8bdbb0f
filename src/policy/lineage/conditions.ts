/**
 * Conditions decide which rows a statement returns or changes, and so how many: masking rewrites the
 * values, but `SELECT count(*) FROM users, generate_series(1, 1000) g WHERE g <= ascii(email)` returns a
 * masked column's character code, and `WHERE email LIKE 'a%'` finds it one character at a time. A
 * column in a condition is a lookup (which rows hold this value) only when it is compared whole, by
 * equality, with values the client supplies: `email = 'a@x.com'`, `ssn IN ($1, $2)`, `email IS NULL`,
 * `email <> ''`; and only when it holds the stored value unchanged (model.ts, Col.whole), not the `a` of
 * `(SELECT ascii(email) a FROM users) t WHERE a = 97`. Two columns compared by equality
 * (`u.email = o.email`) show each other: a comparison judged as a copy each way. Anything else a
 * condition computes is a copy of its columns to the client, collected in `state.decides` (decides.ts:
 * the proxy refuses it when a masking rule covers one of them). So are the keys rows are sorted by
 * (`judgeOrder`): where a row of a known value lands among a masked column's values shows them.
 */
import {type AstObject, list, obj, str, stringList, unwrap} from '../postgres/ast.js'
import {collect, refParts} from './expr.js'
import {compareColumns, type Decides, judged} from './decides.js'
import {
  type Acc,
  accOf,
  addCol,
  addRow,
  type Col,
  type Cols,
  type Env,
  newAcc,
  type State,
  wholeAcc,
} from './model.js'
import {queryCols} from './query.js'

/** Operators that compare two values whole for (in)equality. */
const EQUALITY = new Set(['=', '<>', '!='])

/** Nodes whose value the client supplies: the statement's own text or a parameter. */
const SUPPLIED = new Set(['A_Const', 'ParamRef', 'SQLValueFunction'])

/** Judges a condition (WHERE, ON, HAVING, FILTER, a MERGE clause's AND) read in `env`. */
export function judgeCondition(value: unknown, env: Env, state: State): void {
  const d = judged(state)
  if (d !== undefined && value !== undefined && value !== null) judge(value, env, state, d)
}

/** The arguments of a count, which counts the rows where each is not NULL: `arg IS NOT NULL` judged. */
export function judgeCounted(args: readonly unknown[], env: Env, state: State): void {
  const d = judged(state)
  if (d === undefined) return
  for (const arg of args) if (!wholeColumn(arg, env, state)) collect(arg, env, state, d.acc)
}

function judge(value: unknown, env: Env, state: State, d: Decides): void {
  const t = unwrap(value)
  if (t === undefined) return collect(value, env, state, d.acc)
  const {type, node} = t
  switch (type) {
    case 'BoolExpr':
      for (const arg of list(node, 'args')) judge(arg, env, state, d)
      return
    case 'BooleanTest':
      return judge(node.arg, env, state, d)
    case 'NullTest':
      if (!wholeColumn(node.arg, env, state)) collect(node.arg, env, state, d.acc)
      return
    case 'A_Expr':
      if (lookup(node, env, state)) return
      if (columnsCompared(node)) return compare(node.lexpr, node.rexpr, env, state, d)
      return collect(value, env, state, d.acc)
    case 'SubLink': {
      // The subquery's own conditions are judged as it is read; what it returns is compared here.
      const rows = queryCols(node.subselect, env, state)
      const kind = str(node, 'subLinkType')
      if (kind === 'EXISTS_SUBLINK') return
      const op = stringList(list(node, 'operName'))?.at(-1) ?? '='
      const only = rows?.length === 1 ? rows[0] : undefined
      // `x IN (SELECT y ...)`, `x = ANY (SELECT y ...)`: x compared with a column.
      if (kind === 'ANY_SUBLINK' && EQUALITY.has(op) && bareColumn(node.testexpr) && only !== undefined) {
        const left = newAcc()
        collect(node.testexpr, env, state, left)
        return compareColumns(d, left, accOf(only))
      }
      addRow(d.acc, rows, state)
      return collect(node.testexpr, env, state, d.acc)
    }
    default:
      collect(value, env, state, d.acc)
  }
}

/**
 * A CASE chooses which result it computes by its conditions, and a result that raises an error (`CASE
 * WHEN ascii(email) > 100 THEN 1/0 END`) shows which was chosen whatever masking does to the value:
 * each WHEN is judged as a condition (a simple `CASE x WHEN v` compares `x = v`).
 */
export function judgeCase(node: AstObject, env: Env, state: State): void {
  const d = judged(state)
  if (d === undefined) return
  for (const item of list(node, 'args')) {
    const when = unwrap(item)
    const cond = when?.type === 'CaseWhen' ? when.node.expr : item
    if (node.arg === undefined) judge(cond, env, state, d)
    else if (!(supplied(cond) && wholeColumn(node.arg, env, state))) {
      collect(node.arg, env, state, d.acc)
      collect(cond, env, state, d.acc)
    }
  }
}

/** Two bare columns compared by equality (`u.email = o.email`). */
function columnsCompared(node: AstObject): boolean {
  const kind = str(node, 'kind')
  const op = stringList(list(node, 'name'))?.at(-1)
  const equality =
    kind === 'AEXPR_DISTINCT' ||
    kind === 'AEXPR_NOT_DISTINCT' ||
    (kind === 'AEXPR_OP' && op !== undefined && EQUALITY.has(op))
  return equality && bareColumn(node.lexpr) && bareColumn(node.rexpr)
}

function compare(left: unknown, right: unknown, env: Env, state: State, d: Decides): void {
  const l = newAcc()
  const r = newAcc()
  collect(left, env, state, l)
  collect(right, env, state, r)
  compareColumns(d, l, r)
}

/** True for a comparison that is a lookup: a whole column compared by equality with supplied values. */
function lookup(node: AstObject, env: Env, state: State): boolean {
  const kind = str(node, 'kind')
  const op = stringList(list(node, 'name'))?.at(-1)
  const sides = (): boolean =>
    (supplied(node.rexpr) && wholeColumn(node.lexpr, env, state)) ||
    (supplied(node.lexpr) && wholeColumn(node.rexpr, env, state))
  switch (kind) {
    case 'AEXPR_OP':
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL':
    case 'AEXPR_IN':
      return op !== undefined && EQUALITY.has(op) && sides()
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
      return sides()
    case undefined:
    default:
      return false
  }
}

/**
 * A column as it is stored, no cast: `email::varchar(1) = 'a'` compares a prefix, and a cast to any
 * type may drop part of the value.
 */
function bareColumn(value: unknown): boolean {
  const t = unwrap(value)
  if (t?.type !== 'ColumnRef') return false
  return !list(t.node, 'fields').some((f) => unwrap(f)?.type === 'A_Star')
}

/** A bare column that holds a stored column's value unchanged (model.ts, Col.whole). */
function wholeColumn(value: unknown, env: Env, state: State): boolean {
  if (!bareColumn(value)) return false
  const acc = newAcc()
  collect(value, env, state, acc)
  return wholeAcc(acc)
}

/** A value the client supplies: a constant or parameter, cast or not, or a list or array of them. */
function supplied(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(supplied)
  const t = unwrap(value)
  if (t === undefined) return false
  if (SUPPLIED.has(t.type)) return true
  switch (t.type) {
    case 'TypeCast':
      return supplied(t.node.arg)
    case 'List':
      return supplied(list(t.node, 'items'))
    case 'A_ArrayExpr':
      return supplied(list(t.node, 'elements'))
    default:
      return false
  }
}

/**
 * Keys a query sorts its rows by, into `decides.order` (see `ORDER`): ORDER BY and DISTINCT ON keys
 * name the output columns by name or position, or are expressions over the FROM clause; GROUP BY keys
 * too (ROLLUP, CUBE and GROUPING SETS hold more keys); a window's PARTITION BY and ORDER BY.
 */
export function judgeOrder(keys: readonly unknown[], env: Env, state: State, outputs: Cols): void {
  const d = judged(state)
  if (d === undefined) return
  for (const key of keys) orderKey(key, env, state, outputs, d.order)
}

/** A window (`OVER (...)`, or one a WINDOW clause names): its rows sorted by PARTITION BY and ORDER BY. */
export function judgeWindow(def: AstObject | undefined, env: Env, state: State): void {
  if (def === undefined) return
  judgeOrder([...list(def, 'partitionClause'), ...list(def, 'orderClause')], env, state, null)
}

/** Rows deduplicated (plain DISTINCT, UNION): sorted by every output column. */
export function judgeDistinct(outputs: Cols, state: State): void {
  const d = judged(state)
  if (d !== undefined) addRow(d.order, outputs, state)
}

function orderKey(value: unknown, env: Env, state: State, outputs: Cols, acc: Acc): void {
  const t = unwrap(value)
  if (t?.type === 'SortBy') return orderKey(t.node.node, env, state, outputs, acc)
  if (t?.type === 'GroupingSet') {
    for (const k of list(t.node, 'content')) orderKey(k, env, state, outputs, acc)
    return
  }
  // `ORDER BY 2`: the second output column.
  const integer = t?.type === 'A_Const' ? obj(t.node, 'ival') : undefined
  if (integer !== undefined) {
    const n = integer.ival
    const col = typeof n === 'number' ? outputs?.[n - 1] : undefined
    if (col) addCol(acc, col)
    else acc.opaque = true
    return
  }
  // `ORDER BY e`: an output column's name (GROUP BY reads an input column of that name first: both).
  const ref = t?.type === 'ColumnRef' ? refParts(list(t.node, 'fields')) : undefined
  const named =
    ref?.parts.length === 1 && !ref.star ? outputs?.filter((c) => c.name === ref.parts[0]) : undefined
  if (named !== undefined && named.length > 0) {
    for (const c of named) addCol(acc, c)
    const input = newAcc()
    collect(value, env, state, input)
    if (!input.opaque) for (const s of input.sources) acc.sources.add(s)
    return
  }
  collect(value, env, state, acc)
}

/** Rows compared whole (INTERSECT, EXCEPT): every column decides. */
export function judgeRows(cols: Cols, state: State): void {
  const d = judged(state)
  if (d !== undefined) addRow(d.acc, cols, state)
}

/** Columns of both sides of a USING or NATURAL join, compared by equality. */
export function judgeMerged(left: Col | undefined, right: Col | undefined, state: State): void {
  const d = judged(state)
  if (d === undefined) return
  compareColumns(d, accOf(left), accOf(right))
}
