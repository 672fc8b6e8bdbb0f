/**
 * Lineage of a FROM clause: tables (from the catalog), views (through their definition), CTEs,
 * subqueries, functions, and joins (USING and NATURAL merge a column from both sides).
 */
import {type AstObject, list, listItems, obj, str, stringList, unwrap} from '../postgres/ast.js'
import {rangeVarParts} from '../postgres/names.js'
import {parse} from '../postgres/parser.js'
import {judgeCondition, judgeMerged} from './conditions.js'
import {judged} from './decides.js'
import {collect} from './expr.js'
import {functionColumns, pureFunction} from './functions.js'
import {
  addCol,
  addRow,
  colOf,
  type Col,
  type Cols,
  constCol,
  type Env,
  findCte,
  type Level,
  mergeAcc,
  newAcc,
  passedOn,
  type Rel,
  rename,
  type State,
} from './model.js'
import {queryCols} from './query.js'
import type {CatalogView} from './types.js'

/**
 * Planner statistics hold sample values of every column (most common values, histogram bounds):
 * whatever they show could be a masked column's values, so they are read as unknown.
 */
const STATISTICS = new Set([
  'pg_catalog.pg_statistic',
  'pg_catalog.pg_statistic_ext_data',
  'pg_catalog.pg_stats',
  'pg_catalog.pg_stats_ext',
  'pg_catalog.pg_stats_ext_exprs',
])

/** Views expanded inside views before lineage gives up (a stale catalog could make a view refer to itself). */
const MAX_VIEW_DEPTH = 8

/** A query level being built: FROM items are added in order, and LATERAL items see the ones before. */
interface Building extends Level {
  readonly items: Cols[]
  readonly rels: Rel[]
}

/** The FROM level of a query, whose parent is the enclosing query's level. */
export function fromLevel(items: readonly unknown[], env: Env, state: State): Level {
  const level: Building = {items: [], rels: [], parent: env.level}
  for (const item of items) level.items.push(fromItem(item, env, state, level))
  return level
}

/** Environment of an item that may refer to the items before it (LATERAL, functions in FROM). */
function lateralEnv(env: Env, level: Building): Env {
  return {
    level: {items: level.rels.map((r) => r.columns), rels: level.rels, parent: level.parent},
    ctes: env.ctes,
  }
}

function aliasOf(node: AstObject): {name: string | undefined; columns: string[]} {
  const alias = obj(node, 'alias')
  return {
    name: alias && str(alias, 'aliasname'),
    columns: (alias && stringList(list(alias, 'colnames'))) ?? [],
  }
}

/** The columns of one FROM item; the relations it names are added to `level.rels`. */
function fromItem(value: unknown, env: Env, state: State, level: Building): Cols {
  const t = unwrap(value)
  if (!t) {
    state.unknown = true
    return null
  }
  const {type, node} = t
  const alias = aliasOf(node)
  const add = (cols: Cols, name: string | undefined, schema?: string): Cols => {
    const renamed = rename(cols, alias.columns)
    if (name !== undefined) level.rels.push({name, schema, columns: renamed})
    return renamed
  }
  switch (type) {
    case 'RangeVar': {
      const relname = str(node, 'relname') ?? ''
      const cte = node.schemaname === undefined ? findCte(env.ctes, relname) : undefined
      if (cte) return add(cte.columns, alias.name ?? relname)
      const rel = resolveRangeVar(node, state.catalog, state.schema)
      const schema = rel?.schema ?? ''
      return add(relationCols(schema, relname, state), alias.name ?? relname, alias.name ? undefined : schema)
    }
    case 'RangeSubselect': {
      const inner = node.lateral === true ? lateralEnv(env, level) : env
      return add(queryCols(node.subquery, inner, state), alias.name)
    }
    case 'RangeFunction':
      return add(functionCols(node, lateralEnv(env, level), state), alias.name ?? functionAlias(node))
    case 'RangeTableSample':
      return fromItem(node.relation, env, state, level)
    case 'JoinExpr':
      return joinCols(node, env, state, level, alias)
    case 'RangeTableFunc':
      return add(tableFuncCols(node, lateralEnv(env, level), state), alias.name)
    default:
      // JSON_TABLE and anything newer: columns unknown.
      state.unknown = true
      return add(null, alias.name)
  }
}

/** A schema no relation is in: what an unqualified name resolves to while the search path is unknown. */
export const UNRESOLVED = '\u0000unresolved'

/**
 * Schema and name of a RangeVar: an unqualified name resolves on the session's search_path when the
 * catalog view can say (pg_ names are pg_catalog's first), else to `defaultSchema`.
 */
export function resolveRangeVar(
  rv: AstObject,
  catalog: CatalogView,
  defaultSchema: string,
): {readonly schema: string; readonly name: string} | undefined {
  const parts = rangeVarParts(rv, defaultSchema)
  if (parts === undefined || rv.schemaname !== undefined) return parts
  // The temporary schema is searched first, before pg_catalog.
  if (catalog.temporary?.(parts.name) === true) return {schema: UNRESOLVED, name: parts.name}
  if (catalog.schemaOf === undefined || parts.schema === 'pg_catalog') return parts
  return {schema: catalog.schemaOf(parts.name) ?? UNRESOLVED, name: parts.name}
}

/**
 * A table's column: its own source, and, for a generated column, the columns its expression reads (a
 * generated column whose expression could not be read is opaque); for a partition or an inheritance
 * child, the same columns of the tables it inherits from.
 */
function tableCol(schema: string, table: string, name: string, state: State): Col {
  const own = `${schema}.${table}.${name}`
  const from = state.catalog.generatedFrom?.(schema, table, name)
  const ancestors = state.catalog.ancestors?.(schema, table) ?? []
  // A generated column holds what its expression computes: not a stored value a condition may look up.
  const whole = from === undefined
  if (whole && ancestors.length === 0) return {name, sources: new Set([own]), opaque: false, whole}
  const sources = new Set([own, ...(from ?? []).map((c) => `${schema}.${table}.${c}`)])
  // A partition's (or inheritance child's) rows are its parents': their rules name its columns too.
  for (const a of ancestors)
    for (const s of [...sources]) sources.add(`${a}.${s.slice(s.lastIndexOf('.') + 1)}`)
  return {name, sources, opaque: from === null, whole}
}

/** The columns of a catalog relation: a table's columns are their own sources; a view's come from its query. */
export function relationCols(schema: string, name: string, state: State): Cols {
  const names = STATISTICS.has(`${schema}.${name}`) ? undefined : state.catalog.columns(schema, name)
  if (names === undefined) {
    state.unknown = true
    return null
  }
  // A view's rules or a row security policy may run a user's code on every read.
  if (state.catalog.relationCode && state.catalog.relationCode(schema, name, false) !== false)
    state.code = true
  const qualified = `${schema}.${name}`
  const own = names.map((c) => `${qualified}.${c}`)
  for (const s of own) state.reads.add(s)
  const definition = state.catalog.viewDefinition?.(schema, name)
  if (definition === undefined) return names.map((c) => tableCol(schema, name, c, state))
  const query = viewQuery(definition, state)
  return names.map((c, i) => {
    const acc = newAcc()
    acc.sources.add(own[i] ?? '')
    const col = query?.length === names.length ? query[i] : undefined
    if (col) addCol(acc, col)
    else {
      // The definition could not be matched to the view's columns: any of its sources, uncertain.
      addRow(acc, query ?? null, state)
      acc.opaque = true
    }
    // A view's column is whole when its query passes a stored column on unchanged.
    return {...colOf(c, acc), whole: col?.whole === true && !acc.opaque}
  })
}

/**
 * Sets `state.code` when writing the relation a RangeVar names may run user code (triggers, rules,
 * defaults, constraints...), or when that cannot be known.
 */
export function writesRunCode(target: AstObject | undefined, state: State): void {
  const relationCode = state.catalog.relationCode?.bind(state.catalog)
  if (relationCode === undefined) return
  const rel = target && resolveRangeVar(target, state.catalog, state.schema)
  if (rel === undefined || relationCode(rel.schema, rel.name, true) !== false) state.code = true
}

function viewQuery(definition: string, state: State): Cols {
  if (state.viewDepth >= MAX_VIEW_DEPTH) {
    state.unknown = true
    return null
  }
  const parsed = parse(definition)
  const statement = parsed.ok && parsed.statements.length === 1 ? parsed.statements[0] : undefined
  if (statement === undefined) {
    state.unknown = true
    return null
  }
  state.viewDepth++
  try {
    // A view's query sees no outer query and no CTE of the query that reads it.
    return queryCols(statement, {level: undefined, ctes: undefined}, state)
  } finally {
    state.viewDepth--
  }
}

function functionAlias(node: AstObject): string | undefined {
  const first = listItems(list(node, 'functions')[0])?.[0]
  const call = unwrap(first)
  const parts = call?.type === 'FuncCall' ? stringList(list(call.node, 'funcname')) : undefined
  return parts?.[parts.length - 1]
}

/**
 * Columns of functions in FROM (also ROWS FROM): a pure built-in returns values computed from its
 * arguments; any other function's columns are opaque (and unknown in number without a column list).
 */
function functionCols(node: AstObject, env: Env, state: State): Cols {
  const out: Col[] = []
  const outerDefs = list(node, 'coldeflist')
  for (const item of list(node, 'functions')) {
    const [expr, defs] = listItems(item) ?? []
    const acc = newAcc()
    collect(expr, env, state, acc)
    const call = unwrap(expr)
    const parts = call?.type === 'FuncCall' ? stringList(list(call.node, 'funcname')) : undefined
    const pure = parts && pureFunction(parts)
    const args = call?.type === 'FuncCall' ? list(call.node, 'args').length : 0
    const defList = Array.isArray(defs) ? (defs as readonly unknown[]) : outerDefs
    const names =
      defList.length > 0
        ? defList.map((d) => str(unwrap(d)?.node ?? {}, 'colname') ?? '?column?')
        : pure !== undefined
          ? functionColumns(pure, args)
          : undefined
    if (names === undefined) {
      state.unknown = true
      return null
    }
    for (const name of names) out.push(colOf(name, acc))
  }
  if (node.ordinality === true) out.push(constCol('ordinality'))
  return out
}

function tableFuncCols(node: AstObject, env: Env, state: State): Cols {
  const acc = newAcc()
  collect(node.docexpr, env, state, acc)
  collect(node.rowexpr, env, state, acc)
  collect(node.namespaces, env, state, acc)
  // XMLTABLE parses its document and converts each column's value: either may fail (fallible.ts).
  const fails = judged(state)?.fails
  if (fails !== undefined) mergeAcc(fails, acc)
  return list(node, 'columns').map((c) => {
    const col = unwrap(c)?.node ?? {}
    const colAcc = newAcc()
    addCol(colAcc, colOf('', acc))
    collect(col.colexpr, env, state, colAcc)
    collect(col.coldefexpr, env, state, colAcc)
    if (fails !== undefined) mergeAcc(fails, colAcc)
    return colOf(str(col, 'colname') ?? '?column?', colAcc)
  })
}

/**
 * A join's columns, in PostgreSQL's order: the merged USING / NATURAL columns, then the rest of the
 * left side, then the rest of the right. Without an alias the relations inside stay nameable.
 */
function joinCols(
  node: AstObject,
  env: Env,
  state: State,
  level: Building,
  alias: {name: string | undefined; columns: string[]},
): Cols {
  const first = level.rels.length
  const left = fromItem(node.larg, env, state, level)
  const right = fromItem(node.rarg, env, state, level)
  let cols: Cols = null
  if (left !== null && right !== null) {
    const names =
      node.isNatural === true ? naturalNames(left, right) : (stringList(list(node, 'usingClause')) ?? [])
    const merged = names.map((n) => {
      const acc = newAcc()
      // USING and NATURAL compare the columns of that name on both sides.
      judgeMerged(
        left.find((c) => c.name === n),
        right.find((c) => c.name === n),
        state,
      )
      // The merged column is one side's value or (FULL JOIN) the other's: both are its sources.
      for (const side of [left, right]) {
        const col = side.find((c) => c.name === n)
        if (col) addCol(acc, col)
        else addRow(acc, side, state)
        if (!col) acc.opaque = true
      }
      return passedOn(n, acc)
    })
    const rest = (side: readonly Col[]): Col[] => side.filter((c) => !names.includes(c.name))
    cols = [...merged, ...rest(left), ...rest(right)]
  } else state.unknown = true
  // ON sees the join's two sides (and enclosing queries), not the FROM items before it.
  const sides: Level = {items: [left, right], rels: level.rels.slice(first), parent: level.parent}
  judgeCondition(node.quals, {level: sides, ctes: env.ctes}, state)
  if (alias.name === undefined) return rename(cols, alias.columns)
  // An aliased join hides the relations inside it.
  level.rels.splice(first)
  const renamed = rename(cols, alias.columns)
  level.rels.push({name: alias.name, schema: undefined, columns: renamed})
  return renamed
}

function naturalNames(left: readonly Col[], right: readonly Col[]): string[] {
  const rightNames = new Set(right.map((c) => c.name))
  return left.map((c) => c.name).filter((n) => rightNames.has(n))
}
