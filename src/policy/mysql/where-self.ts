/**
 * A write's table matched against itself in its own WHERE: `id IN (SELECT id FROM t)`, `t.id = ANY
 * (SELECT x.id FROM t x)`, `EXISTS (SELECT 1 FROM t x WHERE x.id = t.id)` in a DELETE or UPDATE of t,
 * and `t1.id = t2.id` over `FROM t t1, t t2`.
 * Each row finds itself, so such a test only drops the rows whose column is NULL: no restriction, as
 * `id = id` (where.ts). The subquery may keep a WHERE of its own; it counts only if that WHERE restricts
 * nothing either (the caller judges it). The Postgres twin is src/policy/postgres/where-self.ts.
 */
import {isObj} from './walk.js'

type Node = Record<string, unknown>

/** The one table an UPDATE, DELETE, INSERT or REPLACE writes, as its statement names it. */
export interface WriteTarget {
  readonly db: string | null
  readonly name: string
  /** The name its columns are qualified with: the alias, else the table name (lower case). */
  readonly ref: string
}

/** The write target of a single-table UPDATE, DELETE, INSERT or REPLACE; undefined for joins and multi-table writes. */
export function writeTarget(ast: Node): WriteTarget | undefined {
  const tables = ast.type === 'delete' ? ast.from : ast.table
  if (!Array.isArray(tables) || tables.length !== 1) return undefined
  if (ast.type === 'delete' && (!Array.isArray(ast.table) || ast.table.length > 1)) return undefined
  return plainTable(tables[0])
}

function plainTable(entry: unknown): WriteTarget | undefined {
  if (!isObj(entry) || typeof entry.table !== 'string' || entry.join !== undefined) return undefined
  const name = entry.table.toLowerCase()
  const alias = typeof entry.as === 'string' ? entry.as.toLowerCase() : name
  return {db: typeof entry.db === 'string' ? entry.db.toLowerCase() : null, name, ref: alias}
}

/**
 * The tables a write reads beside one another without a join condition (`DELETE t1 FROM t t1, t t2`,
 * `UPDATE t a, t b`), by qualifier name. Joined entries (`JOIN ... ON`) are left out: their condition may
 * null-extend a side.
 */
export type Scans = ReadonlyMap<string, WriteTarget>

export function scansOf(ast: Node): Scans {
  const scans = new Map<string, WriteTarget>()
  const entries = ast.type === 'delete' ? ast.from : ast.table
  if (!Array.isArray(entries)) return scans
  for (const entry of entries) {
    const t = isObj(entry) && entry.on === undefined ? plainTable(entry) : undefined
    if (t !== undefined) scans.set(t.ref, t)
  }
  return scans
}

/**
 * `a.c = b.c` (or `<=>`) over two scans of one table (`DELETE t1 FROM t t1, t t2 WHERE t1.id = t2.id`):
 * true for the pair of a row with itself, so, as `c = c`, no restriction of whichever is written.
 */
export function selfJoinEquality(left: unknown, right: unknown, scans: Scans): boolean {
  const a = columnRef(left)
  const b = columnRef(right)
  if (a?.table == null || b?.table == null || a.table === b.table || a.column !== b.column) return false
  const x = scans.get(a.table)
  const y = scans.get(b.table)
  if (x === undefined || y === undefined || x.name !== y.name) return false
  return x.db === null || y.db === null || x.db === y.db
}

/** What a self-match found: `undefined` for no match, else the subquery's own WHERE (null: none). */
export type SelfMatch = undefined | {readonly innerWhere: unknown}

/** Matches `left IN (subquery)`, `left = ANY (subquery)` against the write target. */
export function selfIn(left: unknown, right: unknown, target: WriteTarget): SelfMatch {
  // One column, or a row of columns (`(a, b) IN (SELECT a, b FROM t)`, `ROW(a, b)`) in the same order.
  const outers = rowItems(left) ?? [left]
  const columns = outers.map((o) => outerColumn(o, target, false))
  const select = subquery(right)
  const inner = select === undefined ? undefined : plainScan(select, target)
  if (columns.includes(undefined) || select === undefined || inner === undefined) return undefined
  const shown = shownColumns(select, inner)
  return shown !== undefined && shown.join('\u0000') === columns.join('\u0000')
    ? {innerWhere: select.where}
    : undefined
}

/** The items of a row constructor, `(a, b)` or `ROW(a, b)`; undefined for anything else. */
function rowItems(node: unknown): readonly unknown[] | undefined {
  if (!isObj(node)) return undefined
  const items: unknown = node.value
  if (node.type === 'expr_list' && Array.isArray(items) && items.length > 1) return items as unknown[]
  const name: unknown = isObj(node.name) ? node.name.name : undefined
  const only: unknown = Array.isArray(name) && name.length === 1 ? name[0] : undefined
  if (node.type !== 'function' || !isObj(only) || String(only.value).toLowerCase() !== 'row') return undefined
  const args: unknown = isObj(node.args) ? node.args.value : undefined
  return Array.isArray(args) ? (args as unknown[]) : undefined
}

/** Matches `EXISTS (SELECT ... FROM t x WHERE x.c = t.c)` (either way round) against the write target. */
export function selfExists(args: unknown, target: WriteTarget): SelfMatch {
  const select = subquery(args)
  const inner = select === undefined ? undefined : plainScan(select, target)
  if (select === undefined || inner === undefined || inner.ref === target.ref) return undefined
  const eq = select.where
  if (!isObj(eq) || eq.type !== 'binary_expr' || eq.operator !== '=') return undefined
  const a = innerColumn(eq.left, inner.ref, true)
  const c = innerColumn(eq.right, inner.ref, true)
  const column =
    a !== undefined && a === outerColumn(eq.right, target, true)
      ? a
      : c !== undefined && c === outerColumn(eq.left, target, true)
        ? c
        : undefined
  return column !== undefined && exposes(inner, column) ? {innerWhere: null} : undefined
}

/** The one subquery of an expression list `(SELECT ...)`. */
function subquery(list: unknown): Node | undefined {
  const items = isObj(list) && Array.isArray(list.value) ? list.value : undefined
  const only: unknown = items?.length === 1 ? items[0] : undefined
  return isObj(only) && isObj(only.ast) && only.ast.type === 'select' ? only.ast : undefined
}

/** A scan of every row of the target's table: its qualifier name, and the one column it shows if not all. */
interface Scan {
  readonly ref: string
  readonly only?: string | undefined
}

function exposes(scan: Scan, column: string): boolean {
  return scan.only === undefined || scan.only === column
}

/** The one column a select over `scan` shows, under its own name; undefined for anything else. */
function shownColumn(select: Node, scan: Scan): string | undefined {
  const shown = shownColumns(select, scan)
  return shown?.length === 1 ? shown[0] : undefined
}

/** The columns a select over `scan` shows, each a column of it under its own name; undefined for anything else. */
function shownColumns(select: Node, scan: Scan): string[] | undefined {
  const columns = select.columns
  if (!Array.isArray(columns) || columns.length === 0) return undefined
  const shown: string[] = []
  for (const item of columns) {
    const column = isObj(item) ? innerColumn(item.expr, scan.ref, false) : undefined
    const as: unknown = isObj(item) ? item.as : undefined
    if (column === undefined || !exposes(scan, column)) return undefined
    if (as !== null && as !== undefined && !(typeof as === 'string' && as.toLowerCase() === column))
      return undefined
    shown.push(column)
  }
  return shown
}

/**
 * True when a query reads its rows from the target's table and drops none but by its own WHERE, which the
 * caller judges (`REPLACE INTO t SELECT id, NULL FROM t` writes every row of t back).
 */
export function scansWhole(select: unknown, target: WriteTarget): boolean {
  return isObj(select) && select.type === 'select' && plainScan(select, target) !== undefined
}

/**
 * `SELECT ... FROM <the target's table>` and nothing that drops rows (no LIMIT, HAVING, set operation or
 * CTE). A table named without a database may be the target's: it counts as the same (failing closed).
 * The table may come through a derived table showing one of its columns, `FROM (SELECT id FROM t) s`.
 */
function plainScan(select: Node, target: WriteTarget): Scan | undefined {
  if (select.having !== null && select.having !== undefined) return undefined
  if (select.with !== null && select.with !== undefined) return undefined
  if (select._next !== undefined || select.set_op !== undefined) return undefined
  const limit = select.limit
  if (isObj(limit) && Array.isArray(limit.value) && limit.value.length > 0) return undefined
  if (limit !== null && limit !== undefined && !isObj(limit)) return undefined
  const from = select.from
  const entry: unknown = Array.isArray(from) && from.length === 1 ? from[0] : undefined
  if (isObj(entry) && isObj(entry.expr) && isObj(entry.expr.ast))
    return derived(entry.expr.ast, entry.as, target)
  const table = plainTable(entry)
  if (table === undefined || table.name !== target.name) return undefined
  if (table.db !== null && target.db !== null && table.db !== target.db) return undefined
  return {ref: table.ref}
}

/** `(SELECT c FROM <the target's table>) AS s` with no WHERE of its own: scan `s` showing column c. */
function derived(select: Node, as: unknown, target: WriteTarget): Scan | undefined {
  if (
    typeof as !== 'string' ||
    select.type !== 'select' ||
    (select.where !== null && select.where !== undefined)
  )
    return undefined
  const inner = plainScan(select, target)
  if (inner === undefined) return undefined
  // `(SELECT * FROM t) s` shows every column.
  if (selectsStar(select, inner.ref)) return inner.only === undefined ? {ref: as.toLowerCase()} : undefined
  const column = shownColumn(select, inner)
  return column === undefined ? undefined : {ref: as.toLowerCase(), only: column}
}

/** `SELECT *` or `SELECT ref.*` alone. */
function selectsStar(select: Node, ref: string): boolean {
  const columns = select.columns
  const only: unknown = Array.isArray(columns) && columns.length === 1 ? columns[0] : undefined
  const expr = isObj(only) ? only.expr : undefined
  if (!isObj(expr) || expr.type !== 'column_ref' || expr.column !== '*') return false
  return expr.table === null || (typeof expr.table === 'string' && expr.table.toLowerCase() === ref)
}

/** The column a reference names in the subquery's scope (qualified by `ref`, or bare unless `qualified`). */
function innerColumn(node: unknown, ref: string, qualified: boolean): string | undefined {
  const c = columnRef(node)
  if (c === undefined) return undefined
  return c.table === ref || (c.table === null && !qualified) ? c.column : undefined
}

/** The target's column a reference outside the subquery names (bare unless `qualified`). */
function outerColumn(node: unknown, target: WriteTarget, qualified: boolean): string | undefined {
  const c = columnRef(node)
  if (c === undefined) return undefined
  return c.table === target.ref || (c.table === null && !qualified) ? c.column : undefined
}

/** The target's column that a column reference of its WHERE names, if any. */
export function targetColumn(node: unknown, target: WriteTarget): string | undefined {
  return outerColumn(node, target, false)
}

function columnRef(node: unknown): {table: string | null; column: string} | undefined {
  if (!isObj(node) || node.type !== 'column_ref') return undefined
  const raw = node.column
  const column = typeof raw === 'string' ? raw : isObj(raw) && isObj(raw.expr) ? raw.expr.value : undefined
  if (typeof column !== 'string' || column === '*') return undefined
  const table = typeof node.table === 'string' ? node.table.toLowerCase() : null
  return {table, column: column.toLowerCase()}
}
