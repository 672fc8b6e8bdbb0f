/**
 * The lineage walker's working model: columns carry a set of sources, FROM items expose columns to
 * name resolution, and one State per statement collects what the statement reads.
 */
import type {Decides} from './decides.js'
import type {CatalogView} from './types.js'

/** A column while lineage is computed: its sources, and whether they are certain. */
export interface Col {
  readonly name: string
  readonly sources: ReadonlySet<string>
  readonly opaque: boolean
  /**
   * The column holds a stored column's value unchanged: a table's own column, or one passed on whole
   * through subqueries, views, CTEs, set operations and joins. Only such a column may be looked up by a
   * condition; `(SELECT ascii(email) a FROM users) t WHERE a = 97` looks up a computed value.
   */
  readonly whole?: boolean
}

/** The output of a query or FROM item: its columns, or null when even their number is unknown. */
export type Cols = readonly Col[] | null

/** A relation visible by name in a FROM clause (a table, view, CTE, subquery or function, by alias). */
export interface Rel {
  /** The alias, or the relation's own name. */
  readonly name: string
  /** The schema, for a catalog relation without alias (so `public.users.email` finds it). */
  readonly schema: string | undefined
  readonly columns: Cols
}

/** One query level's FROM clause. */
export interface Level {
  /** Top-level FROM items in order: what `*` expands to and where unqualified names are looked up. */
  readonly items: readonly Cols[]
  /** Every relation nameable at this level (also those inside an unaliased join). */
  readonly rels: readonly Rel[]
  /** The enclosing query's level, for correlated references. */
  readonly parent: Level | undefined
}

/** A common table expression in scope. */
export interface Cte {
  readonly name: string
  columns: Cols
  readonly parent: Cte | undefined
}

/** Where an expression or query is read: the FROM levels and CTEs it can see. */
export interface Env {
  readonly level: Level | undefined
  readonly ctes: Cte | undefined
}

/** What one statement's walk collects, plus what it needs. */
export interface State {
  readonly catalog: CatalogView
  readonly schema: string
  /** Columns of every relation read. */
  readonly reads: Set<string>
  /** Set when something read has unknown columns. */
  unknown: boolean
  /** Set when reading or writing a relation may run user-defined code (triggers, rules, policies). */
  code?: boolean
  /** Nesting of view expansions, bounded against views that (through a stale catalog) refer to themselves. */
  viewDepth: number
  /** What the statement's conditions compute from, other than lookups (see decides.ts). */
  readonly decides?: Decides
}

/** Sources and certainty being accumulated for one expression. */
export interface Acc {
  readonly sources: Set<string>
  opaque: boolean
  /** Set when a column added was not whole (see Col.whole). */
  partial?: boolean
}

/** A fresh accumulator. */
export function newAcc(): Acc {
  return {sources: new Set(), opaque: false}
}

/** Adds a column's sources to an accumulator. */
export function addCol(acc: Acc, col: Col): void {
  for (const s of col.sources) acc.sources.add(s)
  if (col.opaque) acc.opaque = true
  if (col.whole !== true) acc.partial = true
}

/** Adds what one accumulator holds to another. */
export function mergeAcc(into: Acc, from: Acc): void {
  for (const s of from.sources) into.sources.add(s)
  if (from.opaque) into.opaque = true
  if (from.partial === true) into.partial = true
}

/** An accumulator holding one column (none: unknown). */
export function accOf(col: Col | undefined): Acc {
  if (col === undefined) return {sources: new Set(), opaque: true}
  return {sources: new Set(col.sources), opaque: col.opaque, partial: col.whole !== true}
}

/** True when an accumulator holds only whole columns (see Col.whole), certainly. */
export function wholeAcc(acc: Acc): boolean {
  return acc.partial !== true && !acc.opaque
}

/**
 * A column's own value stored back whole in it (`SET email = email`, a row copied within its table):
 * `table`'s column of that name passed on unchanged, so its types and constraints checked it already.
 */
export function storedBack(table: string, col: Col): boolean {
  return col.whole === true && col.sources.size === 1 && col.sources.has(`${table}.${col.name}`)
}

/** A column passed on from the columns in `acc` (a bare reference, a merged join column): whole when they are. */
export function passedOn(name: string, acc: Acc): Col {
  return {name, sources: acc.sources, opaque: acc.opaque, whole: wholeAcc(acc)}
}

/** Adds every column of a relation (a whole-row reference); unknown columns make it opaque. */
export function addRow(acc: Acc, cols: Cols, state: State): void {
  if (cols === null) {
    acc.opaque = true
    state.unknown = true
    return
  }
  for (const c of cols) addCol(acc, c)
}

/** A column made from an accumulator. */
export function colOf(name: string, acc: Acc): Col {
  return {name, sources: acc.sources, opaque: acc.opaque}
}

/** A column with no sources (a constant, a computed value that reads no column). */
export function constCol(name: string): Col {
  return {name, sources: new Set(), opaque: false}
}

/** Columns renamed by an alias column list (`AS t(a, b)`): the first names are replaced. */
export function rename(cols: Cols, names: readonly string[]): Cols {
  if (cols === null || names.length === 0) return cols
  return cols.map((c, i) => (i < names.length ? {...c, name: names[i] ?? c.name} : c))
}

/** Position-wise union of several column lists (set operations, VALUES rows, recursive CTEs). */
export function unionCols(branches: readonly Cols[]): Cols {
  const known = branches.filter((b): b is readonly Col[] => b !== null)
  const first = known[0]
  if (first === undefined) return null
  const uncertain = known.length !== branches.length || known.some((b) => b.length !== first.length)
  return first.map((c, i) => {
    const acc = newAcc()
    for (const b of known) {
      const col = b[i]
      if (col) addCol(acc, col)
    }
    // A branch of unknown or different width could feed any of its values into any column.
    if (uncertain) {
      acc.opaque = true
      for (const b of known) for (const col of b) for (const s of col.sources) acc.sources.add(s)
    }
    // A column is whole when each branch passes on a whole column or a value that reads no column.
    const whole = known.every((b) => {
      const col = b[i]
      return col !== undefined && (col.whole === true || (col.sources.size === 0 && !col.opaque))
    })
    return {...colOf(c.name, acc), whole: whole && !acc.opaque}
  })
}

/** True when two column lists have the same sources and certainty (the fixpoint of a recursive CTE). */
export function sameCols(a: Cols, b: Cols): boolean {
  if (a === null || b === null) return a === b
  if (a.length !== b.length) return false
  return a.every((c, i) => {
    const d = b[i]
    if (!d || c.opaque !== d.opaque || c.whole !== d.whole || c.sources.size !== d.sources.size) return false
    for (const s of c.sources) if (!d.sources.has(s)) return false
    return true
  })
}

/** The columns of a CTE in scope, or undefined when no CTE has that name. */
export function findCte(ctes: Cte | undefined, name: string): Cte | undefined {
  for (let c = ctes; c; c = c.parent) if (c.name === name) return c
  return undefined
}
