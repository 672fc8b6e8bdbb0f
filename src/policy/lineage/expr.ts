/**
 * Sources of an expression: the union of every column it references, through any operator, cast,
 * CASE (conditions included), function call, array, row or scalar subquery. Clauses that only filter
 * or order (an aggregate's FILTER, a window's PARTITION BY, an EXISTS subquery) add nothing; the
 * conditions among them are judged (conditions.ts), and so is what a computation that can fail for some
 * inputs reads (fallible.ts).
 */
import {type AstObject, isObject, list, obj, str, stringList, unwrap, wrapperType} from '../postgres/ast.js'
import {judgeCase, judgeCondition, judgeCounted, judgeWindow} from './conditions.js'
import {judged} from './decides.js'
import {arrayValued, failingOperands, safeArgument, totalCast, totalNode} from './fallible.js'
import {builtinName, pureFunction} from './functions.js'
import {
  type Acc,
  addCol,
  addRow,
  type Col,
  type Cols,
  type Env,
  type Level,
  mergeAcc,
  newAcc,
  type Rel,
  type State,
} from './model.js'
import {queryCols} from './query.js'

/** Nodes that reference no column. */
const LEAVES = new Set([
  'A_Const',
  'ParamRef',
  'String',
  'Integer',
  'Float',
  'Boolean',
  'BitString',
  'SQLValueFunction',
  'TypeName',
  'SetToDefault',
  'CurrentOfExpr',
])

/** Adds the sources of any expression value (a wrapped node, a bare struct or a list) to `acc`. */
export function collect(value: unknown, env: Env, state: State, acc: Acc): void {
  if (Array.isArray(value)) {
    for (const item of value) collect(item, env, state, acc)
    return
  }
  if (!isObject(value)) return
  const type = wrapperType(value)
  if (type === undefined) collectFields(value, env, state, acc)
  else collectNode(type, value[type] as AstObject, env, state, acc)
}

function collectFields(node: AstObject, env: Env, state: State, acc: Acc): void {
  for (const key in node) {
    const v = node[key]
    if (typeof v === 'object' && v !== null) collect(v, env, state, acc)
  }
}

function collectNode(type: string, node: AstObject, env: Env, state: State, acc: Acc): void {
  if (LEAVES.has(type)) return
  // What a computation that can fail for some inputs reads is judged (fallible.ts).
  const fails = judged(state)?.fails
  switch (type) {
    case 'ColumnRef': {
      const ref = refParts(list(node, 'fields'))
      if (ref) resolveRef(ref.parts, ref.star, env, state, acc)
      else acc.opaque = true
      return
    }
    case 'FuncCall':
      return collectCall(node, env, state, acc)
    case 'SubLink': {
      // EXISTS yields whether a row matched: like WHERE, it only filters (its conditions are judged).
      const rows = queryCols(node.subselect, env, state)
      if (str(node, 'subLinkType') !== 'EXISTS_SUBLINK') addRow(acc, rows, state)
      collect(node.testexpr, env, state, acc)
      return
    }
    case 'A_Indirection':
      return collectIndirection(node, env, state, acc)
    case 'CaseExpr':
      judgeCase(node, env, state)
      return collectFields(node, env, state, acc)
    case 'A_ArrayExpr':
      // ARRAY[a, b] of arrays needs matching dimensions: an element that may be an array can fail it.
      if (fails === undefined) return collectFields(node, env, state, acc)
      for (const e of list(node, 'elements'))
        if (arrayValued(e)) collectFailing(e, env, state, acc, fails)
        else collect(e, env, state, acc)
      return
    case 'A_Expr': {
      const operands = fails === undefined ? 'none' : failingOperands(node, str(node, 'kind') ?? '')
      if (fails === undefined || operands === 'none') return collectFields(node, env, state, acc)
      if (operands === 'both') collectFailing(node.lexpr, env, state, acc, fails)
      else collect(node.lexpr, env, state, acc)
      return collectFailing(node.rexpr, env, state, acc, fails)
    }
    case 'TypeCast':
      if (fails !== undefined && !totalCast(node)) return collectFailing(node.arg, env, state, acc, fails)
      return collect(node.arg, env, state, acc)
    case 'SelectStmt':
      addRow(acc, queryCols({SelectStmt: node}, env, state), state)
      return
    default:
      if (fails === undefined || totalNode(type, node)) return collectFields(node, env, state, acc)
      return failing(fails, acc, (part) => collectFields(node, env, state, part))
  }
}

/**
 * Adds the sources of a value that a computation which can fail for some inputs computes from to `acc`,
 * and to the statement's `fails` (fallible.ts).
 */
function collectFailing(value: unknown, env: Env, state: State, acc: Acc, fails: Acc): void {
  failing(fails, acc, (part) => collect(value, env, state, part))
}

/** Collects once into a fresh accumulator (`add`), then adds it to both `acc` and `fails`. */
function failing(fails: Acc, acc: Acc, add: (part: Acc) => void): void {
  const part = newAcc()
  add(part)
  mergeAcc(acc, part)
  mergeAcc(fails, part)
}

function collectCall(node: AstObject, env: Env, state: State, acc: Acc): void {
  const parts = stringList(list(node, 'funcname'))
  const pure = parts && pureFunction(parts)
  if (pure === undefined) {
    // A function lineage cannot see into may read and return any value in the database.
    acc.opaque = true
    state.unknown = true
  }
  // FILTER (WHERE ...) decides which rows an aggregate reads, and so a count.
  judgeCondition(node.agg_filter, env, state)
  const builtin = builtinName(parts)
  // A window sorts the rows it returns.
  judgeWindow(obj(node, 'over'), env, state)
  // A count is a number whatever it counts: it carries no value of its argument, but it counts the
  // rows where that argument is not NULL, a condition on it (`count(CASE WHEN ... THEN 1 END)`).
  if (pure === 'count') return judgeCounted(list(node, 'args'), env, state)
  const fails = judged(state)?.fails
  if (fails === undefined) collect(node.args, env, state, acc)
  else
    for (const [i, arg] of list(node, 'args').entries()) {
      // A named argument (`make_date(year => ...)`) is safe only where every argument is.
      const at = unwrap(arg)?.type === 'NamedArgExpr' ? -1 : i
      if (safeArgument(builtin, at, list(node, 'args'))) collect(arg, env, state, acc)
      else collectFailing(arg, env, state, acc, fails)
    }
  // `percentile_disc(0.5) WITHIN GROUP (ORDER BY email)` returns a value of its ORDER BY, and
  // `string_agg(name, ',' ORDER BY email)` its arguments in that order.
  collect(node.agg_order, env, state, acc)
}

function collectIndirection(node: AstObject, env: Env, state: State, acc: Acc): void {
  const indirection = list(node, 'indirection')
  const arg = unwrap(node.arg)
  const field = unwrap(indirection[0])
  const ref = arg?.type === 'ColumnRef' ? refParts(list(arg.node, 'fields')) : undefined
  // `(u).email` reads one column of u, like `u.email`.
  if (ref && !ref.star && field?.type === 'String') {
    resolveRef([...ref.parts, str(field.node, 'sval') ?? ''], false, env, state, acc)
    collect(indirection.slice(1), env, state, acc)
    return
  }
  collect(node.arg, env, state, acc)
  collect(indirection, env, state, acc)
}

/** The names of a ColumnRef and whether it ends in `*`; undefined for a shape the grammar does not make. */
export function refParts(fields: readonly unknown[]): {parts: string[]; star: boolean} | undefined {
  const parts: string[] = []
  let star = false
  for (const [i, f] of fields.entries()) {
    const t = unwrap(f)
    if (t?.type === 'String') parts.push(str(t.node, 'sval') ?? '')
    else if (t?.type === 'A_Star' && i === fields.length - 1) star = true
    else return undefined
  }
  return {parts, star}
}

/** Relations named `name` (and `schema`, if given) at the innermost level that has any. */
export function findRels(level: Level | undefined, schema: string | undefined, name: string): Rel[] {
  for (let l = level; l; l = l.parent) {
    const found = l.rels.filter((r) => r.name === name && (schema === undefined || r.schema === schema))
    if (found.length > 0) return found
  }
  return []
}

/** Columns named `name` at the innermost level that has one (or has a FROM item of unknown columns). */
function findColumns(level: Level | undefined, name: string): {found: Col[]; unknown: boolean} | undefined {
  for (let l = level; l; l = l.parent) {
    const found: Col[] = []
    let unknown = false
    for (const item of l.items) {
      if (item === null) unknown = true
      else for (const c of item) if (c.name === name) found.push(c)
    }
    if (found.length > 0 || unknown) return {found, unknown}
  }
  return undefined
}

/** Adds the sources of a column reference (`c`, `t.c`, `s.t.c`, `t.*`, `*`, or a whole-row `t`). */
export function resolveRef(parts: readonly string[], star: boolean, env: Env, state: State, acc: Acc): void {
  if (parts.length === 0) {
    // A bare `*` inside an expression: every column of every FROM item.
    for (const item of env.level?.items ?? []) addRow(acc, item, state)
    return
  }
  if (parts.length === 1 && !star) return resolveName(parts[0] ?? '', env, state, acc)
  // `d.s.t.c`: the database name adds nothing (PostgreSQL refuses other databases).
  const p = parts.length >= 4 ? parts.slice(parts.length - 3) : parts
  const column = star ? undefined : p[p.length - 1]
  const relParts = star ? p : p.slice(0, -1)
  const rels =
    relParts.length === 2
      ? findRels(env.level, relParts[0], relParts[1] ?? '')
      : findRels(env.level, undefined, relParts[0] ?? '')
  if (rels.length === 0) {
    if (star) {
      acc.opaque = true
      return
    }
    // `a.b` (or `t.a.b`) with no such relation: a column `a` of composite type, and its field b.
    if (relParts.length === 1) return resolveName(relParts[0] ?? '', env, state, acc)
    return resolveRef(relParts, false, env, state, acc)
  }
  if (rels.length > 1) acc.opaque = true
  for (const rel of rels) addRelColumn(rel.columns, column, state, acc)
}

function addRelColumn(cols: Cols, column: string | undefined, state: State, acc: Acc): void {
  const col = column === undefined || cols === null ? undefined : cols.find((c) => c.name === column)
  if (col) return addCol(acc, col)
  addRow(acc, cols, state)
  // A column the relation does not have: a stale catalog, or `t.f` calling f(t) on the whole row.
  if (column !== undefined) acc.opaque = true
}

function resolveName(name: string, env: Env, state: State, acc: Acc): void {
  const hit = findColumns(env.level, name)
  if (hit) {
    for (const c of hit.found) addCol(acc, c)
    // Ambiguous, or possibly a column of a FROM item whose columns are unknown: fail closed.
    if (hit.found.length !== 1 || hit.unknown) acc.opaque = true
    return
  }
  // No column of that name: PostgreSQL then reads it as a whole-row reference to a relation.
  const rels = findRels(env.level, undefined, name)
  if (rels.length === 0) {
    acc.opaque = true
    return
  }
  if (rels.length > 1) acc.opaque = true
  for (const rel of rels) addRow(acc, rel.columns, state)
}

/** The label PostgreSQL gives an unnamed output column (FigureColname), roughly. */
export function figureName(value: unknown): string {
  const t = unwrap(value)
  if (!t) return '?column?'
  switch (t.type) {
    case 'ColumnRef': {
      const ref = refParts(list(t.node, 'fields'))
      return ref?.parts[ref.parts.length - 1] ?? '?column?'
    }
    case 'FuncCall': {
      const parts = stringList(list(t.node, 'funcname'))
      return parts?.[parts.length - 1] ?? '?column?'
    }
    case 'TypeCast': {
      const inner = figureName(t.node.arg)
      if (inner !== '?column?') return inner
      const names = stringList(list(obj(t.node, 'typeName') ?? {}, 'names'))
      return names?.[names.length - 1] ?? '?column?'
    }
    case 'CaseExpr':
      return 'case'
    case 'A_ArrayExpr':
      return 'array'
    case 'CoalesceExpr':
      return 'coalesce'
    case 'RowExpr':
      return 'row'
    default:
      return '?column?'
  }
}
