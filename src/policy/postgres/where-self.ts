/**
 * A write's table matched against itself in its own WHERE: `id IN (SELECT id FROM t)`, `t.id = ANY
 * (SELECT x.id FROM t x)`, `EXISTS (SELECT 1 FROM t x WHERE x.id = t.id)` in a DELETE or UPDATE of t,
 * and `t.id = t2.id` with `USING t t2` (UPDATE: `FROM t t2`).
 * Each row finds itself, so such a test only drops the rows whose column is NULL: no restriction, as
 * `id = id` (where.ts). The subquery may keep a WHERE of its own; it counts only if that WHERE restricts
 * nothing either (the caller classifies it).
 */
import {type AstObject, columnRefFields, list, obj, str, stringList, unwrap} from './ast.js'
import {operatorName} from './where-terms.js'

/** The table an UPDATE, DELETE or INSERT writes, as its statement names it. */
export interface WriteTarget {
  readonly schema: string | undefined
  readonly name: string
  /** The name its columns are qualified with: the alias, else the table name. */
  readonly ref: string
  /** Without ONLY: the rows of inheriting tables are written too. */
  readonly inh: boolean
  /** USING (DELETE) or FROM (UPDATE) brings other tables: an unqualified column may be theirs. */
  readonly joins: boolean
  /**
   * The qualifier names of every scan of the same table that holds all the written rows: the target's own,
   * and those of USING/FROM (`DELETE FROM t USING t t2`).
   */
  readonly scans: ReadonlySet<string>
}

/** The write target of an UPDATE, DELETE or INSERT statement node; undefined when it has none. */
export function writeTarget(statement: AstObject, joins: string): WriteTarget | undefined {
  const rel = obj(statement, 'relation')
  const name = rel === undefined ? undefined : str(rel, 'relname')
  if (rel === undefined || name === undefined) return undefined
  const alias = obj(rel, 'alias')
  const target = {
    schema: str(rel, 'schemaname'),
    name,
    ref: (alias === undefined ? undefined : str(alias, 'aliasname')) ?? name,
    inh: rel.inh === true,
    joins: list(statement, joins).length > 0,
  }
  const scans = new Set([target.ref])
  for (const item of list(statement, joins)) {
    const other = unwrap(item)
    const ref = other?.type === 'RangeVar' ? sameTable(other.node, target) : undefined
    if (ref !== undefined) scans.add(ref)
  }
  return {...target, scans}
}

/**
 * `a.c = b.c` (or IS NOT DISTINCT FROM) over two scans of the written table (`DELETE FROM t USING t t2
 * WHERE t.id = t2.id`): true for the pair of a row with itself, so, as `c = c`, no restriction.
 */
export function selfJoinEquality(a: unknown, b: unknown, target: WriteTarget): boolean {
  const x = columnRefFields(a)
  const y = columnRefFields(b)
  if (x?.length !== 2 || y?.length !== 2 || x[0] === y[0] || x[1] !== y[1]) return false
  return target.scans.has(x[0] as string) && target.scans.has(y[0] as string)
}

/** What a self-match found: `undefined` for no match, else the subquery's own WHERE (if any). */
export type SelfMatch = undefined | {readonly innerWhere: unknown}

/** Matches a SubLink node against the write target. */
export function selfMatch(sublink: AstObject, target: WriteTarget): SelfMatch {
  const select = unwrap(sublink.subselect)
  if (select?.type !== 'SelectStmt') return undefined
  const inner = plainScan(select.node, target)
  if (inner === undefined) return undefined
  const kind = str(sublink, 'subLinkType')
  if (kind === 'ANY_SUBLINK') {
    const names = stringList(list(sublink, 'operName'))
    if (names !== undefined && names.length > 0 && (names.length > 1 || names[0] !== '=')) return undefined
    // One column, a row of columns (`(a, b) IN (SELECT a, b FROM t)`) or the whole row (`t IN (SELECT
    // x FROM t x)`), the same on both sides in the same order.
    const test = unwrap(sublink.testexpr)
    const outers = test?.type === 'RowExpr' ? list(test.node, 'args') : [sublink.testexpr]
    const items = list(select.node, 'targetList')
    if (outers.length === 0 || items.length !== outers.length) return undefined
    const same = outers.every((outer, i) => {
      const item = unwrap(items[i])
      if (item?.type !== 'ResTarget') return false
      if (wholeRow(outer, target.ref) && wholeRow(item.node.val, inner.ref)) return inner.only === undefined
      const column = outerColumn(outer, target)
      return (
        column !== undefined && innerColumn(item.node.val, inner.ref) === column && exposes(inner, column)
      )
    })
    return same ? {innerWhere: select.node.whereClause} : undefined
  }
  if (kind === 'EXISTS_SUBLINK') {
    // The subquery's WHERE is exactly the correlation `x.c = t.c` (either way round).
    const eq = unwrap(select.node.whereClause)
    if (eq?.type !== 'A_Expr' || str(eq.node, 'kind') !== 'AEXPR_OP' || operatorName(eq.node) !== '=')
      return undefined
    if (inner.ref === target.ref) return undefined
    const {lexpr, rexpr} = eq.node
    const a = innerColumn(lexpr, inner.ref, true)
    const b = outerColumn(rexpr, target, true)
    const c = innerColumn(rexpr, inner.ref, true)
    const d = outerColumn(lexpr, target, true)
    const column = a !== undefined && a === b ? a : c !== undefined && c === d ? c : undefined
    return column !== undefined && exposes(inner, column) ? {innerWhere: undefined} : undefined
  }
  return undefined
}

/**
 * `c = ANY (ARRAY(SELECT c FROM t))` and `c = ANY ((SELECT array_agg(c) FROM t)::int[])`, an A_Expr node:
 * matched as `c IN (SELECT c FROM t)`, which they are.
 */
export function selfMatchArray(expr: AstObject, target: WriteTarget): SelfMatch {
  if (str(expr, 'kind') !== 'AEXPR_OP_ANY' || operatorName(expr) !== '=') return undefined
  let array = unwrap(expr.rexpr)
  while (array?.type === 'TypeCast') array = unwrap(array.node.arg)
  const select = array?.type === 'SubLink' ? unwrap(array.node.subselect) : undefined
  if (array === undefined || select?.type !== 'SelectStmt') return undefined
  const kind = str(array.node, 'subLinkType')
  let query = select.node
  if (kind === 'EXPR_SUBLINK') {
    // (SELECT array_agg(c) FROM t): every c of t, as ARRAY(SELECT c FROM t).
    const items = list(query, 'targetList')
    const item = unwrap(items[0])
    const call = item?.type === 'ResTarget' ? unwrap(item.node.val) : undefined
    if (items.length !== 1 || call?.type !== 'FuncCall') return undefined
    const name = stringList(list(call.node, 'funcname'))
    const args = list(call.node, 'args')
    if (name === undefined || name.at(-1) !== 'array_agg' || name.length > 2) return undefined
    if (name.length === 2 && name[0] !== 'pg_catalog') return undefined
    if (args.length !== 1 || call.node.agg_filter !== undefined || call.node.over !== undefined)
      return undefined
    if (query.groupClause !== undefined) return undefined
    query = {...query, targetList: [{ResTarget: {val: args[0]}}]}
  } else if (kind !== 'ARRAY_SUBLINK') return undefined
  return selfMatch({subLinkType: 'ANY_SUBLINK', testexpr: expr.lexpr, subselect: {SelectStmt: query}}, target)
}

/** `*` or `ref.*`. */
function selectsStar(value: unknown, ref: string): boolean {
  const c = unwrap(value)
  if (c?.type !== 'ColumnRef') return false
  const fields = list(c.node, 'fields')
  if (unwrap(fields.at(-1))?.type !== 'A_Star') return false
  if (fields.length === 1) return true
  return fields.length === 2 && stringList(fields.slice(0, 1))?.[0] === ref
}

/** A reference to a scan's whole row: its qualifier name alone (`t`, not `t.c`). */
function wholeRow(value: unknown, ref: string): boolean {
  const fields = columnRefFields(value)
  return fields?.length === 1 && fields[0] === ref
}

/** A scan of every row of the target's table: its qualifier name, and the one column it shows if not all. */
interface Scan {
  readonly ref: string
  readonly only?: string | undefined
}

function exposes(scan: Scan, column: string): boolean {
  return scan.only === undefined || scan.only === column
}

/**
 * True when a query reads its rows from the target's table and drops none but by its own WHERE, which the
 * caller judges (`INSERT INTO t SELECT * FROM t ON CONFLICT ...` writes every row of t back).
 */
export function scansWhole(query: unknown, target: WriteTarget): boolean {
  const select = unwrap(query)
  return select?.type === 'SelectStmt' && plainScan(select.node, target) !== undefined
}

/** SELECT fields that may drop rows. */
const DROPS_ROWS = ['limitCount', 'limitOffset', 'havingClause', 'withClause', 'larg', 'rarg', 'valuesLists']

/**
 * `SELECT ... FROM <the target's table>` and nothing that drops rows (no LIMIT, OFFSET, HAVING, set
 * operation or CTE). ONLY inside with the inheriting tables written outside would miss their rows. The
 * table may come through a derived table showing one of its columns, `FROM (SELECT id FROM t) s`.
 */
function plainScan(select: AstObject, target: WriteTarget): Scan | undefined {
  if (DROPS_ROWS.some((key) => select[key] !== undefined)) return undefined
  if ((str(select, 'op') ?? 'SETOP_NONE') !== 'SETOP_NONE') return undefined
  const from = list(select, 'fromClause')
  const item = unwrap(from[0])
  if (from.length !== 1 || item === undefined) return undefined
  if (item.type === 'RangeVar') {
    const ref = sameTable(item.node, target)
    return ref === undefined ? undefined : {ref}
  }
  return item.type === 'RangeSubselect' ? derived(item.node, target) : undefined
}

/** `(SELECT c FROM <the target's table>) s` with no WHERE of its own: scan `s` showing column c. */
function derived(range: AstObject, target: WriteTarget): Scan | undefined {
  const alias = obj(range, 'alias')
  const ref = alias === undefined ? undefined : str(alias, 'aliasname')
  const select = unwrap(range.subquery)
  if (ref === undefined || alias?.colnames !== undefined || range.lateral === true) return undefined
  if (select?.type !== 'SelectStmt' || select.node.whereClause !== undefined) return undefined
  const inner = plainScan(select.node, target)
  const items = list(select.node, 'targetList')
  const only = unwrap(items[0])
  if (inner === undefined || items.length !== 1 || only?.type !== 'ResTarget') return undefined
  // `(SELECT * FROM t) s` shows every column.
  if (selectsStar(only.node.val, inner.ref) && only.node.name === undefined)
    return inner.only === undefined ? {ref} : undefined
  const column = innerColumn(only.node.val, inner.ref)
  const name = str(only.node, 'name')
  if (column === undefined || (name !== undefined && name !== column) || !exposes(inner, column))
    return undefined
  return {ref, only: column}
}

/** The qualifier name of a RangeVar that scans the target's table, all its written rows; else undefined. */
function sameTable(r: AstObject, target: Omit<WriteTarget, 'scans'>): string | undefined {
  // An unqualified name may resolve to the other's schema: reading it as the same table fails closed.
  const schema = str(r, 'schemaname')
  if (str(r, 'relname') !== target.name) return undefined
  if (schema !== undefined && target.schema !== undefined && schema !== target.schema) return undefined
  if (target.inh && r.inh !== true) return undefined
  const alias = obj(r, 'alias')
  return (alias === undefined ? undefined : str(alias, 'aliasname')) ?? target.name
}

/** The target's column that a column reference of its WHERE names (written as `fields`), if any. */
export function targetColumn(fields: readonly string[] | undefined, target: WriteTarget): string | undefined {
  if (fields?.length === 2 && fields[0] === target.ref) return fields[1]
  return fields?.length === 1 && !target.joins ? fields[0] : undefined
}

/** The column a reference names in the subquery's scope (qualified by `ref`, or bare unless `qualified`). */
function innerColumn(value: unknown, ref: string, qualified = false): string | undefined {
  const fields = columnRefFields(value)
  if (fields?.length === 2 && fields[0] === ref) return fields[1]
  return fields?.length === 1 && !qualified ? fields[0] : undefined
}

/** The target's column a reference outside the subquery names (bare only when no other table is joined). */
function outerColumn(value: unknown, target: WriteTarget, qualified = false): string | undefined {
  const fields = columnRefFields(value)
  return qualified && fields?.length !== 2 ? undefined : targetColumn(fields, target)
}
