/**
 * Lineage of a MySQL query over node-sql-parser's AST: FROM items (tables, views expanded from their
 * definitions, derived tables, CTEs) expose columns; each output expression's sources are every
 * column it mentions, through functions, CASE, casts and scalar subqueries. What cannot be followed
 * (a user variable, a stored function, a table of unknown columns under `*`) is opaque.
 */
import {isObj} from '../mysql/walk.js'
import {compareColumns, judged} from './decides.js'
import {
  accOf,
  addCol,
  addRow,
  colOf,
  mergeAcc,
  newAcc,
  passedOn,
  rename,
  unionCols,
  wholeAcc,
  type Acc,
  type Col,
  type Cols,
  type State,
} from './model.js'
import type {CatalogView} from './types.js'
import {pureMysqlFunction, safeMysqlArgument} from './mysql-functions.js'

/** A relation visible in a FROM clause. */
interface MRel {
  /** Alias or table name, lower-case. */
  readonly name: string
  readonly columns: Cols
  /** `schema.table` of a base table whose columns are unknown: a named column is `schema.table.col`. */
  readonly byName: string | undefined
}

/** One query level: its relations, and the enclosing level for correlated references. */
interface MLevel {
  readonly rels: readonly MRel[]
  readonly parent: MLevel | undefined
}

/** A CTE in scope. */
interface MCte {
  readonly name: string
  readonly columns: Cols
  readonly parent: MCte | undefined
}

/** Where a query is read. */
interface MEnv {
  readonly level: MLevel | undefined
  readonly ctes: MCte | undefined
}

/** The catalog as MySQL lineage reads it. */
export interface MysqlCatalogView extends CatalogView {
  /**
   * True when a relation whose columns are unknown is known not to be a view, so a column of it can
   * be named `schema.table.column` (a temporary table; inside a view: a table the view names).
   */
  notView?(schema: string, table: string, inView: boolean): boolean
  /** True once the session set a system variable from a value it read (`SET @@x = @v`). */
  readonly systemVariablesCopied?: boolean
}

/** What MySQL lineage collects per statement besides State. */
export type MysqlState = State & {
  readonly catalog: MysqlCatalogView
  /** Set when the statement calls stored code lineage cannot see into (see `storedCall`). */
  runsCode: boolean
  /**
   * Schema and table names keep their case (MySQL's lower_case_table_names=0: `Users` and `users`
   * are two tables); otherwise they are lower-cased. Column names compare case-insensitively always.
   */
  readonly exactNames?: boolean
  /** System variables may hold a value the session read (set by it, or earlier in the query). */
  readonly systemVariablesCopied?: boolean
  /** Set when a `?` decides which rows the statement returns (MysqlStatementLineage.placeholdersDecide). */
  placeholders?: boolean
}

/** Parses a view definition (injected: the parser lives with the analyzer). */
export type ParseView = (sql: string) => unknown

/** Tables whose rows hold copies of column values (statistics, traces): never followed. */
const VALUE_STATS = new Set([
  'mysql.column_stats',
  'information_schema.column_statistics',
  // The trace of the last statement shows the values of const tables it read.
  'information_schema.optimizer_trace',
])

const MAX_VIEW_DEPTH = 8

/** An identifier node (`"x"` or `{value: "x"}`), lower-cased; null when absent. */
export function ident(v: unknown): string | null {
  if (typeof v === 'string') return v.toLowerCase()
  if (isObj(v) && typeof v.value === 'string') return v.value.toLowerCase()
  return null
}

/** An identifier node as written (MySQL compares table names by case under lower_case_table_names=0). */
export function exactIdent(v: unknown): string | null {
  if (typeof v === 'string') return v
  if (isObj(v) && typeof v.value === 'string') return v.value
  return null
}

const col = (name: string, acc: Acc): Col => colOf(name, acc)

/** The lineage walker of one statement. */
export class MysqlQueryLineage {
  /** The schema unqualified names resolve in (a view's own while its definition is read). */
  private schema: string

  constructor(
    private readonly state: MysqlState,
    private readonly parseView: ParseView,
  ) {
    this.schema = state.schema
  }

  /** Output columns of a SELECT (with its UNION branches). */
  select(node: Record<string, unknown>, env: MEnv, depth = 0): Cols {
    if (depth > 64) throw new RangeError('query nested too deeply')
    const branches: Cols[] = []
    let cur: Record<string, unknown> | undefined = node
    let scope = env
    // WITH applies to the whole set operation.
    if (Array.isArray(node.with)) scope = this.ctes(node.with as unknown[], env, depth)
    let compares = false
    let distinct = false
    let last: Record<string, unknown> = node
    while (cur !== undefined) {
      const next: Record<string, unknown> | undefined = isObj(cur._next) ? cur._next : undefined
      // A set operation's ORDER BY (parsed into its last branch) sorts the whole: judged below.
      branches.push(this.oneSelect(cur, scope, depth, next !== undefined || cur === node))
      const op = String(cur.set_op).toLowerCase()
      // INTERSECT and EXCEPT keep the rows of one branch the other holds: they compare every column.
      if (next !== undefined && !op.startsWith('union')) compares = true
      // UNION [DISTINCT] removes duplicates.
      if (next !== undefined && op !== 'union all') distinct = true
      last = cur
      cur = next
    }
    if (compares) for (const b of branches) this.decidesRow(b)
    if (branches.length === 1) return branches[0] ?? null
    const cols = unionCols(branches)
    if (distinct) this.sortedBy(cols)
    this.order(keysOf(last.orderby), {level: undefined, ctes: scope.ctes}, cols, depth)
    return cols
  }

  private ctes(list: readonly unknown[], env: MEnv, depth: number): MEnv {
    let ctes = env.ctes
    for (const c of list) {
      if (!isObj(c)) continue
      const name = ident(c.name) ?? ''
      const stmt = isObj(c.stmt) && isObj(c.stmt.ast) ? c.stmt.ast : undefined
      const names = Array.isArray(c.columns) ? c.columns.map((x) => ident(isObj(x) ? x.column : x) ?? '') : []
      let columns: Cols = null
      if (stmt !== undefined) {
        // A recursive CTE's own rows are unknown on the first pass: opaque, like anything unknown.
        const self: MCte | undefined = c.recursive === true ? {name, columns: null, parent: ctes} : ctes
        columns = rename(this.select(stmt, {level: env.level, ctes: self}, depth + 1), names)
      } else this.state.unknown = true
      ctes = {name, columns, parent: ctes}
    }
    return {level: env.level, ctes}
  }

  private oneSelect(node: Record<string, unknown>, env: MEnv, depth: number, ordered = true): Cols {
    if (node.type !== 'select') {
      this.state.unknown = true
      return null
    }
    const rels: MRel[] = []
    for (const item of Array.isArray(node.from) ? node.from : []) rels.push(this.fromItem(item, env, depth))
    const level: MLevel = {rels, parent: env.level}
    const inner: MEnv = {level, ctes: env.ctes}
    for (const item of Array.isArray(node.from) ? node.from : []) {
      if (!isObj(item)) continue
      this.condition(item.on, inner, depth)
      // USING compares the columns of that name on both sides.
      for (const u of Array.isArray(item.using) ? item.using : [])
        this.using(ident(isObj(u) ? u.value : u), rels)
    }
    this.condition(node.where, inner, depth)
    if (mentionsPlaceholder(node.limit, 0)) this.state.placeholders = true
    const out: Col[] = []
    for (const c of Array.isArray(node.columns) ? node.columns : []) {
      if (!isObj(c)) return null
      const expr = c.expr
      if (isObj(expr) && expr.type === 'column_ref' && expr.column === '*') {
        const star = this.star(ident(expr.table), rels)
        if (star === null) return null
        out.push(...star)
        continue
      }
      const acc = newAcc()
      this.expr(expr, inner, acc, depth)
      const label = ident(c.as) ?? (isObj(expr) && expr.type === 'column_ref' ? ident(expr.column) : null)
      out.push(bareColumn(expr) ? passedOn(label ?? '', acc) : col(label ?? '', acc))
    }
    // HAVING also sees the select list's aliases.
    const withAliases: MLevel = {
      rels: [...rels, {name: '', columns: out, byName: undefined}],
      parent: env.level,
    }
    this.condition(node.having, {level: withAliases, ctes: env.ctes}, depth)
    // What the rows are sorted by: MariaDB sorts GROUP BY's groups, and DISTINCT may sort.
    if (ordered) this.order(keysOf(node.orderby), inner, out, depth)
    const groups: unknown = isObj(node.groupby) ? node.groupby.columns : undefined
    this.order(Array.isArray(groups) ? groups : [], inner, out, depth)
    if (node.distinct !== null && node.distinct !== undefined) this.sortedBy(out)
    for (const w of isObj(node.window) && Array.isArray(node.window.expr) ? node.window.expr : [])
      this.window(isObj(w) ? w.as_window_specification : undefined, inner, depth)
    return out
  }

  /**
   * Keys rows are sorted by, into `decides.order` (see `ORDER`): `ORDER BY 2` is the second output
   * column, a bare name an output column's alias first (MySQL reads the select list's names before the
   * FROM clause's).
   */
  private order(keys: readonly unknown[], env: MEnv, outputs: Cols, depth: number): void {
    const d = judged(this.state)
    if (d === undefined) return
    for (const v of keys) {
      if (isObj(v) && v.type === 'number' && typeof v.value === 'number') {
        const col = outputs?.[v.value - 1]
        addRow(d.order, col === undefined ? null : [col], this.state)
        continue
      }
      const name = isObj(v) && v.type === 'column_ref' && v.table === null ? ident(v.column) : null
      const named = name === null ? [] : (outputs?.filter((c) => c.name === name) ?? [])
      if (named.length > 0) addRow(d.order, named, this.state)
      else this.expr(v, env, d.order, depth)
    }
  }

  /** A window's PARTITION BY and ORDER BY (`OVER (...)`, or a WINDOW clause's); a name is judged there. */
  private window(spec: unknown, env: MEnv, depth: number): void {
    const s = isObj(spec) && isObj(spec.window_specification) ? spec.window_specification : undefined
    if (s !== undefined) this.order([...keysOf(s.partitionby), ...keysOf(s.orderby)], env, null, depth)
  }

  /** Rows deduplicated (DISTINCT, UNION): sorted by every output column. */
  private sortedBy(cols: Cols): void {
    const d = judged(this.state)
    if (d !== undefined) addRow(d.order, cols, this.state)
  }

  /**
   * Judges a condition (see conditions.ts, the Postgres walker's): a bare column compared by =, <>,
   * IN or IS [NOT] NULL with supplied values is a lookup; what else it computes joins `state.decides`.
   * A view's own conditions are its definer's.
   */
  private condition(v: unknown, env: MEnv, depth: number): void {
    const decides = judged(this.state)
    if (decides === undefined || !isObj(v)) return
    if (depth > 500) throw new RangeError('expression nested too deeply')
    const op = typeof v.operator === 'string' ? v.operator.toUpperCase() : ''
    if (v.type === 'binary_expr' && CONNECTIVES.has(op)) {
      this.condition(v.left, env, depth + 1)
      this.condition(v.right, env, depth + 1)
      return
    }
    if (v.type === 'unary_expr' && (op === 'NOT' || op === '!')) return this.condition(v.expr, env, depth + 1)
    if (v.type === 'binary_expr' && this.lookup(op, v.left, v.right, env, depth)) return
    // Two columns compared by equality, or a column IN (SELECT one column): judged as copies each way.
    const other =
      v.type === 'binary_expr' && EQUALITY.has(op) && bareColumn(v.left) ? comparedWith(v.right) : undefined
    if (other !== undefined) {
      const left = newAcc()
      const right = newAcc()
      this.expr(v.left, env, left, depth)
      if (other === 'column') this.expr(v.right, env, right, depth)
      else {
        const cols = this.select(other, env, depth + 1)
        if (cols?.length === 1 && cols[0] !== undefined) addCol(right, cols[0])
        else right.opaque = true
      }
      return compareColumns(decides, left, right)
    }
    // EXISTS says whether a row matched: its subquery's own conditions are judged as it is read.
    if (v.type === 'function' && functionName(v.name) === 'exists') return this.expr(v, env, newAcc(), depth)
    if (mentionsPlaceholder(v, 0)) this.state.placeholders = true
    this.expr(v, env, decides.acc, depth)
  }

  /**
   * A lookup: a whole column (model.ts, Col.whole) compared by equality with supplied values (IS: with
   * NULL).
   */
  private lookup(op: string, left: unknown, right: unknown, env: MEnv, depth: number): boolean {
    if (!EQUALITY.has(op)) return false
    const whole = (v: unknown): boolean => this.wholeColumn(v, env, depth)
    if (op === 'IS' || op === 'IS NOT') return isObj(right) && right.type === 'null' && whole(left)
    return (
      (supplied(right) && whole(left)) || (op !== 'IN' && op !== 'NOT IN' && supplied(left) && whole(right))
    )
  }

  /**
   * A CASE chooses which result it computes by its conditions, and a result that raises an error or a
   * warning (`CASE WHEN ASCII(email) > 100 THEN (SELECT 1 UNION SELECT 2) END`) shows which: each WHEN is
   * judged as a condition (a simple `CASE x WHEN v` compares `x = v`).
   */
  private caseConditions(v: Record<string, unknown>, env: MEnv, depth: number): void {
    const d = judged(this.state)
    if (d === undefined) return
    for (const w of Array.isArray(v.args) ? v.args : []) {
      if (!isObj(w) || w.type !== 'when') continue
      if (v.expr === null || v.expr === undefined) this.condition(w.cond, env, depth + 1)
      else if (!this.lookup('=', v.expr, w.cond, env, depth)) {
        this.expr(v.expr, env, d.acc, depth + 1)
        this.expr(w.cond, env, d.acc, depth + 1)
      }
    }
  }

  /** A bare column that holds a stored column's value unchanged (model.ts, Col.whole). */
  private wholeColumn(v: unknown, env: MEnv, depth: number): boolean {
    if (!bareColumn(v)) return false
    const acc = newAcc()
    this.expr(v, env, acc, depth)
    return wholeAcc(acc)
  }

  /** `JOIN ... USING (name)`: the columns of that name are compared with each other. */
  private using(name: string | null, rels: readonly MRel[]): void {
    const d = judged(this.state)
    if (d === undefined) return
    const named = rels.flatMap((r) => r.columns?.filter((c) => c.name === name) ?? [])
    const [first, ...others] = named
    if (first === undefined || others.length === 0) {
      d.acc.opaque = true
      return
    }
    for (const c of others) compareColumns(d, accOf(first), accOf(c))
  }

  /** Every column of rows compared whole (INTERSECT, EXCEPT) decides. */
  private decidesRow(cols: Cols): void {
    const d = judged(this.state)
    if (d !== undefined) addRow(d.acc, cols, this.state)
  }

  /** `*` or `t.*`: the columns of every relation, or of one; null when some are unknown. */
  private star(table: string | null, rels: readonly MRel[]): Cols {
    const picked = table === null ? rels : rels.filter((r) => r.name === table)
    if (picked.length === 0) return null
    const out: Col[] = []
    for (const r of picked) {
      if (r.columns === null) {
        this.state.unknown = true
        return null
      }
      out.push(...r.columns)
    }
    return out
  }

  private fromItem(item: unknown, env: MEnv, depth: number): MRel {
    if (!isObj(item)) return {name: '', columns: null, byName: undefined}
    const alias = ident(item.as)
    if (isObj(item.expr) && isObj(item.expr.ast)) {
      const cols = this.select(item.expr.ast, {level: undefined, ctes: env.ctes}, depth + 1)
      return {name: alias ?? '', columns: cols, byName: undefined}
    }
    const table = ident(item.table)
    const exact = this.state.exactNames === true
    if (table === null) {
      // A table function (JSON_TABLE) or something else the walker does not know.
      this.state.unknown = true
      return {name: alias ?? '', columns: null, byName: undefined}
    }
    const db = exact ? exactIdent(item.db) : ident(item.db)
    if (db === null) {
      for (let c = env.ctes; c; c = c.parent)
        if (c.name === table) return {name: alias ?? table, columns: c.columns, byName: undefined}
    }
    const schema = db ?? this.schema
    return {name: alias ?? table, ...this.relation(schema, exact ? (exactIdent(item.table) ?? table) : table)}
  }

  /** A catalog relation: a view's columns from its definition, a table's from the catalog. */
  private relation(schema: string, table: string): {columns: Cols; byName: string | undefined} {
    const key = `${schema}.${table}`
    if (VALUE_STATS.has(key)) {
      this.state.unknown = true
      return {columns: null, byName: undefined}
    }
    const def = this.state.catalog.viewDefinition?.(schema, table)
    if (def !== undefined) return {columns: this.view(schema, def), byName: undefined}
    const names = this.state.catalog.columns(schema, table)
    if (names === undefined) {
      this.state.unknown = true
      // Only a name the catalog looked up and did not find (a temporary table) is read column by
      // column by name; one not looked up yet may be a view over anything.
      const named = this.state.catalog.notView?.(schema, table, this.state.viewDepth > 0) === true
      return {columns: null, byName: named ? key : undefined}
    }
    const columns = names.map((n): Col => {
      const source = `${key}.${n}`
      this.state.reads.add(source)
      // A generated column holds what its expression computes from the table's other columns.
      const from = this.state.catalog.generatedFrom?.(schema, table, n)
      const sources = new Set([source, ...(from ?? []).map((c) => `${key}.${c}`)])
      return {name: n.toLowerCase(), sources, opaque: from === null, whole: from === undefined}
    })
    return {columns, byName: undefined}
  }

  private view(schema: string, def: string): Cols {
    if (this.state.viewDepth >= MAX_VIEW_DEPTH) {
      this.state.unknown = true
      return null
    }
    const ast = this.parseView(def)
    if (!isObj(ast) || ast.type !== 'select') {
      this.state.unknown = true
      return null
    }
    this.state.viewDepth++
    const saved = this.schema
    try {
      // Names inside a view resolve in the view's schema.
      this.schema = schema
      return this.select(ast, {level: undefined, ctes: undefined})
    } finally {
      this.schema = saved
      this.state.viewDepth--
    }
  }

  /** Adds an expression's sources to `acc`. */
  expr(v: unknown, env: MEnv, acc: Acc, depth: number): void {
    if (depth > 500) throw new RangeError('expression nested too deeply')
    if (Array.isArray(v)) {
      for (const x of v) this.expr(x, env, acc, depth + 1)
      return
    }
    if (!isObj(v)) return
    if (isObj(v.ast)) {
      // A subquery: every column it outputs (its WHERE only filters).
      const cols = this.select(v.ast, env, depth + 1)
      addRow(acc, cols, this.state)
      return
    }
    // What a computation that can fail or warn for some inputs reads is judged (fallible.ts).
    const fails = judged(this.state)?.fails
    switch (v.type) {
      case 'column_ref':
        return this.columnRef(v, env, acc)
      case 'var':
        // A user variable can hold anything an earlier statement put there; a system variable only
        // once the session set one from such a value.
        if (v.prefix !== '@@' || this.state.systemVariablesCopied === true) {
          acc.opaque = true
          this.state.unknown = true
        }
        return
      case 'case':
        this.caseConditions(v, env, depth)
        break
      case 'binary_expr':
        if (fails !== undefined) return this.operands(v, env, acc, fails, depth)
        break
      case 'unary_expr':
        // NOT of a comparison reads a number; of a string (`NOT email`, `-email`) converts it.
        if (fails !== undefined && !(LOGICAL.has(String(v.operator).toUpperCase()) && truthValue(v.expr)))
          return this.failing(v.expr, env, acc, fails, depth)
        break
      case 'cast':
        if (fails !== undefined && !textCast(v)) return this.failing(v.expr, env, acc, fails, depth)
        break
      case 'function':
      case 'aggr_func': {
        // A window sorts the rows it returns.
        if (isObj(v.over)) this.window(v.over.as_window_specification, env, depth)
        const name = functionName(v.name)
        // IF(cond, a, b) chooses a result by its condition, as CASE does.
        const args = isObj(v.args) && Array.isArray(v.args.value) ? (v.args.value as unknown[]) : []
        if (name === 'if') this.condition(args[0], env, depth + 1)
        if (storedCall(v.name)) this.state.runsCode = true
        // LAST_INSERT_ID() returns what LAST_INSERT_ID(expr) kept, once the session kept a copied value.
        const kept = name === 'last_insert_id' && this.state.systemVariablesCopied === true
        if (name === null || !pureMysqlFunction(name) || kept) {
          acc.opaque = true
          this.state.unknown = true
        }
        if (fails !== undefined) return this.call(v, name, env, acc, fails, depth)
        break
      }
      default:
        if (fails !== undefined && typeof v.type === 'string' && !TOTAL_NODES.has(v.type))
          return this.failing(v, env, acc, fails, depth, true)
    }
    this.children(v, env, acc, depth)
  }

  /** Adds the sources of every part of `v` but its name and those in `skip`. */
  private children(
    v: Record<string, unknown>,
    env: MEnv,
    acc: Acc,
    depth: number,
    skip: readonly string[] = [],
  ): void {
    for (const [k, child] of Object.entries(v))
      if (k !== 'loc' && k !== 'name' && !skip.includes(k)) this.expr(child, env, acc, depth + 1)
  }

  /**
   * Adds what `v` computes from to `acc` and to the statement's `fails` (fallible.ts): a computation that
   * can fail or warn for some inputs computes from it. `fields`: `v` is such a node, all its parts.
   */
  private failing(v: unknown, env: MEnv, acc: Acc, fails: Acc, depth: number, fields = false): void {
    const part = newAcc()
    if (fields && isObj(v)) this.children(v, env, part, depth)
    else this.expr(v, env, part, depth + 1)
    mergeAcc(acc, part)
    mergeAcc(fails, part)
  }

  /**
   * Operands of a binary operator. Arithmetic converts strings and can overflow; a comparison converts a
   * string compared with anything but a string (`ssn > 219` warns for each value not all digits); AND,
   * OR and XOR read their operands as numbers; REGEXP compiles its pattern. LIKE and comparisons with a
   * quoted string cannot fail.
   */
  private operands(v: Record<string, unknown>, env: MEnv, acc: Acc, fails: Acc, depth: number): void {
    const [leftSafe, rightSafe] = safeOperands(String(v.operator).toUpperCase(), v.left, v.right)
    const side = (x: unknown, safe: boolean): void =>
      safe ? this.expr(x, env, acc, depth + 1) : this.failing(x, env, acc, fails, depth)
    side(v.left, leftSafe)
    side(v.right, rightSafe)
  }

  /** A built-in's arguments, each judged unless it cannot make the call fail or warn (mysql-functions.ts). */
  private call(
    v: Record<string, unknown>,
    name: string | null,
    env: MEnv,
    acc: Acc,
    fails: Acc,
    depth: number,
  ): void {
    const args = isObj(v.args) ? v.args : undefined
    const list = Array.isArray(args?.value)
      ? (args.value as unknown[])
      : args?.expr !== undefined
        ? [args.expr]
        : []
    list.forEach((arg, i) => {
      // `NOT (x)` parses as a call: it reads a truth value, as the operator does.
      if (name === 'not' ? truthValue(arg) : safeMysqlArgument(name, i, list))
        this.expr(arg, env, acc, depth + 1)
      else this.failing(arg, env, acc, fails, depth)
    })
    // The rest (an aggregate's ORDER BY and SEPARATOR, the window) computes nothing that fails by itself.
    if (args !== undefined) this.children(args, env, acc, depth, ['value', 'expr'])
    this.children(v, env, acc, depth, ['args'])
  }

  private columnRef(v: Record<string, unknown>, env: MEnv, acc: Acc): void {
    const name = ident(v.column)
    if (name === null || name === '*') {
      // `count(t.*)`-like forms: every column of what is in scope.
      for (let l = env.level; l; l = l.parent) for (const r of l.rels) this.addRel(acc, r)
      return
    }
    const table = ident(v.table)
    for (let l = env.level; l; l = l.parent) {
      const candidates = table === null ? l.rels : l.rels.filter((r) => r.name === table)
      const hits: Col[] = []
      let unknown = false
      for (const r of candidates) {
        const c = r.columns?.find((x) => x.name === name)
        if (c !== undefined) hits.push(c)
        else if (r.columns === null) {
          unknown = true
          // A temporary table's column, by name: not whole (it may hold what its copy computed).
          if (r.byName !== undefined) {
            acc.sources.add(`${r.byName}.${name}`)
            acc.partial = true
          } else acc.opaque = true
        }
      }
      for (const h of hits) addCol(acc, h)
      if (hits.length > 0 || unknown) return
      if (table !== null && candidates.length > 0) {
        // The relation is known but has no such column: lineage is wrong somewhere.
        acc.opaque = true
        return
      }
    }
    // Not found anywhere (an alias of the select list in HAVING, or a stale catalog).
    acc.opaque = true
  }

  private addRel(acc: Acc, r: MRel): void {
    if (r.columns === null) acc.opaque = true
    else addRow(acc, r.columns, this.state)
  }
}

/** Operators that join conditions. */
const CONNECTIVES = new Set(['AND', 'OR', 'XOR', '&&'])

/** Operators that compare a value whole; IS only with NULL. */
const EQUALITY = new Set(['=', '!=', '<>', 'IN', 'NOT IN', 'IS', 'IS NOT'])

/**
 * Node types of values the client supplies (`?` is an `origin`). Not variables: `@v` may hold what the
 * session read from a masked column, and a column compared with it would show it. Not numbers (nor
 * TRUE, FALSE): MySQL compares a string column with a number as a number, read from the string's
 * leading digits, so `ssn = 219` matches '219-09-9999' and `ssn IN (100, ..., 599)` searches them.
 */
const SUPPLIED = new Set([
  'single_quote_string',
  'double_quote_string',
  'natural_string',
  'hex_string',
  'full_hex_string',
  'bit_string',
  'null',
  'param',
])

/** Comparison operators: they convert a string compared with a number (fallible.ts). */
const COMPARISONS = new Set([
  '=',
  '!=',
  '<>',
  '<',
  '>',
  '<=',
  '>=',
  '<=>',
  'IN',
  'NOT IN',
  'IS',
  'IS NOT',
  'BETWEEN',
  'NOT BETWEEN',
])

/** LIKE compares as strings, and an invalid escape is no error: it cannot fail. */
const LIKES = new Set(['LIKE', 'NOT LIKE'])

/** Operators whose right operand is a regular expression, which may not compile. */
const REGEXPS = new Set(['REGEXP', 'NOT REGEXP', 'RLIKE', 'NOT RLIKE'])

/** Unary operators that read a truth value. */
const LOGICAL = new Set(['NOT', '!'])

/**
 * Expression kinds that cannot fail or warn by themselves (their parts are judged on their own); any
 * other kind (INTERVAL, EXTRACT, MATCH ... AGAINST, anything newer) is judged whole.
 */
const TOTAL_NODES = new Set([
  ...SUPPLIED,
  'column_ref',
  'case',
  'when',
  'else',
  'expr_list',
  'star',
  'number',
  'bool',
  'origin',
  'default',
])

/** Which operands of binary operator `op` cannot make it fail or warn (see `operands`). */
function safeOperands(op: string, left: unknown, right: unknown): [boolean, boolean] {
  if (LIKES.has(op)) return [true, true]
  if (REGEXPS.has(op)) return [true, false]
  if (CONNECTIVES.has(op)) return [truthValue(left), truthValue(right)]
  if (COMPARISONS.has(op)) return [quoted(right), quoted(left)]
  return [false, false]
}

/** A quoted string, NULL, or a list of them: what a string is compared with without converting it. */
function quoted(v: unknown): boolean {
  if (!isObj(v)) return false
  if (v.type === 'expr_list') return Array.isArray(v.value) && v.value.every(quoted)
  return typeof v.type === 'string' && SUPPLIED.has(v.type) && v.type !== 'param'
}

/** A comparison, a connective or NOT of one: a truth value, which AND, OR and NOT read without converting. */
function truthValue(v: unknown): boolean {
  if (!isObj(v)) return false
  const op = typeof v.operator === 'string' ? v.operator.toUpperCase() : ''
  if (v.type === 'binary_expr')
    return COMPARISONS.has(op) || CONNECTIVES.has(op) || LIKES.has(op) || REGEXPS.has(op)
  if (v.type === 'unary_expr') return LOGICAL.has(op) && truthValue(v.expr)
  if (v.type === 'function' && functionName(v.name) === 'not')
    return isObj(v.args) && Array.isArray(v.args.value) && v.args.value.every(truthValue)
  return v.type === 'bool' || (v.type === 'function' && functionName(v.name) === 'exists')
}

/** `CAST(x AS CHAR)` without a length (with one, a longer value is cut with a warning). */
function textCast(v: Record<string, unknown>): boolean {
  const target: unknown = Array.isArray(v.target) && v.target.length === 1 ? v.target[0] : undefined
  return isObj(target) && String(target.dataType).toUpperCase() === 'CHAR' && target.length === undefined
}

/** Whether a `?` placeholder appears in an expression (not inside its subqueries, which judge their own). */
function mentionsPlaceholder(v: unknown, depth: number): boolean {
  if (depth > 500 || (!Array.isArray(v) && !isObj(v))) return false
  if (Array.isArray(v)) return v.some((x) => mentionsPlaceholder(x, depth + 1))
  if (v.type === 'origin' && v.value === '?') return true
  if (isObj(v.ast)) return false
  return Object.entries(v).some(([k, x]) => k !== 'loc' && mentionsPlaceholder(x, depth + 1))
}

/** The expressions of an ORDER BY or PARTITION BY list (`{expr, type}` items). */
function keysOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v.map((k: unknown) => (isObj(k) ? k.expr : undefined)) : []
}

/** What a column is compared with when it is a column, or the query of `IN (SELECT ...)`, `= ANY (SELECT ...)`. */
function comparedWith(v: unknown): 'column' | Record<string, unknown> | undefined {
  if (bareColumn(v)) return 'column'
  // `= ANY (subquery)`, `= SOME (subquery)`: the parser reads a call of its list.
  if (isObj(v) && v.type === 'function' && /^(any|some)$/.test(functionName(v.name) ?? '')) v = v.args
  if (!isObj(v) || v.type !== 'expr_list' || !Array.isArray(v.value) || v.value.length !== 1) return undefined
  const only: unknown = v.value[0]
  return isObj(only) && isObj(only.ast) ? only.ast : undefined
}

function bareColumn(v: unknown): boolean {
  return isObj(v) && v.type === 'column_ref' && v.column !== '*'
}

function supplied(v: unknown): boolean {
  if (!isObj(v)) return false
  if (v.type === 'expr_list') return Array.isArray(v.value) && v.value.every(supplied)
  if (v.type === 'origin') return v.value === '?'
  return typeof v.type === 'string' && SUPPLIED.has(v.type)
}

/** The name of a function node, lower-case; null when it has no plain name. */
/**
 * A call that is certainly a stored function: schema-qualified (built-ins cannot be), or a quoted name
 * (the server writes view definitions with stored functions quoted and built-ins bare). Unquoted
 * unqualified names are looked up by the proxy (src/proxy/mysql/mask-code.ts).
 */
function storedCall(n: unknown): boolean {
  if (!isObj(n)) return false
  if (n.schema !== undefined && n.schema !== null) return true
  return Array.isArray(n.name) && n.name.some((p) => isObj(p) && p.type === 'backticks_quote_string')
}

function functionName(n: unknown): string | null {
  if (typeof n === 'string') return n.toLowerCase()
  if (!isObj(n) || !Array.isArray(n.name)) return null
  if (n.schema !== undefined && n.schema !== null) return null
  const parts = n.name.map((p) => ident(p))
  return parts.length === 1 && parts[0] !== null ? (parts[0] ?? null) : null
}
