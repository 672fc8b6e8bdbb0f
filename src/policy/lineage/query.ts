/**
 * Lineage of a query: its WITH clause, set operations, VALUES, FROM clause and target list, giving
 * each output column in order with its sources. WHERE, GROUP BY, HAVING, ORDER BY and LIMIT only
 * choose rows, so they are no source of a column; WHERE and HAVING are judged (conditions.ts).
 */
import {type AstObject, isObject, list, listItems, obj, str, stringList, unwrap} from '../postgres/ast.js'
import {dmlCols} from './dml.js'
import {judgeCondition, judgeDistinct, judgeOrder, judgeRows, judgeWindow} from './conditions.js'
import {collect, figureName, findRels, refParts} from './expr.js'
import {fromLevel} from './from.js'
import {
  addRow,
  colOf,
  type Col,
  type Cols,
  type Cte,
  type Env,
  newAcc,
  passedOn,
  rename,
  sameCols,
  type State,
  unionCols,
} from './model.js'

/** Rounds of a recursive CTE's fixpoint before lineage gives up on it (sources only grow, so few are needed). */
const MAX_ROUNDS = 8

/** The output columns of a query node: a SELECT (wrapped or bare), or a data-modifying statement's RETURNING. */
export function queryCols(value: unknown, env: Env, state: State): Cols {
  const t = unwrap(value)
  if (t === undefined) {
    // larg and rarg of a set operation hold their SelectStmt bare.
    if (isObject(value)) return selectCols(value, env, state)
    state.unknown = true
    return null
  }
  switch (t.type) {
    case 'SelectStmt':
      return selectCols(t.node, env, state)
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return dmlCols(t.type, t.node, env, state)
    default:
      state.unknown = true
      return null
  }
}

/** The output columns of a SelectStmt. */
export function selectCols(node: AstObject, outer: Env, state: State): Cols {
  const env = withCtes(obj(node, 'withClause'), outer, state)
  const op = str(node, 'op')
  if (op !== undefined && op !== 'SETOP_NONE') {
    // Column i of a UNION / INTERSECT / EXCEPT can come from column i of either branch.
    const branches = [queryCols(node.larg, env, state), queryCols(node.rarg, env, state)]
    // INTERSECT and EXCEPT keep the rows of one branch the other holds: they compare every column.
    if (op !== 'SETOP_UNION') for (const b of branches) judgeRows(b, state)
    const cols = unionCols(branches)
    // UNION without ALL removes duplicates, by sorting unless hashed; ORDER BY names output columns.
    if (node.all !== true) judgeDistinct(cols, state)
    judgeOrder(list(node, 'sortClause'), {level: undefined, ctes: env.ctes}, state, cols)
    return cols
  }
  const values = list(node, 'valuesLists')
  if (values.length > 0) {
    const cols = valuesCols(values, env, state)
    judgeOrder(list(node, 'sortClause'), {level: undefined, ctes: env.ctes}, state, cols)
    return cols
  }
  const level = fromLevel(list(node, 'fromClause'), env, state)
  const inner: Env = {level, ctes: env.ctes}
  judgeCondition(node.whereClause, inner, state)
  judgeCondition(node.havingClause, inner, state)
  const cols = targetCols(list(node, 'targetList'), inner, state)
  judgeSorts(node, inner, state, cols)
  return cols
}

/** What a SELECT sorts its rows by: ORDER BY, GROUP BY, DISTINCT [ON] and its named windows. */
function judgeSorts(node: AstObject, env: Env, state: State, cols: Cols): void {
  judgeOrder(list(node, 'sortClause'), env, state, cols)
  judgeOrder(list(node, 'groupClause'), env, state, cols)
  const distinct = list(node, 'distinctClause')
  // Plain DISTINCT is a list of one empty node; DISTINCT ON lists its keys.
  if (distinct.length === 1 && Object.keys(distinct[0] ?? {}).length === 0) judgeDistinct(cols, state)
  else judgeOrder(distinct, env, state, cols)
  for (const w of list(node, 'windowClause')) judgeWindow(unwrap(w)?.node, env, state)
}

function valuesCols(rows: readonly unknown[], env: Env, state: State): Cols {
  const out: Cols[] = rows.map((row) =>
    (listItems(row) ?? []).map((item, i) => {
      const acc = newAcc()
      collect(item, env, state, acc)
      return colOf(`column${i + 1}`, acc)
    }),
  )
  return unionCols(out)
}

/** Output columns of a target list (also RETURNING): `*` and `t.*` expand, anything else is one column. */
export function targetCols(targets: readonly unknown[], env: Env, state: State): Cols {
  const out: Col[] = []
  for (const item of targets) {
    const rt = unwrap(item)
    if (rt?.type !== 'ResTarget') {
      state.unknown = true
      return null
    }
    const expanded = starCols(rt.node.val, env, state)
    if (expanded === null) return null
    if (expanded !== undefined) {
      out.push(...expanded)
      continue
    }
    const acc = newAcc()
    collect(rt.node.val, env, state, acc)
    const name = str(rt.node, 'name') ?? figureName(rt.node.val)
    out.push(unwrap(rt.node.val)?.type === 'ColumnRef' ? passedOn(name, acc) : colOf(name, acc))
  }
  return out
}

/** The columns `*`, `t.*` or `(expr).*` expand to; undefined when the target is not a star. */
function starCols(value: unknown, env: Env, state: State): Cols | undefined {
  const t = unwrap(value)
  if (t?.type === 'A_Indirection') {
    const ind = list(t.node, 'indirection')
    if (unwrap(ind[ind.length - 1])?.type !== 'A_Star') return undefined
    // The number of fields of a composite value is unknown here: mark the whole result unknown.
    state.unknown = true
    return null
  }
  if (t?.type !== 'ColumnRef') return undefined
  const ref = refParts(list(t.node, 'fields'))
  if (!ref?.star) return undefined
  if (ref.parts.length === 0) {
    const out: Col[] = []
    for (const item of env.level?.items ?? []) {
      if (item === null) return null
      out.push(...item)
    }
    return out
  }
  const p = ref.parts.length >= 3 ? ref.parts.slice(ref.parts.length - 2) : ref.parts
  const rels =
    p.length === 2 ? findRels(env.level, p[0], p[1] ?? '') : findRels(env.level, undefined, p[0] ?? '')
  const rel = rels[0]
  if (rel === undefined || rels.length > 1 || rel.columns === null) {
    state.unknown = true
    return null
  }
  return rel.columns
}

/** The environment inside a WITH clause: its CTEs in scope, each with its lineage. */
export function withCtes(withClause: AstObject | undefined, env: Env, state: State): Env {
  if (!withClause) return env
  const nodes: AstObject[] = []
  for (const item of list(withClause, 'ctes')) {
    const cte = unwrap(item)
    if (cte?.type === 'CommonTableExpr') nodes.push(cte.node)
  }
  const names = (node: AstObject): string[] => stringList(list(node, 'aliascolnames')) ?? []
  let scope = env.ctes
  if (withClause.recursive !== true) {
    // Without RECURSIVE a CTE sees only the CTEs before it.
    for (const node of nodes) {
      const columns = rename(queryCols(node.ctequery, {level: env.level, ctes: scope}, state), names(node))
      scope = {name: str(node, 'ctename') ?? '', columns, parent: scope}
    }
    return {level: env.level, ctes: scope}
  }
  // With RECURSIVE every CTE sees all of them, itself included.
  const entries = nodes.map((node) => {
    scope = {name: str(node, 'ctename') ?? '', columns: null, parent: scope}
    return scope
  })
  const inner: Env = {level: env.level, ctes: scope}
  nodes.forEach((node, i) => {
    const entry = entries[i]
    if (entry) entry.columns = recursiveCols(node.ctequery, names(node), inner, state, entry)
  })
  return inner
}

/**
 * A recursive CTE reads its own rows: start from the non-recursive branch and widen until the
 * sources stop growing. A CTE that has not converged is opaque.
 */
function recursiveCols(query: unknown, names: readonly string[], env: Env, state: State, entry: Cte): Cols {
  const t = unwrap(query)
  const op = t?.type === 'SelectStmt' ? str(t.node, 'op') : undefined
  entry.columns =
    t && op !== undefined && op !== 'SETOP_NONE' ? rename(queryCols(t.node.larg, env, state), names) : null
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = rename(queryCols(query, env, state), names)
    if (sameCols(next, entry.columns)) return next
    entry.columns = next
  }
  const acc = newAcc()
  addRow(acc, entry.columns, state)
  acc.opaque = true
  return entry.columns === null ? null : entry.columns.map((c) => colOf(c.name, acc))
}
