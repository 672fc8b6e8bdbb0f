/**
 * Postgres column lineage per top-level statement: what each result column is computed from. Reuses
 * the analyzer's parser (libpg-query, loaded once) and name resolution. Anything the walker does not
 * understand is opaque: the masking plan then masks whatever might carry a masked value.
 */
import {
  type AstObject,
  columnRefFields,
  isObject,
  list,
  listItems,
  obj,
  str,
  stringList,
  unwrap,
} from '../postgres/ast.js'
import {bodySql, standardBody} from '../postgres/bodies.js'
import {parse} from '../postgres/parser.js'
import {runsUserCode, temporaryNames} from './code.js'
import {conditionEffects, decidedBy, judged, newDecides} from './decides.js'
import {judgeCondition} from './conditions.js'
import {dmlStored} from './dml.js'
import {collect} from './expr.js'
import {fromLevel, relationCols, resolveRangeVar, writesRunCode} from './from.js'
import {
  callsUntracked,
  computedArgument,
  delayCalled,
  dynamicQueries,
  SHARES_ARGUMENT,
  storesComputedValue,
  rowCountArguments,
  userCodeCalls,
  type RowCountArguments,
  type UserCodeCall,
} from './functions.js'
import {
  type Acc,
  addRow,
  type Col,
  type Cols,
  colOf,
  constCol,
  type Env,
  mergeAcc,
  newAcc,
  rename,
  type State,
  storedBack,
} from './model.js'
import {queryCols, selectCols} from './query.js'
import {CONDITION, DELAY, ROW_COUNT, SERVER_FILE, SHARED_BY} from './types.js'
import type {
  CatalogView,
  CursorLineage,
  LineageContext,
  LineageEffect,
  LineageResult,
  OutputColumn,
  StatementLineage,
} from './types.js'

/** CURSOR_OPT_HOLD of parsenodes.h: the cursor outlives its transaction. */
const CURSOR_OPT_HOLD = 0x20

/** The lineage of a statement that returns no rows. */
const NO_ROWS: StatementLineage = {columns: [], reads: [], readsUnknown: false}

/** The lineage of a result nothing is known about: every column may carry anything. */
export const UNKNOWN_LINEAGE: StatementLineage = {columns: null, reads: [], readsUnknown: true}

/** Statements that write rows into a relation from what they read, wherever they are nested. */
const NESTED_WRITES = new Set(['InsertStmt', 'UpdateStmt', 'MergeStmt'])

/** Transaction statements after which non-holdable cursors are gone. */
const ENDS_TRANSACTION = new Map<string, 'commit' | 'rollback' | 'partial'>([
  ['TRANS_STMT_COMMIT', 'commit'],
  ['TRANS_STMT_ROLLBACK', 'rollback'],
  ['TRANS_STMT_ROLLBACK_TO', 'partial'],
  ['TRANS_STMT_PREPARE', 'partial'],
])

/**
 * Settings whose value cannot be arbitrary text (numbers, booleans, enums, validated names, or fixed
 * by the server), so SHOW of them reads no column. Any other setting is opaque.
 */
const FIXED_SETTINGS = new Set([
  'transaction_isolation',
  'transaction_read_only',
  'transaction_deferrable',
  'default_transaction_isolation',
  'default_transaction_read_only',
  'server_version',
  'server_version_num',
  'server_encoding',
  'client_encoding',
  'standard_conforming_strings',
  'integer_datetimes',
  'is_superuser',
  'in_hot_standby',
  'max_identifier_length',
  'max_connections',
  'block_size',
  'datestyle',
  'intervalstyle',
  'timezone',
  'bytea_output',
  'extra_float_digits',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'work_mem',
  'lc_collate',
  'lc_ctype',
])

/** Statement types that leave the catalog as it was (unless they run user code). */
const KEEPS_CATALOG = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'TransactionStmt',
  'VariableSetStmt',
  'VariableShowStmt',
  'ExplainStmt',
  'DeclareCursorStmt',
  'FetchStmt',
  'ClosePortalStmt',
  'PrepareStmt',
  'ExecuteStmt',
  'DeallocateStmt',
  'CopyStmt',
  'DiscardStmt',
  'LockStmt',
  'ListenStmt',
  'NotifyStmt',
  'UnlistenStmt',
])

/** Objects whose rename moves a relation's values to another name (RenameStmt.renameType). */
const RELATION_KINDS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE'])

/** Statement types that return rows through a path this module does not model: opaque. */
const OPAQUE_ROWS = new Set(['CallStmt'])

/** What a program COPY ... PROGRAM runs keeps: anything (a foreign table's `program`: UNTRACED_DDL). */
const PROGRAM = 'a program COPY runs on the server'

/**
 * DDL whose relation or code reads what lineage cannot follow, later and in any session: a foreign
 * table (file_fdw's `program`, postgres_fdw over this very database's masked table), a foreign server
 * or user mapping it goes through, a trigger (a built-in such as tsvector_update_trigger copies the
 * columns its arguments name into another), a table made a child of another (ALTER TABLE ... INHERIT,
 * ATTACH PARTITION: the parent's readers read its rows). Under column rules each may store anything.
 */
const UNTRACED_DDL: ReadonlyMap<string, string> = new Map([
  ['CreateForeignTableStmt', 'a foreign table'],
  ['CreateForeignServerStmt', 'a foreign server'],
  ['CreateUserMappingStmt', 'a foreign server'],
  ['ImportForeignSchemaStmt', 'a foreign table'],
  ['CreateTrigStmt', 'a trigger'],
])

/**
 * The columns an expression as the server prints it (`pg_get_expr` of a generated column) references;
 * null when it cannot be read as one expression.
 */
export function expressionColumns(expr: string): string[] | null {
  const parsed = parse(`SELECT ${expr}`)
  if (!parsed.ok || parsed.statements.length !== 1) return null
  const out = new Set<string>()
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) visit(x)
    else if (v !== null && typeof v === 'object') {
      const fields = columnRefFields(v)
      const last = fields?.at(-1)
      if (last !== undefined) out.add(last)
      for (const x of Object.values(v)) visit(x)
    }
  }
  visit(parsed.statements[0])
  return [...out]
}

/** Lineage of each statement of a query. Never throws; unreadable SQL gives ok:false (treat as unknown). */
export function lineagePostgres(sql: string, catalog: CatalogView, ctx: LineageContext): LineageResult {
  const parsed = parse(sql)
  if (!parsed.ok) return parsed
  return lineagePostgresStatements(parsed.statements, catalog, ctx)
}

/**
 * The same from statements parse() already produced, so a caller that parsed the query once (for
 * a cache miss of the guard) can reuse the tree.
 */
export function lineagePostgresStatements(
  statements: readonly unknown[],
  catalog: CatalogView,
  ctx: LineageContext,
): LineageResult {
  const run = new Run(catalog, ctx)
  const out: StatementLineage[] = []
  const effects: LineageEffect[][] = []
  for (const s of statements) {
    run.effects = []
    out.push(run.statement(s))
    effects.push(run.effects)
  }
  return {ok: true, statements: out, effects, sessionDependent: run.sessionDependent}
}

/** One query's walk: the session state as its statements change it, and the effects to report. */
class Run {
  /** Effects of the statement being read. */
  effects: LineageEffect[] = []
  sessionDependent = false
  private readonly cursors = new Map<string, CursorLineage | null>()
  private readonly prepared = new Map<string, StatementLineage | null>()
  private cursorsClosed = false
  private preparedCleared = false
  /** Temporary relations earlier statements of this query create: unqualified, these names are theirs. */
  private readonly temporaries = new Set<string>()
  /** True once an earlier statement of this query may have changed the catalog (DDL, user code). */
  private changedCatalog = false
  /** What the conditions of the statement being read compute from (State.decides). */
  private decides = newDecides()

  constructor(
    private readonly catalog: CatalogView,
    private readonly ctx: LineageContext,
  ) {}

  /** The lineage of one top-level statement. */
  statement(value: unknown): StatementLineage {
    this.decides = newDecides()
    try {
      const temporaries = new Set(temporaryNames(value, this.catalog))
      for (const name of temporaries) this.effect({kind: 'temporary', name})
      const lineage = this.dispatch(value)
      this.nestedWrites(unwrap(value)?.node)
      for (const name of temporaries) this.temporaries.add(name)
      // A built-in that keeps a value computed from what the statement reads where other sessions
      // read it stores everything the statement reads.
      const shared = computedArgument(value, SHARES_ARGUMENT)
      if (shared !== undefined) this.shared(shared, value)
      // So may a user's function or procedure: what it is given.
      const calls = userCodeCalls(value, (name) => {
        if (this.catalog.code === undefined) return false
        const known = this.catalog.code('function', name)
        // Not loaded yet: counts as code now, and the result is not cached (the answer may come).
        if (known === undefined) this.sessionDependent = true
        return known
      })
      for (const call of calls) this.passed(call, value)
      for (const count of rowCountArguments(value)) this.counted(count, value)
      // A delay's duration may show anything the statement reads (`CASE WHEN ... THEN pg_sleep(1)`).
      const delay = delayCalled(value)
      if (delay !== undefined) {
        const state = this.readsOf(value)
        this.stored(`${DELAY}${delay}()`, [...state.reads].sort(), state.unknown, null)
      }
      // Conditions that compute from columns choose rows by their values (conditions.ts).
      for (const e of conditionEffects(this.decides)) this.effect(e)
      for (const sql of dynamicQueries(value)) this.dynamicQuery(sql)
      const untraced = UNTRACED_DDL.get(unwrap(value)?.type ?? '') ?? inherits(value)
      if (untraced !== undefined) this.stored(`${SHARED_BY}${untraced}`, [], true, null)
      const t = unwrap(value)
      if (t?.type === 'DoStmt' || t?.type === 'CreateFunctionStmt') this.codeBody(t.type, t.node)
      if (!KEEPS_CATALOG.has(unwrap(value)?.type ?? '') || lineage.runsCode === true)
        this.changedCatalog = true
      if (lineage.runsCode === true || runsUserCode(value, this.catalog) || storesComputedValue(value)) {
        // User code may return and copy any value, and a stored value may come back from anywhere:
        // every column is opaque, and the session is masked.
        this.forget()
        return {...lineage, columns: lineage.columns?.map(opaque) ?? null, readsUnknown: true, runsCode: true}
      }
      if (!callsUntracked(value)) return lineage
      // Code lineage cannot see may close and reopen cursors or statements under names it knows, and
      // may read anything (its notices and errors can carry what it read).
      this.forget()
      return lineage.readsUnknown ? lineage : {...lineage, readsUnknown: true}
    } catch (error) {
      if (!(error instanceof RangeError)) throw error
      // A tree deeper than the stack: nothing is known of its result, of what it runs, or of what its
      // conditions compute from.
      this.forget()
      this.decides.acc.opaque = true
      for (const e of conditionEffects(this.decides)) this.effect(e)
      return UNKNOWN_LINEAGE
    }
  }

  private newState(): State {
    return {
      catalog: this.catalog,
      schema: this.ctx.defaultSchema,
      reads: new Set(),
      unknown: false,
      code: false,
      viewDepth: 0,
      decides: this.decides,
    }
  }

  private rows(cols: (state: State) => Cols): StatementLineage {
    const state = this.newState()
    return finish(cols(state), state)
  }

  private dispatch(value: unknown): StatementLineage {
    const t = unwrap(value)
    if (!t) return UNKNOWN_LINEAGE
    const {type, node} = t
    switch (type) {
      case 'SelectStmt': {
        // SELECT ... INTO creates a table and returns no rows.
        const into = obj(node, 'intoClause')
        if (into)
          return this.write(obj(into, 'rel'), node, false, (s) => intoCols(into, selectCols(node, NO_ENV, s)))
        return this.rows((s) => selectCols(node, {level: undefined, ctes: undefined}, s))
      }
      case 'CreateTableAsStmt': {
        const into = obj(node, 'into')
        const executed = unwrap(node.query)
        // CREATE TABLE AS EXECUTE p stores the prepared statement's rows.
        if (executed?.type === 'ExecuteStmt' && into?.skipData !== true) {
          this.storedExecute(into, this.prepared_(str(executed.node, 'name') ?? '') ?? UNKNOWN_LINEAGE)
          return NO_ROWS
        }
        // A materialized view is read through its definition, as a view is: it stores nothing lineage
        // cannot follow; WITH NO DATA stores no row.
        const stored =
          str(node, 'objtype') === 'OBJECT_MATVIEW' || into?.skipData === true
            ? () => []
            : (s: State) => intoCols(into, queryCols(node.query, NO_ENV, s))
        return this.write(into && obj(into, 'rel'), node.query, false, stored)
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'MergeStmt':
        this.dmlWrite(type, node)
        return this.rows((s) => queryCols(value, {level: undefined, ctes: undefined}, s))
      case 'DeleteStmt':
        return this.rows((s) => queryCols(value, {level: undefined, ctes: undefined}, s))
      case 'ExplainStmt':
        // The plan shows expressions and literals of the query, never stored values; its row counts
        // (estimated, or with ANALYZE counted) follow the query's conditions, which are judged.
        this.rows((s) => queryCols(node.query, NO_ENV, s))
        return {columns: [output(constCol('QUERY PLAN'))], reads: [], readsUnknown: false}
      case 'VariableShowStmt': {
        const name = str(node, 'name') ?? ''
        // A text setting can hold whatever set_config() put there, a masked value included.
        if (!FIXED_SETTINGS.has(name)) return UNKNOWN_LINEAGE
        return {columns: [output(constCol(name))], reads: [], readsUnknown: false}
      }
      case 'RenameStmt':
      case 'AlterObjectSchemaStmt':
      case 'AlterTableStmt':
        this.alter(type, node)
        if (type === 'AlterTableStmt') this.rowChecks(node, (env, state) => alterChecks(node, env, state))
        return NO_ROWS
      case 'IndexStmt':
        this.rowChecks(node, (env, state) => indexChecks(node, env, state))
        return NO_ROWS
      case 'CopyStmt':
        return this.copy(node)
      case 'DeclareCursorStmt':
        return this.declare(node)
      case 'FetchStmt':
        if (node.ismove === true) return NO_ROWS
        return this.cursor(str(node, 'portalname') ?? '')?.lineage ?? UNKNOWN_LINEAGE
      case 'ClosePortalStmt':
        return this.close(str(node, 'portalname'))
      case 'PrepareStmt':
        return this.prepare(node)
      case 'ExecuteStmt':
        return this.prepared_(str(node, 'name') ?? '') ?? UNKNOWN_LINEAGE
      case 'DeallocateStmt':
        return this.deallocate(node.isall === true ? undefined : str(node, 'name'))
      case 'TransactionStmt': {
        const how = ENDS_TRANSACTION.get(str(node, 'kind') ?? '')
        if (how !== undefined) this.effect({kind: 'transaction-end', how})
        return NO_ROWS
      }
      case 'VariableSetStmt':
        this.setting(node)
        return NO_ROWS
      case 'DiscardStmt':
        if (str(node, 'target') === 'DISCARD_ALL') {
          this.effect({kind: 'search-path', value: null, local: false})
          this.close(undefined)
          this.deallocate(undefined)
        }
        return NO_ROWS
      default:
        return OPAQUE_ROWS.has(type) ? UNKNOWN_LINEAGE : NO_ROWS
    }
  }

  private copy(node: AstObject): StatementLineage {
    // A server file or program: what an earlier COPY TO (of any session) stored there.
    const server = node.filename !== undefined || node.is_program === true
    const file = `${SERVER_FILE}${node.is_program === true ? 'program ' : ''}${str(node, 'filename') ?? ''}`
    // A program runs as the server's operating-system user: it can read any table unmasked itself
    // (`psql -c 'insert into t2 select email ...'`), whatever COPY gives it.
    if (node.is_program === true) this.stored(`${SHARED_BY}${PROGRAM}`, [], true, null)
    // COPY FROM reads from the client (and fires the table's triggers).
    if (node.is_from === true) {
      const state = this.newState()
      const relation = obj(node, 'relation')
      writesRunCode(relation, state)
      const rel = relation && resolveRangeVar(relation, this.catalog, this.ctx.defaultSchema)
      // From the server's files, the rows may hold anything: stored values of unknown lineage.
      if (server && rel !== undefined) this.stored(`${rel.schema}.${rel.name}`, [], true, null)
      return state.code === true ? {...NO_ROWS, runsCode: true} : NO_ROWS
    }
    if (!server) return this.copyRows(node)
    // COPY TO a server file or program sends the client no rows: it stores them where any session
    // can read them back.
    const rows = this.copyRows(node)
    this.stored(file, rows.reads, rows.readsUnknown, rows.columns)
    return rows.runsCode === true ? {...NO_ROWS, runsCode: true} : NO_ROWS
  }

  /**
   * What a code body stores when it runs (a DO block now; a function or procedure whenever it is called,
   * so judged when it is created): its statements' writes, each as after DDL when the body runs any (its
   * loops may run them in any order). PL/pgSQL variables carry values from one statement to the next
   * (`SELECT email INTO v FROM users; INSERT INTO notes VALUES (0, v)`), so each write of such a body may
   * store anything the body reads, and a trigger function's NEW and OLD rows of any table (unknown).
   * A body that cannot be read may store anything.
   */
  private codeBody(type: 'DoStmt' | 'CreateFunctionStmt', node: AstObject): void {
    const body = bodySql(type, node)
    if (body === undefined) {
      // A SQL-standard body (BEGIN ATOMIC, RETURN expr) is parsed already: what its statements write,
      // and what decides their rows or whether they fail (its writes nestedWrites reads too).
      const r = lineagePostgresStatements(standardBody(node), this.catalog, this.ctx)
      for (const w of r.ok ? r.effects.flat() : [])
        if (w.kind === 'write') this.effect({...w, afterDdl: w.afterDdl || this.changedCatalog})
      return
    }
    const name =
      type === 'DoStmt' ? 'DO' : `${stringList(list(node, 'funcname'))?.join('.') ?? 'a function'}()`
    const r = body.ok
      ? lineagePostgres(body.sql.join(';\n'), this.catalog, {...this.ctx, variables: body.variables})
      : undefined
    if (body.ok === false || r === undefined || !r.ok) {
      this.stored(`${SHARED_BY}${name}`, [], true, null)
      return
    }
    const ddl = body.sql.some((sql) => changesCatalog(sql))
    const reads = new Set<string>()
    let unknown = body.trigger
    if (body.variables)
      for (const l of r.statements) {
        for (const c of l.reads) reads.add(c)
        if (l.readsUnknown) unknown = true
      }
    for (const w of r.effects.flat()) {
      if (w.kind !== 'write') continue
      const afterDdl = ddl || w.afterDdl || this.changedCatalog
      if (!body.variables) {
        this.effect({...w, afterDdl})
        continue
      }
      // A variable is a name no relation in scope has (an opaque column): it may hold anything the body read.
      this.effect({
        ...w,
        reads: [...new Set([...w.reads, ...reads])].sort(),
        unknown: w.unknown || unknown,
        afterDdl,
      })
    }
  }

  /**
   * SQL a call runs (`SELECT count(*) FROM ts_stat('SELECT ... WHERE email LIKE ''a%''')`): what it
   * writes, and what decides its rows, their order and whether it fails, are the statement's too. Text
   * lineage cannot read decides by something untraced.
   */
  private dynamicQuery(sql: string): void {
    const r = lineagePostgres(sql, this.catalog, this.ctx)
    if (!r.ok) return this.effect(decidedBy(CONDITION, {sources: new Set(), opaque: true}))
    for (const e of r.effects.flat())
      if (e.kind === 'write') this.effect({...e, afterDdl: e.afterDdl || this.changedCatalog})
  }

  /**
   * A built-in that keeps a value for other sessions (`setval`, `pg_notify`): it may keep any column of
   * the relations the statement reads (the built-in is the untracked call; unknown relations count).
   */
  private shared(name: string, value: unknown): void {
    const state = this.readsOf(value)
    this.stored(`${SHARED_BY}${name}()`, [...state.reads].sort(), state.unknown, null)
  }

  /**
   * A call of user code (userCodeCalls) may keep what it is given: the columns its arguments name, and
   * everything a subquery among them reads.
   */
  private passed(call: UserCodeCall, value: unknown): void {
    const state = this.argumentReads(call.args, value, (sublink) => this.readsOf(sublink))
    this.stored(`${SHARED_BY}${call.name}()`, [...state.reads].sort(), state.unknown, null)
  }

  /**
   * A row count computed from arguments (rowCountArguments) shows them to the client: the columns they
   * name, and the values a subquery among them returns (`LIMIT (SELECT count(*) ...)` shows no column).
   */
  private counted(count: RowCountArguments, value: unknown): void {
    const state = this.argumentReads(count.args, value, (sublink) => {
      const rows = this.rows((s) => queryCols(sublink.subselect, NO_ENV, s))
      const sources = this.newState()
      for (const c of rows.columns ?? []) for (const s of c.sources) sources.reads.add(s)
      sources.unknown = rows.columns === null || rows.columns.some((c) => c.opaque)
      return sources
    })
    this.stored(`${ROW_COUNT}${count.what}`, [...state.reads].sort(), state.unknown, null)
  }

  /**
   * What arguments pass: the columns they name, of the relations the statement reads (matched by name;
   * a name no such column has is a whole row, so every column), and what `subquery` says a subquery
   * among them passes.
   */
  private argumentReads(
    args: readonly unknown[],
    value: unknown,
    subquery: (sublink: AstObject) => State,
  ): State {
    const all = this.readsOf(value)
    const state = this.newState()
    state.unknown = all.unknown
    const add = (columns: Iterable<string>): void => {
      for (const c of columns) state.reads.add(c)
    }
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(visit)
      if (!isObject(v)) return
      const t = unwrap(v)
      if (t?.type === 'SubLink') {
        const inner = subquery(t.node)
        add(inner.reads)
        if (inner.unknown) state.unknown = true
        return
      }
      if (t?.type === 'ColumnRef') {
        const name = columnRefFields(v)?.at(-1)
        const named = name === undefined ? [] : [...all.reads].filter((c) => c.endsWith(`.${name}`))
        add(named.length > 0 ? named : all.reads)
        return
      }
      for (const key in v) visit(v[key])
    }
    visit(args)
    return state
  }

  /** Every column of every relation named anywhere in `value`, as whole relations. */
  private readsOf(value: unknown, state = this.newState()): State {
    for (const rv of rangeVars(value)) {
      const parts = resolveRangeVar(rv, this.catalog, this.ctx.defaultSchema)
      if (parts) relationCols(parts.schema, parts.name, state)
    }
    return state
  }

  /**
   * A write effect of rows stored in `table` (a relation or a server file), with what each column
   * holds; `to` adds what is known of a relation target.
   */
  private stored(
    table: string,
    reads: readonly string[],
    unknown: boolean,
    columns: readonly OutputColumn[] | null,
    to: {readonly temporary: boolean; readonly ancestors: readonly string[]} = {
      temporary: false,
      ancestors: [],
    },
  ): void {
    this.effect({kind: 'write', table, reads, unknown, columns, afterDdl: this.changedCatalog, ...to})
  }

  /** CREATE TABLE ... AS EXECUTE: the table stores the prepared statement's rows, under `into`'s names. */
  private storedExecute(into: AstObject | undefined, rows: StatementLineage): void {
    const target = obj(into ?? {}, 'rel')
    const rel = target && resolveRangeVar(target, this.catalog, this.ctx.defaultSchema)
    if (!target || !rel) return
    const names = list(into ?? {}, 'colNames').map((c) => str(unwrap(c)?.node ?? {}, 'sval'))
    const columns = rows.columns?.map((c, i) => ({...c, name: names[i] ?? c.name})) ?? null
    this.stored(`${rel.schema}.${rel.name}`, rows.reads, rows.readsUnknown, columns, {
      temporary: str(target, 'relpersistence') === 't',
      ancestors: [],
    })
  }

  /** The rows a COPY TO sends: its query's, or its relation's columns (those of its column list). */
  private copyRows(node: AstObject): StatementLineage {
    if (node.query !== undefined) return this.dispatch(node.query)
    const relation = obj(node, 'relation')
    const rel = relation && resolveRangeVar(relation, this.catalog, this.ctx.defaultSchema)
    if (!rel) return UNKNOWN_LINEAGE
    const attlist = list(node, 'attlist').map((a) => str(unwrap(a)?.node ?? {}, 'sval') ?? '')
    return this.rows((s) => {
      const cols = relationCols(rel.schema, rel.name, s)
      if (cols === null || attlist.length === 0) return cols
      return attlist.map((name) => {
        const col = cols.find((c) => c.name === name)
        if (col) return col
        const acc = newAcc()
        acc.opaque = true
        return {name, sources: acc.sources, opaque: true}
      })
    })
  }

  /**
   * A write into `target` from what `source` reads: every relation named anywhere in it (the target
   * itself when `readsTarget`), as whole relations, and what each stored column is computed from
   * (`stored`; null when not known). Returns no rows.
   */
  private write(
    target: AstObject | undefined,
    source: unknown,
    readsTarget: boolean,
    stored: (state: State) => Cols,
    /** The target exists: its column types and constraints check each value stored (INSERT, UPDATE, MERGE). */
    checked = false,
  ): StatementLineage {
    const rel = target && resolveRangeVar(target, this.catalog, this.ctx.defaultSchema)
    const state = this.newState()
    if (rel && readsTarget) relationCols(rel.schema, rel.name, state)
    this.readsOf(source, state)
    if (callsUntracked(source)) state.unknown = true
    // In a code body a write may store a variable's value, even one that reads nothing itself.
    if (target && rel && (state.reads.size > 0 || state.unknown || this.ctx.variables === true)) {
      let columns: Cols
      try {
        columns = stored(this.newState())
      } catch (error) {
        if (!(error instanceof RangeError)) throw error
        columns = null
      }
      const schema = str(target, 'schemaname')
      const temporary =
        str(target, 'relpersistence') === 't' ||
        schema?.startsWith('pg_temp') === true ||
        (schema === undefined && this.temporaries.has(rel.name))
      const ancestors = this.catalog.ancestors?.(rel.schema, rel.name) ?? []
      const held = columns === null ? null : columns.map(output)
      // The target may have a type, CHECK, UNIQUE key or domain that refuses some values (`c varchar(1)
      // CHECK (c < 'm')`): whether the write fails shows what it stores (CHECKED).
      if (checked) this.checkedWrite(columns, temporary ? undefined : rel, state)
      this.stored(`${rel.schema}.${rel.name}`, [...state.reads].sort(), state.unknown, held, {
        temporary,
        ancestors,
      })
    }
    return state.code === true ? {...NO_ROWS, runsCode: true} : NO_ROWS
  }

  /** An INSERT, UPDATE or MERGE: UPDATE t SET a = b copies within the target, so the target is a source too. */
  private dmlWrite(type: string, node: AstObject): void {
    const readsTarget = type !== 'InsertStmt' && hasColumnRef(node)
    this.write(obj(node, 'relation'), node, readsTarget, (s) => dmlStored(type, node, NO_ENV, s), true)
  }

  /**
   * DDL that evaluates expressions or keys over a relation's stored rows (an index, a constraint added or
   * validated, a column's type changed): `check` judges them read over the relation.
   */
  private rowChecks(node: AstObject, check: (env: Env, state: State) => void): void {
    const relation = obj(node, 'relation')
    const from = relation && resolveRangeVar(relation, this.catalog, this.ctx.defaultSchema)
    if (!relation || !from) return
    const state = this.newState()
    const source = {RangeVar: {...relation, schemaname: from.schema}}
    check({level: fromLevel([source], NO_ENV, state), ctes: undefined}, state)
  }

  /**
   * What a write into a relation whose types and constraints check each value stores joins the
   * statement's `checked`. Into a stored table (`table`), a column the catalog says takes any value
   * checks nothing, and a column's own value stored back whole (`SET email = email`, a row copied
   * within its table) passed its checks already; the session's own table (`table` undefined) has
   * checks of its own on every value, which the catalog does not list.
   */
  private checkedWrite(columns: Cols, table: {schema: string; name: string} | undefined, state: State): void {
    const checked = this.decides.checked
    // A value lineage cannot trace (a variable of a code body) holds something the statement read.
    const anything = (): void => {
      for (const s of state.reads) checked.sources.add(s)
      if (state.unknown) checked.opaque = true
    }
    // Which column gets what is unknown: anything.
    if (columns === null) return anything()
    for (const c of columns) {
      if (table !== undefined) {
        if (this.catalog.acceptsAny?.(table.schema, table.name, c.name) === true) continue
        if (storedBack(`${table.schema}.${table.name}`, c)) continue
      }
      for (const s of c.sources) checked.sources.add(s)
      if (c.opaque) anything()
    }
  }

  /**
   * Writes nested anywhere below a statement (a data-modifying CTE, the statement under EXPLAIN
   * ANALYZE or PREPARE): each taints its table like a top-level write. A prepared write counts when
   * prepared, before it runs, so its table is never read unmasked after EXECUTE.
   */
  private nestedWrites(value: unknown): void {
    if (Array.isArray(value)) for (const v of value) this.nestedWrites(v)
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as AstObject)) {
        if (NESTED_WRITES.has(k) && v !== null && typeof v === 'object') {
          this.dmlWrite(k, v as AstObject)
        }
        this.nestedWrites(v)
      }
    }
  }

  /**
   * DDL that moves a relation's values to a name no column rule may cover: a relation renamed or moved
   * to another schema, a column renamed, a generated column or a USING rewrite computed from others.
   * The relation under its new name is written from the old one (a write effect), so the session masks it.
   */
  private alter(type: string, node: AstObject): void {
    const relation = obj(node, 'relation')
    if (!relation) return
    const from = resolveRangeVar(relation, this.catalog, this.ctx.defaultSchema)
    if (!from) return
    const source = {RangeVar: {...relation, schemaname: from.schema}}
    const renames = str(node, 'renameType')
    // Renaming a constraint, an index, a trigger or a policy moves no value.
    if (type === 'RenameStmt' && renames !== 'OBJECT_COLUMN' && !RELATION_KINDS.has(renames ?? '')) return
    const newName = type === 'RenameStmt' && renames !== 'OBJECT_COLUMN' ? str(node, 'newname') : undefined
    const newSchema = type === 'AlterObjectSchemaStmt' ? str(node, 'newschema') : undefined
    // A view is read through its definition under any name: renaming it stores nothing.
    const view = this.catalog.viewDefinition?.(from.schema, from.name) !== undefined
    if (newName !== undefined || newSchema !== undefined)
      this.write({relname: newName ?? from.name, schemaname: newSchema ?? from.schema}, source, false, (s) =>
        view ? [] : relationCols(from.schema, from.name, s),
      )
    else if (type === 'RenameStmt')
      this.write(source.RangeVar, source, true, (s) => {
        const cols = relationCols(from.schema, from.name, s)
        const old = cols?.find((c) => c.name === str(node, 'subname'))
        // A column the catalog does not list: which values move is unknown.
        if (view) return []
        return cols === null || old === undefined ? null : [{...old, name: str(node, 'newname') ?? ''}]
      })
    else if (type !== 'AlterTableStmt' || hasColumnRef(node))
      this.write(source.RangeVar, source, true, (s) => alterStored(node, source, s))
  }

  /** A SET or RESET: search_path changes (and role changes, which change what `$user` names) are effects. */
  private setting(node: AstObject): void {
    const kind = str(node, 'kind')
    const name = str(node, 'name')
    const local = node.is_local === true
    if (kind === 'VAR_RESET_ALL') this.effect({kind: 'search-path', value: null, local})
    else if (name === 'role' || name === 'session_authorization')
      this.effect({kind: 'search-path', value: undefined, local})
    else if (name !== 'search_path') return
    else if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET')
      this.effect({kind: 'search-path', value: null, local})
    else if (kind === 'VAR_SET_VALUE') {
      const parts = list(node, 'args').map((a) => {
        const c = unwrap(a)
        const v = c?.type === 'A_Const' ? str(obj(c.node, 'sval') ?? {}, 'sval') : undefined
        return v === undefined ? undefined : `"${v.replaceAll('"', '""')}"`
      })
      const value = parts.every((p) => p !== undefined) ? parts.join(', ') : undefined
      this.effect({kind: 'search-path', value, local})
    } else this.effect({kind: 'search-path', value: undefined, local})
  }

  /** Drops every cursor and prepared statement known so far. */
  forget(): void {
    this.cursors.clear()
    this.prepared.clear()
    this.cursorsClosed = true
    this.preparedCleared = true
    this.effect({kind: 'forget'})
  }

  private effect(e: LineageEffect): void {
    this.effects.push(e)
    this.sessionDependent = true
  }

  private declare(node: AstObject): StatementLineage {
    const name = str(node, 'portalname') ?? ''
    const holdable = ((typeof node.options === 'number' ? node.options : 0) & CURSOR_OPT_HOLD) !== 0
    const cursor: CursorLineage = {lineage: this.dispatch(node.query), holdable}
    this.cursors.set(name, cursor)
    this.effect({kind: 'declare', name, cursor})
    return NO_ROWS
  }

  private cursor(name: string): CursorLineage | undefined {
    this.sessionDependent = true
    const local = this.cursors.get(name)
    if (local !== undefined) return local ?? undefined
    return this.cursorsClosed ? undefined : this.ctx.cursors?.get(name)
  }

  private close(name: string | undefined): StatementLineage {
    if (name === undefined) {
      this.cursors.clear()
      this.cursorsClosed = true
      this.effect({kind: 'close-all'})
    } else {
      this.cursors.set(name, null)
      this.effect({kind: 'close', name})
    }
    return NO_ROWS
  }

  private prepare(node: AstObject): StatementLineage {
    const name = str(node, 'name') ?? ''
    const lineage = this.dispatch(node.query)
    this.prepared.set(name, lineage)
    this.effect({kind: 'prepare', name, lineage})
    return NO_ROWS
  }

  private prepared_(name: string): StatementLineage | undefined {
    this.sessionDependent = true
    const local = this.prepared.get(name)
    if (local !== undefined) return local ?? undefined
    return this.preparedCleared ? undefined : this.ctx.prepared?.get(name)
  }

  private deallocate(name: string | undefined): StatementLineage {
    if (name === undefined) {
      this.prepared.clear()
      this.preparedCleared = true
      this.effect({kind: 'deallocate-all'})
    } else {
      this.prepared.set(name, null)
      this.effect({kind: 'deallocate', name})
    }
    return NO_ROWS
  }
}

/**
 * True when some statement of `sql` may change what the catalog says of an existing name (or cannot be
 * read). CREATE TABLE AS only adds a name, which lineage does not know and so reads as unknown.
 */
function changesCatalog(sql: string): boolean {
  const parsed = parse(sql)
  if (!parsed.ok) return true
  return parsed.statements.some((s) => {
    const type = unwrap(s)?.type ?? ''
    return !KEEPS_CATALOG.has(type) && type !== 'CreateTableAsStmt'
  })
}

/** No FROM level and no CTE: a top-level statement's surroundings. */
const NO_ENV: Env = {level: undefined, ctes: undefined}

/** The columns a CREATE TABLE AS / SELECT INTO stores: the query's, renamed by its column list. */
function intoCols(into: AstObject | undefined, cols: Cols): Cols {
  const names = list(into ?? {}, 'colNames').map((c) => str(unwrap(c)?.node ?? {}, 'sval') ?? '')
  return rename(cols, names)
}

/**
 * What an ALTER TABLE computes from the table's columns into a column (a USING rewrite, a generated
 * column's expression), per command; null when a command that reads columns names none.
 */
function alterStored(node: AstObject, source: {RangeVar: AstObject}, state: State): Cols {
  const env: Env = {level: fromLevel([source], NO_ENV, state), ctes: undefined}
  const out: Col[] = []
  for (const c of list(node, 'cmds')) {
    const cmd = unwrap(c)?.node ?? {}
    const def = unwrap(cmd.def)
    // A column's values come from its USING or generation expression; a constraint stores nothing (what
    // it checks is judged by alterChecks).
    if (def?.type === 'Constraint') continue
    const stored =
      def?.type === 'ColumnDef'
        ? [
            def.node.raw_default,
            ...list(def.node, 'constraints')
              .map((k) => unwrap(k)?.node ?? {})
              .filter((k) => str(k, 'contype') === 'CONSTR_GENERATED')
              .map((k) => k.raw_expr),
          ]
        : cmd.def
    if (!hasColumnRef(stored ?? null)) continue
    const name = str(cmd, 'name') ?? (def?.type === 'ColumnDef' ? str(def.node, 'colname') : undefined)
    if (name === undefined) return null
    const acc = newAcc()
    collect(stored, env, state, acc)
    out.push(colOf(name, acc))
  }
  return out
}

/** A column of the relation in `env` by name, as a ColumnRef would read it. */
function column(name: string | undefined, env: Env, state: State): Acc {
  return accOfExpr({ColumnRef: {fields: [{String: {sval: name ?? ''}}]}}, env, state)
}

/** `env` with a column added to its one relation (a column ALTER TABLE adds: no stored source). */
function withColumn(env: Env, name: string): Env {
  const level = env.level
  const cols = level?.items[0]
  if (level === undefined || cols === null || cols === undefined) return env
  const added = [...cols, constCol(name)]
  return {...env, level: {...level, items: [added], rels: level.rels.map((r) => ({...r, columns: added}))}}
}

/** An index element's or EXCLUDE element's column or expression. */
function elementAcc(el: AstObject, env: Env, state: State): Acc {
  return el.expr === undefined ? column(str(el, 'name'), env, state) : accOfExpr(el.expr, env, state)
}

/**
 * CREATE INDEX evaluates its expressions for every row (what can fail is judged as it is read, fallible.ts),
 * chooses rows by its WHERE (a condition), and a unique index fails on two equal keys: they join `fails`.
 */
function indexChecks(node: AstObject, env: Env, state: State): void {
  const fails = judged(state)?.fails
  judgeCondition(node.whereClause, env, state)
  for (const p of list(node, 'indexParams')) {
    const acc = elementAcc(unwrap(p)?.node ?? {}, env, state)
    if (node.unique === true && fails !== undefined) mergeAcc(fails, acc)
  }
}

/**
 * ALTER TABLE commands that check stored rows: a CHECK added (a condition), a UNIQUE, PRIMARY KEY,
 * EXCLUDE or FOREIGN KEY constraint (whether two keys are equal, or a key exists elsewhere), a generated
 * column, a constraint validated, a column's type changed (its values converted, or the USING expression):
 * whether it fails shows the values (fallible.ts).
 */
function alterChecks(node: AstObject, env: Env, state: State): void {
  const fails = judged(state)?.fails
  if (fails === undefined) return
  const constraint = (c: AstObject, env: Env): void => {
    const keys = (names: readonly unknown[]): void => {
      for (const k of names) mergeAcc(fails, column(str(unwrap(k)?.node ?? {}, 'sval'), env, state))
    }
    const kind = str(c, 'contype')
    if (kind === 'CONSTR_CHECK') judgeCondition(c.raw_expr, env, state)
    else if (kind === 'CONSTR_GENERATED') collect(c.raw_expr, env, state, newAcc())
    keys([...list(c, 'keys'), ...list(c, 'fk_attrs')])
    // EXCLUDE (col WITH =, ...): each element's column or expression.
    for (const e of list(c, 'exclusions'))
      mergeAcc(fails, elementAcc(unwrap((listItems(e) ?? [])[0])?.node ?? {}, env, state))
  }
  for (const c of list(node, 'cmds')) {
    const cmd = unwrap(c)?.node ?? {}
    const def = unwrap(cmd.def)
    switch (str(cmd, 'subtype') ?? '') {
      case 'AT_AddConstraint':
        if (def?.type === 'Constraint') constraint(def.node, env)
        break
      case 'AT_AddColumn':
        // The new column's constraints read it (NULL or its default in every stored row) and the others.
        if (def?.type === 'ColumnDef') {
          const added = withColumn(env, str(def.node, 'colname') ?? '')
          for (const k of list(def.node, 'constraints')) constraint(unwrap(k)?.node ?? {}, added)
        }
        break
      case 'AT_ValidateConstraint':
        // The constraint's own expression is the catalog's: every column of the relation may be read.
        addRow(fails, env.level?.items[0] ?? null, state)
        break
      case 'AT_AlterColumnType': {
        const using = def?.type === 'ColumnDef' ? def.node.raw_default : undefined
        mergeAcc(
          fails,
          using === undefined ? column(str(cmd, 'name'), env, state) : accOfExpr(using, env, state),
        )
        break
      }
    }
  }
}

function accOfExpr(expr: unknown, env: Env, state: State): Acc {
  const acc = newAcc()
  collect(expr, env, state, acc)
  return acc
}

function output(col: Col): OutputColumn {
  const out = {name: col.name, sources: [...col.sources].sort(), opaque: col.opaque}
  return col.whole === true && !col.opaque ? {...out, whole: true} : out
}

function finish(cols: Cols, state: State): StatementLineage {
  const lineage = {
    columns: cols === null ? null : cols.map(output),
    reads: [...state.reads].sort(),
    readsUnknown: state.unknown,
  }
  return state.code === true ? {...lineage, runsCode: true} : lineage
}

function opaque(col: OutputColumn): OutputColumn {
  return col.opaque ? col : {...col, opaque: true}
}

/** Every RangeVar in a tree (CTE names too: an unknown name only adds an unknown read, failing closed). */
function rangeVars(value: unknown, out: AstObject[] = []): AstObject[] {
  if (Array.isArray(value)) for (const v of value) rangeVars(v, out)
  else if (value !== null && typeof value === 'object') {
    const o = value as AstObject
    for (const [k, v] of Object.entries(o)) {
      if (k === 'RangeVar' && v !== null && typeof v === 'object') out.push(v as AstObject)
      else rangeVars(v, out)
    }
  }
  return out
}

/** True when a tree references a column anywhere. */
function hasColumnRef(value: unknown): boolean {
  return JSON.stringify(value).includes('"ColumnRef"')
}

/** Session maps the proxy keeps, updated with each query's effects. */
export interface LineageSessionState {
  readonly cursors: Map<string, CursorLineage>
  readonly prepared: Map<string, StatementLineage>
}

/**
 * Applies a query's effects to the session's maps, in order. Call it once the query ran (an effect of a
 * statement the server refused leaves a stale entry; a later FETCH or EXECUTE of it fails on the server).
 */
export function applyLineageEffects(session: LineageSessionState, effects: readonly LineageEffect[]): void {
  for (const e of effects) {
    switch (e.kind) {
      case 'declare':
        session.cursors.set(e.name, e.cursor)
        break
      case 'close':
        session.cursors.delete(e.name)
        break
      case 'close-all':
        session.cursors.clear()
        break
      case 'transaction-end':
        for (const [name, c] of session.cursors) if (!c.holdable) session.cursors.delete(name)
        break
      case 'prepare':
        session.prepared.set(e.name, e.lineage)
        break
      case 'deallocate':
        session.prepared.delete(e.name)
        break
      case 'deallocate-all':
        session.prepared.clear()
        break
      case 'forget':
        session.cursors.clear()
        session.prepared.clear()
        break
      case 'write':
      case 'search-path':
      case 'temporary':
        // Tainting tables and following search_path are the proxy's part.
        break
    }
  }
}

/**
 * `ALTER TABLE t INHERIT p` or `ALTER TABLE p ATTACH PARTITION t ...`: the parent's readers read t's
 * rows under the parent's name, which a rule on t's columns does not match (UNTRACED_DDL).
 */
function inherits(value: unknown): string | undefined {
  const t = unwrap(value)
  if (t?.type !== 'AlterTableStmt') return undefined
  const moves = list(t.node, 'cmds').some((c) =>
    ['AT_AddInherit', 'AT_AttachPartition'].includes(str(unwrap(c)?.node ?? {}, 'subtype') ?? ''),
  )
  return moves ? 'a parent table' : undefined
}
