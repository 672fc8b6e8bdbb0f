/**
 * A generic walker over node-sql-parser's AST: it visits every object and array, so a table or a
 * function call is found wherever the grammar put it (subqueries, joins, UNION branches, derived
 * tables, SET values, ON DUPLICATE KEY UPDATE...), without a case per statement type.
 */
import type {QualifiedName} from './tokens.js'

/** What the walker found in one statement. */
export interface Found {
  readonly tables: QualifiedName[]
  readonly functions: string[]
  /** Names of CTEs defined anywhere in the statement (node-sql-parser's tableList lists them as tables). */
  readonly cteNames: Set<string>
  /** node-sql-parser's own `op::db::table` entries, from every nesting level. */
  readonly tableList: string[]
  /** An `INTO OUTFILE` or `INTO DUMPFILE` anywhere: the statement writes a file on the server. */
  writesFile: boolean
}

/** Narrows to a plain object. */
export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

/** node-sql-parser models these keywords as function calls (`EXISTS (...)`, `= ANY (...)`, `ROW (a, b)`); they call nothing. */
const NOT_FUNCTIONS = new Set(['exists', 'not exists', 'any', 'some', 'all', 'row'])

/** The name of a function node: `{name: {name: [{value}], schema: {value}}}` or a plain string. */
function functionName(node: Record<string, unknown>): string | null {
  const n = node.name
  if (typeof n === 'string') return n.toLowerCase()
  if (!isObj(n)) return null
  const parts = Array.isArray(n.name) ? n.name : []
  const names = parts.map((p) => (isObj(p) ? str(p.value) : null))
  if (names.length === 0 || names.some((x) => x === null)) return null
  const schema = isObj(n.schema) ? str(n.schema.value) : null
  return [schema, ...names]
    .filter((x) => x !== null)
    .join('.')
    .toLowerCase()
}

/** The function a call node calls; null for keywords the parser models as calls (EXISTS, ANY...). */
export function calledFunction(node: Record<string, unknown>): string | null {
  const name = functionName(node)
  return name === null || NOT_FUNCTIONS.has(name) ? null : name
}

/** Aliases declared in a DELETE's FROM: `DELETE u FROM users u` names the alias, not a table. */
function deleteAliases(node: Record<string, unknown>): Set<string> {
  const out = new Set<string>()
  if (node.type !== 'delete' || !Array.isArray(node.from)) return out
  for (const f of node.from as unknown[]) {
    if (isObj(f) && typeof f.as === 'string') out.add(f.as.toLowerCase())
  }
  return out
}

type Scope = ReadonlySet<string>

const withName = (scope: Scope, name: string): Scope => new Set([...scope, name])

/** The name a CTE defines, lower-cased. */
function cteName(cte: unknown): string | null {
  if (!isObj(cte)) return null
  const name = isObj(cte.name) ? str(cte.name.value) : str(cte.name)
  return name === null ? null : name.toLowerCase()
}

class Walker {
  readonly found: Found = {
    tables: [],
    functions: [],
    cteNames: new Set(),
    tableList: [],
    writesFile: false,
  }

  /** Visits a node; `scope` holds the CTE names visible here, which are not tables. */
  visit(v: unknown, depth: number, scope: Scope): void {
    if (depth > 500) throw new RangeError('statement nested too deeply')
    if (Array.isArray(v)) {
      for (const x of v) this.visit(x, depth + 1, scope)
      return
    }
    if (!isObj(v)) return
    const inner = Array.isArray(v.with) ? this.visitWith(v.with as unknown[], depth, scope) : scope
    this.inspect(v, inner)
    const aliases = deleteAliases(v)
    for (const [key, child] of Object.entries(v)) {
      if (key === 'with' || key === 'loc') continue
      if (key === 'tableList' && Array.isArray(child)) {
        for (const e of child) if (typeof e === 'string') this.found.tableList.push(e)
      } else if (key === 'table' && aliases.size > 0 && Array.isArray(child)) {
        const real = child.filter(
          (t) => !(isObj(t) && t.db === null && aliases.has(String(t.table).toLowerCase())),
        )
        this.visit(real, depth + 1, inner)
      } else {
        this.visit(child, depth + 1, inner)
      }
    }
  }

  /**
   * A CTE sees the CTEs before it (and itself when recursive); the statement sees them all. In
   * `WITH users AS (SELECT * FROM users)` the inner `users` is the real table.
   */
  private visitWith(ctes: readonly unknown[], depth: number, scope: Scope): Scope {
    let inner = scope
    for (const cte of ctes) {
      const name = cteName(cte)
      if (name !== null) this.found.cteNames.add(name)
      const own = name !== null && isObj(cte) && cte.recursive === true ? withName(inner, name) : inner
      if (isObj(cte)) this.visit({...cte, name: null}, depth + 1, own)
      if (name !== null) inner = withName(inner, name)
    }
    return inner
  }

  private inspect(v: Record<string, unknown>, scope: Scope): void {
    // `{db, table}` everywhere; `{db, view}` in CREATE VIEW.
    const table = str(v.table) ?? str(v.view)
    if (table !== null && 'db' in v && !('column' in v)) {
      const schema = str(v.db)?.toLowerCase() ?? null
      const name = table.toLowerCase()
      if (schema !== null || !scope.has(name)) this.found.tables.push({schema, name})
    }
    if (v.type === 'into' && /^(OUTFILE|DUMPFILE)$/i.test(String(v.keyword))) this.found.writesFile = true
    if (v.type === 'function' || v.type === 'aggr_func') {
      const name = calledFunction(v)
      if (name !== null) this.found.functions.push(name)
    }
  }
}

/** Collects every table reference and function call in a statement's AST. */
export function walk(ast: unknown): Found {
  const w = new Walker()
  w.visit(ast, 0, new Set())
  return w.found
}

/**
 * Whether an expression mentions a column anywhere (also inside subqueries). An unqualified `*` is not one:
 * it can only be a subquery's own columns (`EXISTS (SELECT * FROM t)`), the same for every row outside.
 */
export function mentionsColumn(v: unknown, depth = 0): boolean {
  if (depth > 500) return true
  if (Array.isArray(v)) return v.some((x) => mentionsColumn(x, depth + 1))
  if (!isObj(v)) return false
  if (v.type === 'column_ref') return !(v.column === '*' && (v.table === null || v.table === undefined))
  return Object.values(v).some((x) => mentionsColumn(x, depth + 1))
}
