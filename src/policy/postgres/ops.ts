/** Operations under construction, and the state one query's analysis carries from statement to statement. */
import type {AnalyzeContext, Kind, NotNullCheck, Operation, PreparedEffect, WhereState} from '../types.js'

/**
 * An operation being built. Whatever an operation contains, its enclosing operations contain too
 * (the SELECT of `WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d` reads what the DELETE
 * removed, so it carries `t` as well), hence every name is added up the parent chain.
 */
export class OpBuilder {
  readonly tables: string[] = []
  readonly functions: string[] = []
  private readonly tableSet = new Set<string>()
  private readonly functionSet = new Set<string>()
  /** Resolved names written without a schema (→ the name as written), and those also written with one. */
  private readonly bare = new Map<string, string>()
  private readonly qualified = new Set<string>()
  where: WhereState = null
  notNull: NotNullCheck | undefined

  constructor(
    readonly kind: Kind,
    readonly parent: OpBuilder | undefined,
  ) {}

  /**
   * Adds a `schema.table` to this operation and the operations enclosing it; `bare` is the table's name
   * when the statement wrote it without a schema (so `name` is only where the default schema would put it).
   */
  addTable(name: string, bare?: string): void {
    if (bare === undefined) this.qualified.add(name)
    else if (!this.bare.has(name)) this.bare.set(name, bare)
    this.parent?.addTable(name, bare)
    if (this.tableSet.has(name)) return
    this.tableSet.add(name)
    this.tables.push(name)
  }

  /** Adds a function name to this operation and the operations enclosing it. */
  addFunction(name: string): void {
    if (this.functionSet.has(name)) return
    this.functionSet.add(name)
    this.functions.push(name)
    this.parent?.addFunction(name)
  }

  /** Adds everything a finished operation references (what EXECUTE runs). */
  addOperation(op: Operation): void {
    const bare = new Map((op.unqualified ?? []).map(([resolved, name]) => [resolved, name]))
    for (const [resolved, , qualifiedToo] of op.unqualified ?? []) if (qualifiedToo) this.addTable(resolved)
    for (const t of op.tables) this.addTable(t, bare.get(t))
    for (const f of op.functions) this.addFunction(f)
  }

  /** The finished operation. */
  toOperation(): Operation {
    const unqualified = [...this.bare].map(
      ([resolved, name]) => [resolved, name, this.qualified.has(resolved)] as const,
    )
    const op: Operation = {kind: this.kind, tables: this.tables, functions: this.functions, where: this.where}
    const checked = this.notNull === undefined ? op : {...op, notNull: this.notNull}
    return unqualified.length === 0 ? checked : {...checked, unqualified}
  }
}

/** One entry of a query's operation list: built here, or taken whole from a prepared statement. */
export type OpEntry = OpBuilder | Operation

/** The analysis of one query in progress. */
export class QueryState {
  readonly ops: OpEntry[] = []
  readonly prepares: PreparedEffect[] = []
  deallocates: string[] | 'all' = []
  literalSensitive = false
  /** Why the query must be refused (fail closed), once known. */
  error: string | undefined
  /** SQL that calls met so far run (dynamic-sql.ts), to be judged under their operations. */
  readonly runs: {readonly sql: string; readonly op: OpBuilder; readonly schema: string}[] = []
  /** Statements prepared (or, as null, deallocated) earlier in this query. */
  private readonly local = new Map<string, readonly Operation[] | null>()
  private deallocatedAll = false

  constructor(readonly ctx: AnalyzeContext) {}

  /** Records the outcome of a check: a refusal, and whether it looked at literal values. */
  apply(check: {readonly error: string | undefined; readonly literalSensitive: boolean}): void {
    if (check.literalSensitive) this.literalSensitive = true
    this.error ??= check.error
  }

  /** Starts an operation and lists it (parents before children, in the order met). */
  open(kind: Kind, parent: OpBuilder | undefined): OpBuilder {
    const op = new OpBuilder(kind, parent)
    this.ops.push(op)
    return op
  }

  /** What `EXECUTE name` runs at this point of the query, or undefined if the guard has not seen it. */
  prepared(name: string): readonly Operation[] | undefined {
    const local = this.local.get(name)
    if (local !== undefined) return local ?? undefined
    return this.deallocatedAll ? undefined : this.ctx.prepared?.get(name)
  }

  /**
   * Records a PREPARE of this query. `prepares` and `deallocates` never share a name, so a session
   * that applies the deallocations first and then the preparations ends in the server's state.
   */
  prepare(name: string, operations: readonly Operation[]): void {
    this.local.set(name, operations)
    this.removePrepared(name)
    this.prepares.push({name, operations})
    if (this.deallocates !== 'all') this.deallocates = this.deallocates.filter((n) => n !== name)
  }

  /** Records a DEALLOCATE (name undefined: ALL). */
  deallocate(name: string | undefined): void {
    if (name === undefined) {
      this.local.clear()
      this.deallocatedAll = true
      this.deallocates = 'all'
      this.prepares.length = 0
      return
    }
    this.local.set(name, null)
    this.removePrepared(name)
    if (this.deallocates !== 'all' && !this.deallocates.includes(name)) this.deallocates.push(name)
  }

  private removePrepared(name: string): void {
    const i = this.prepares.findIndex((p) => p.name === name)
    if (i >= 0) this.prepares.splice(i, 1)
  }

  /** The finished operation list. */
  operations(): Operation[] {
    return this.ops.map((op) => (op instanceof OpBuilder ? op.toOperation() : op))
  }
}
