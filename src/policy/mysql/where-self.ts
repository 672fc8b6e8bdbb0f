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
  const column = outerColumn(left, target, false)
  const select = subquery(right)
  const inner = select === undefined ? undefined : plainScan(select, target)
  if (column === undefined || select === undefined || inner === undefined) return undefined
  return shownColumn(select, inner) === column ? {innerWhere: select.where} : undefined
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
  const columns = select.columns
  if (!Array.isArray(columns) || columns.length !== 1 || !isObj(columns[0])) return undefined
  const column = innerColumn(columns[0].expr, scan.ref, false)
  const as: unknown = columns[0].as
  if (column === undefined || !exposes(scan, column)) return undefined
  return as === null || as === undefined || (typeof as === 'string' && as.toLowerCase() === column)
    ? column
    : undefined
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
  const column = inner === undefined ? undefined : shownColumn(select, inner)
  return column === undefined ? undefined : {ref: as.toLowerCase(), only: column}
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
