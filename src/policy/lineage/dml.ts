/**
 * Lineage of INSERT / UPDATE / DELETE / MERGE ... RETURNING. A returned column of the target holds
 * either its stored value or the value written to it, so its sources are the column itself plus
 * whatever the statement writes into it (`UPDATE t SET note = u.email ... RETURNING note`).
 */
import {type AstObject, list, obj, str, unwrap} from '../postgres/ast.js'
import {judgeCondition} from './conditions.js'
import {collect} from './expr.js'
import {fromLevel, writesRunCode} from './from.js'
import {
  addCol,
  addRow,
  type Acc,
  type Col,
  type Cols,
  colOf,
  type Env,
  type Level,
  newAcc,
  passedOn,
  type Rel,
  type State,
} from './model.js'
import {queryCols, targetCols, withCtes} from './query.js'

/** Sources written into each target column, by name, while the statement is read. */
type Writes = Map<string, Acc>

/** The RETURNING columns of a data-modifying statement ([] without RETURNING). */
export function dmlCols(type: string, node: AstObject, outer: Env, state: State): Cols {
  writesRunCode(obj(node, 'relation'), state)
  const returning = returningList(node)
  if (returning.length === 0) {
    // What it changes still depends on its conditions (and its command tag counts the rows).
    dmlWrites(type, node, outer, state)
    return []
  }
  const {level, env, target, writes} = dmlWrites(type, node, outer, state)
  const written = applyWrites(target, writes)
  return targetCols(returning, {level: withTarget(level, written, node), ctes: env.ctes}, state)
}

/**
 * What an INSERT / UPDATE / MERGE stores, column by column: each target column it writes and the
 * sources of the values written into it (not the column's own earlier value). null when it is not
 * known which columns receive which values (rows of unknown width, or a target whose columns the
 * catalog does not list and no column list names).
 */
export function dmlStored(type: string, node: AstObject, outer: Env, state: State): Cols {
  const {target, writes} = dmlWrites(type, node, outer, state)
  const positional =
    (type === 'InsertStmt' && list(node, 'cols').length === 0 && node.selectStmt !== undefined) ||
    (type === 'MergeStmt' &&
      list(node, 'mergeWhenClauses').some((c) => {
        const clause = unwrap(c)?.node ?? {}
        return str(clause, 'commandType') === 'CMD_INSERT' && list(clause, 'targetList').length === 0
      }))
  if (target === null && positional) return null
  const known = new Set((target ?? []).map((c) => c.name))
  if (target !== null && [...writes.keys()].some((k) => !known.has(k))) return null
  // Whole when a column gets a stored column's value unchanged (judged by checkedWrite).
  return [...writes].map(([name, acc]) => passedOn(name, acc))
}

/** The target's level (target first), the env with the statement's CTEs, and what each column receives. */
function dmlWrites(
  type: string,
  node: AstObject,
  outer: Env,
  state: State,
): {level: Level; env: Env; target: Cols; writes: Writes} {
  const env = withCtes(obj(node, 'withClause'), outer, state)
  const others =
    type === 'UpdateStmt' ? list(node, 'fromClause') : type === 'DeleteStmt' ? list(node, 'usingClause') : []
  const sourceRel = type === 'MergeStmt' ? [node.sourceRelation] : []
  // The target comes first, so its relation is rels[0] and its columns items[0].
  const level = fromLevel([{RangeVar: node.relation}, ...others, ...sourceRel], env, state)
  const inner: Env = {level, ctes: env.ctes}
  judgeCondition(node.whereClause, inner, state)
  judgeCondition(node.joinCondition, inner, state)
  for (const clause of list(node, 'mergeWhenClauses'))
    judgeCondition(unwrap(clause)?.node.condition, inner, state)
  const writes: Writes = new Map()
  const target = level.items[0] ?? null
  switch (type) {
    case 'InsertStmt':
      insertWrites(node, target, env, state, writes)
      break
    case 'UpdateStmt':
      assignWrites(list(node, 'targetList'), inner, state, writes)
      break
    case 'MergeStmt':
      for (const clause of list(node, 'mergeWhenClauses'))
        mergeWrites(unwrap(clause)?.node ?? {}, target, inner, state, writes)
      break
  }
  return {level, env, target, writes}
}

function returningList(node: AstObject): readonly unknown[] {
  // PostgreSQL 18 wraps RETURNING in a clause (with its OLD/NEW aliases); older trees held the list.
  const clause = obj(node, 'returningClause')
  return clause ? list(clause, 'exprs') : list(node, 'returningList')
}

/** The level RETURNING sees: the target with its written columns, also as `old` and `new` (or their aliases). */
function withTarget(level: Level, written: Cols, node: AstObject): Level {
  const [target, ...rels] = level.rels
  const names = new Set(['old', 'new'])
  for (const o of list(obj(node, 'returningClause') ?? {}, 'options')) {
    const value = str(unwrap(o)?.node ?? {}, 'value')
    if (value !== undefined) names.add(value)
  }
  const extra: Rel[] = [...names].map((name) => ({name, schema: undefined, columns: written}))
  const self: Rel[] = target ? [{...target, columns: written}] : []
  return {items: [written, ...level.items.slice(1)], rels: [...self, ...rels, ...extra], parent: level.parent}
}

function writeTo(writes: Writes, column: string): Acc {
  let acc = writes.get(column)
  if (!acc) {
    acc = newAcc()
    writes.set(column, acc)
  }
  return acc
}

/** `SET a = expr` (also `SET (a, b) = (subquery)`, whose every column gets the whole subquery). */
function assignWrites(targets: readonly unknown[], env: Env, state: State, writes: Writes): void {
  for (const item of targets) {
    const rt = unwrap(item)?.node ?? {}
    addCol(writeTo(writes, str(rt, 'name') ?? ''), valueCol(rt.val, env, state))
  }
}

/** The value an expression stores: whole when it is a bare column (`SET email = email`), computed otherwise. */
function valueCol(expr: unknown, env: Env, state: State): Col {
  const acc = newAcc()
  collect(expr, env, state, acc)
  return unwrap(expr)?.type === 'ColumnRef' ? passedOn('', acc) : colOf('', acc)
}

/** INSERT's rows go to its column list (or the table's columns in order); ON CONFLICT ... SET adds its own. */
function insertWrites(node: AstObject, target: Cols, env: Env, state: State, writes: Writes): void {
  const rows = node.selectStmt === undefined ? [] : queryCols(node.selectStmt, env, state)
  const names = list(node, 'cols').map((c) => str(unwrap(c)?.node ?? {}, 'name') ?? '')
  positionalWrites(names, rows, target, state, writes)
  const conflict = obj(node, 'onConflictClause')
  if (!conflict) return
  const excluded: Rel = {name: 'excluded', schema: undefined, columns: applyWrites(target, writes)}
  const relation = obj(node, 'relation') ?? {}
  const name = str(obj(relation, 'alias') ?? {}, 'aliasname') ?? str(relation, 'relname') ?? ''
  const level: Level = {
    items: [target],
    rels: [{name, schema: undefined, columns: target}, excluded],
    parent: env.level,
  }
  assignWrites(list(conflict, 'targetList'), {level, ctes: env.ctes}, state, writes)
}

function positionalWrites(
  names: readonly string[],
  rows: Cols,
  target: Cols,
  state: State,
  writes: Writes,
): void {
  const columns = names.length > 0 ? names : (target ?? []).map((c) => c.name)
  if (rows === null) {
    // Rows of unknown width could land in any column.
    for (const c of columns) addRow(writeTo(writes, c), null, state)
    return
  }
  rows.forEach((col, i) => {
    const name = columns[i]
    if (name !== undefined) addCol(writeTo(writes, name), col)
  })
}

function mergeWrites(clause: AstObject, target: Cols, env: Env, state: State, writes: Writes): void {
  const targets = list(clause, 'targetList')
  if (str(clause, 'commandType') !== 'CMD_INSERT') return assignWrites(targets, env, state, writes)
  const names = targets.map((t) => str(unwrap(t)?.node ?? {}, 'name') ?? '')
  const values: Col[] = list(clause, 'values').map((v) => valueCol(v, env, state))
  positionalWrites(names, values, target, state, writes)
}

/** Target columns with what was written into them added to their sources. */
function applyWrites(target: Cols, writes: Writes): Cols {
  if (target === null) return null
  if (writes.size === 0) return target
  const known = new Set(target.map((c) => c.name))
  const stray = [...writes.keys()].filter((k) => !known.has(k))
  return target.map((c) => {
    const acc = newAcc()
    addCol(acc, c)
    const w = writes.get(c.name)
    if (w) addCol(acc, colOf('', w))
    // A write to a column the catalog does not list could be to any column.
    for (const k of stray) addCol(acc, colOf('', writes.get(k) ?? newAcc()))
    if (stray.length > 0) acc.opaque = true
    return colOf(c.name, acc)
  })
}
