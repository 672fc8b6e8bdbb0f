/**
 * Column lineage for MySQL and MariaDB: for each statement of a query, which stored columns each
 * output column is computed from (mysql-query.ts walks SELECTs), what the statement reads, and which
 * tables it fills from what it reads. Read the way the analyzer reads (its lexer, one reading per way
 * a server could run the executable comments, node-sql-parser); readings that disagree are merged
 * (fail closed), and a statement the parser cannot read returns rows of unknown lineage.
 */
import {calledFunction, isObj, walk} from '../mysql/walk.js'
import {readings, tokensOf} from '../mysql/comments.js'
import {lexMysql, type Token} from '../mysql/lexer.js'
import {parseStatement} from '../mysql/parser.js'
import {synth, type Recognized} from '../mysql/recognized.js'
import {recognizeStatementForm, recognizeSysCall} from '../mysql/statement-forms.js'
import {nestsTooDeep, parserText, splitStatements} from '../mysql/tokens.js'
import {MAX_QUERY_LENGTH} from '../mysql/analyze.js'
import {conditionEffects, decidedBy, newDecides} from './decides.js'
import {
  addCol,
  newAcc,
  passedOn,
  storedBack,
  unionCols,
  type Acc,
  type Col,
  type Cols,
  type State,
} from './model.js'
import {pureMysqlFunction} from './mysql-functions.js'
import {ddlEffects, tokenStatement} from './mysql-ddl.js'
import {mentionsVariable, renameWrites} from './mysql-renames.js'
import {ident, MysqlQueryLineage, type MysqlCatalogView, type MysqlState} from './mysql-query.js'
import {
  CHECKED,
  CONDITION,
  FAILS,
  DELAY,
  SERVER_FILE,
  SHARED_BY,
  type LineageEffect,
  type OutputColumn,
  type StatementLineage,
} from './types.js'

/** One statement's lineage, and whether it shows the diagnostics of the statement before it. */
export interface MysqlStatementLineage extends StatementLineage {
  /** SHOW WARNINGS, SHOW ERRORS, GET DIAGNOSTICS: messages can quote values the previous statement read. */
  readonly diagnostics: boolean
  /**
   * True when the statement certainly runs stored code (CALL, a schema-qualified or quoted function
   * call, also inside a view it reads), which can copy what it reads anywhere.
   */
  readonly runsCode?: boolean
  /** True when it sets a system variable from a value it read: `SELECT @@x` may show it from then on. */
  readonly copiesToSystemVariable?: boolean
  /**
   * True when a `?` decides which rows it returns (a LIMIT, or a condition other than a lookup):
   * executed `USING @v`, the rows show what the variable holds.
   */
  readonly placeholdersDecide?: boolean
}

/** The lineage of a MySQL query. */
export type MysqlLineageResult =
  | {
      readonly ok: true
      readonly statements: readonly MysqlStatementLineage[]
      /** `write` effects, one list per statement (tables filled from what the statement read). */
      readonly effects: readonly (readonly LineageEffect[])[]
    }
  | {readonly ok: false; readonly error: string}

/** Statements that return rows about the server or session, never a table's values. */
const METADATA =
  /^(SHOW|DESC|DESCRIBE|EXPLAIN|SET|USE|BEGIN|START|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|XA|KILL|FLUSH|HELP|LOCK|UNLOCK|DEALLOCATE|PREPARE|CHECKSUM|CHECK|OPTIMIZE|REPAIR|ANALYZE|INSTALL|UNINSTALL|RESET|PURGE|CHANGE|STOP|SIGNAL|RESIGNAL|GRANT|REVOKE|CREATE|ALTER|DROP|RENAME|TRUNCATE|DO)$/
/** Statements that leave the catalog as it was (unless they run stored code). */
const KEEPS_CATALOG = new Set([
  'SELECT',
  'WITH',
  'VALUES',
  'TABLE',
  'INSERT',
  'REPLACE',
  'UPDATE',
  'DELETE',
  'SET',
  'SHOW',
  'DESC',
  'DESCRIBE',
  'EXPLAIN',
  'USE',
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'HANDLER',
  'LOCK',
  'UNLOCK',
  'DO',
  'PREPARE',
  'DEALLOCATE',
])
const DIAGNOSTICS = /^\s*(SHOW\s+(WARNINGS|ERRORS|COUNT)|GET\s+(CURRENT\s+|STACKED\s+)?DIAGNOSTICS)\b/i

const UNKNOWN: MysqlStatementLineage = {columns: null, reads: [], readsUnknown: true, diagnostics: false}
const NO_DATA: MysqlStatementLineage = {columns: null, reads: [], readsUnknown: false, diagnostics: false}

/** SQL-level prepared statements (PREPARE name FROM '...') the session holds, by lower-case name. */
export type PreparedLineage = ReadonlyMap<string, MysqlStatementLineage>

/**
 * The lineage of each statement of `sql`, with unqualified names in `defaultSchema` and EXECUTE
 * reading `prepared`. Never throws.
 */
export function lineageMysql(
  sql: string,
  catalog: MysqlCatalogView,
  defaultSchema: string,
  prepared: PreparedLineage = new Map(),
  /** Keep the case of schema and table names (the server's lower_case_table_names is 0). */
  exactNames = false,
): MysqlLineageResult {
  try {
    if (sql.length > MAX_QUERY_LENGTH) return {ok: false, error: 'query too long'}
    const lexed = lexMysql(sql)
    if (!lexed.ok) return {ok: false, error: lexed.error}
    const all = readings(lexed.execComments)
    if (all === null) return {ok: false, error: 'too many executable comments'}
    const results = all.map((r) =>
      lineageOfReading(tokensOf(lexed.tokens, r), {catalog, exactNames}, defaultSchema, new Map(prepared)),
    )
    return mergeReadings(results)
  } catch (e) {
    return {ok: false, error: e instanceof RangeError ? 'statement nested too deeply' : 'internal error'}
  }
}

type Reading = {statements: MysqlStatementLineage[]; effects: LineageEffect[][]}

/** The catalog, and whether names keep their case. */
interface Names {
  readonly catalog: MysqlCatalogView
  readonly exactNames: boolean
}

function lineageOfReading(
  tokens: readonly Token[],
  names: Names,
  schema: string,
  prepared: Map<string, MysqlStatementLineage>,
): Reading {
  const out: Reading = {statements: [], effects: []}
  let current = schema
  // Set once a statement of the query may have changed the catalog (DDL, stored code).
  let changedCatalog = false
  let systemCopied = names.catalog.systemVariablesCopied === true
  for (const stmt of splitStatements(tokens)) {
    const text = parserText(stmt)
    const first = stmt[0]?.type === 'word' ? stmt[0].value.toUpperCase() : ''
    const after = changedCatalog
    if (!KEEPS_CATALOG.has(first)) changedCatalog = true
    const stale = (e: LineageEffect): LineageEffect => (e.kind === 'write' ? {...e, afterDdl: after} : e)
    const session = preparedStatement(first, stmt, names, current, prepared)
    if (session !== undefined) {
      out.statements.push(session.lineage)
      out.effects.push(session.effects.map(stale))
      continue
    }
    const explained = explainedStatement(first, stmt)
    if (explained !== undefined) {
      // A plan can quote values (const tables are read while planning; EXPLAIN EXTENDED's note shows
      // them): its rows and diagnostics are as sensitive as what the explained statement reads.
      const reading = lineageOfReading(explained, names, current, new Map(prepared))
      const inner = reading.statements
      const l = inner.length === 1 ? (inner[0] ?? UNKNOWN) : UNKNOWN
      out.statements.push({columns: null, reads: l.reads, readsUnknown: l.readsUnknown, diagnostics: false})
      // MariaDB's ANALYZE runs the statement (an ANALYZE UPDATE writes): everything it does is done.
      if (executes(stmt, explained)) {
        out.effects.push(reading.effects.flat().map(stale))
        continue
      }
      // Its row counts (estimated) follow the statement's conditions, and planning evaluates what it can
      // (const tables), which may fail.
      out.effects.push(
        reading.effects
          .flat()
          .filter((e) => e.kind === 'write' && (e.table === CONDITION || e.table === FAILS)),
      )
      continue
    }
    if (first === 'DO' && stmt.length > 1) {
      // DO evaluates its expressions as a SELECT would, and returns no rows: what they call, keep or
      // pass to stored functions is the SELECT's.
      const inner = lineageOfReading([synth('SELECT'), ...stmt.slice(1)], names, current, new Map(prepared))
      const l = inner.statements.length === 1 ? (inner.statements[0] ?? UNKNOWN) : UNKNOWN
      out.statements.push({...l, columns: []})
      out.effects.push(inner.statements.length === 1 ? inner.effects.flat().map(stale) : [])
      if (l.copiesToSystemVariable === true) systemCopied = true
      continue
    }
    // HANDLER and CHECKSUM TABLE, which the parser does not read, are read from their tokens.
    const tableNames = {catalog: names.catalog, schema: current, exactNames: names.exactNames}
    const byTokens = tokenStatement(stmt, tableNames, prepared)
    if (byTokens !== undefined) {
      out.statements.push(byTokens.lineage)
      out.effects.push(byTokens.effects.map(stale))
      continue
    }
    const parsed = nestsTooDeep(stmt) ? null : parseStatement(text)
    const ast = parsed?.ast
    if (first === 'USE' && stmt[1] !== undefined) {
      const used = stmt[1].value ?? stmt[1].text
      current = names.exactNames ? used : used.toLowerCase()
    }
    // SHOW VARIABLES, information_schema.SESSION_VARIABLES: they show what the session copied there.
    if (systemCopied && stmt.some((t) => t.type !== 'string' && /variables$/i.test(t.value))) {
      out.statements.push(UNKNOWN)
      out.effects.push([])
      continue
    }
    if (!isObj(ast)) {
      out.statements.push(unparsed(first, text))
      // DDL the parser cannot read still renames, copies and checks stored values.
      out.effects.push([...renameWrites(stmt, tableNames), ...ddlEffects(stmt, tableNames)].map(stale))
      continue
    }
    const decides = newDecides()
    const state: MysqlState = {
      catalog: names.catalog,
      exactNames: names.exactNames,
      schema: current,
      reads: new Set(),
      unknown: false,
      viewDepth: 0,
      runsCode: false,
      systemVariablesCopied: systemCopied,
      decides,
    }
    let computed = statementOf(ast, state, first, text)
    conditionsOf(ast, state)
    // Under ANSI_QUOTES "code" is a column: the rows may hold any column of what the statement names.
    if (stmt.some((t) => t.doubleQuoted === true)) {
      readTables(ast, state, new MysqlQueryLineage(state, parseView))
      if (mayNameColumn(stmt, state))
        computed = {...computed, ...readsOf(state), columns: computed.columns?.map(opaque) ?? null}
    }
    const calls = computedCalls(ast)
    const decided = state.placeholders === true ? {...computed, placeholdersDecide: true} : computed
    const withCode = state.runsCode ? {...decided, runsCode: true} : decided
    const lineage = keepsForSession(calls) ? {...withCode, copiesToSystemVariable: true} : withCode
    if (lineage.copiesToSystemVariable === true) systemCopied = true
    out.statements.push(lineage)
    out.effects.push(
      [
        ...writes(ast, state, lineage, text),
        ...renameWrites(stmt, state),
        ...ddlEffects(stmt, state),
        ...sequenceWrites(stmt, lineage),
        ...passedWrites(ast, calls, state),
        ...conditionEffects(decides),
        ...delayWrites(ast, lineage),
      ].map(stale),
    )
    if (lineage.runsCode === true) changedCatalog = true
  }
  return out
}

/**
 * PREPARE name FROM 'text' (the text's lineage is remembered), EXECUTE name (its rows are the prepared
 * text's), DEALLOCATE PREPARE name; undefined for other statements. PREPARE FROM a variable is
 * refused by the analyzer; an EXECUTE of an unknown name has unknown lineage.
 */
function preparedStatement(
  first: string,
  stmt: readonly Token[],
  names: Names,
  schema: string,
  prepared: Map<string, MysqlStatementLineage>,
): {lineage: MysqlStatementLineage; effects: LineageEffect[]} | undefined {
  const immediate = immediateText(first, stmt)
  if (immediate !== undefined) {
    // Prepared and executed at once: its rows and what it stores are the text's.
    const {lineage, stores} = preparedText(immediate.text, names, immediate.schema ?? schema, prepared)
    return {
      lineage: immediate.using
        ? {...lineage, columns: lineage.columns?.map(opaque) ?? null, readsUnknown: true}
        : lineage,
      effects: immediate.using ? [...stores, ...variablesDecide(lineage)] : stores,
    }
  }
  const name = stmt[1]?.type === 'word' || stmt[1]?.type === 'ident' ? stmt[1].value.toLowerCase() : undefined
  if (name === undefined) return undefined
  if (first === 'EXECUTE') {
    const l = prepared.get(name) ?? UNKNOWN
    // A value passed with USING @v can be anything the session read: every column may show it.
    if (!stmt.some((t) => t.type === 'variable')) return {lineage: l, effects: []}
    return {
      lineage: {...l, columns: l.columns?.map(opaque) ?? null, readsUnknown: true},
      effects: variablesDecide(l),
    }
  }
  const drop = (first === 'DEALLOCATE' || first === 'DROP') && /^PREPARE$/i.test(stmt[1]?.value ?? '')
  if (drop) {
    const target = stmt[2]?.value.toLowerCase() ?? ''
    prepared.delete(target)
    return {lineage: NO_DATA, effects: [{kind: 'deallocate', name: target}]}
  }
  if (
    first !== 'PREPARE' ||
    !/^FROM$/i.test(stmt[2]?.value ?? '') ||
    stmt[3]?.type !== 'string' ||
    stmt.length !== 4
  )
    return undefined
  const {lineage, stores} = preparedText(stmt[3].value, names, schema, prepared)
  prepared.set(name, lineage)
  // What the prepared statement would store is judged (and tainted) when it is prepared.
  return {lineage: {...NO_DATA, reads: lineage.reads}, effects: [{kind: 'prepare', name, lineage}, ...stores]}
}

/** The lineage of a prepared statement's text, and what it stores (unknown unless it is one statement). */
function preparedText(
  text: string,
  names: Names,
  schema: string,
  prepared: Map<string, MysqlStatementLineage>,
): {lineage: MysqlStatementLineage; stores: LineageEffect[]} {
  const lexed = lexMysql(text)
  const inner =
    lexed.ok && lexed.execComments.length === 0
      ? lineageOfReading(lexed.tokens, names, schema, new Map(prepared))
      : undefined
  const lineage = inner?.statements.length === 1 ? (inner.statements[0] ?? UNKNOWN) : UNKNOWN
  const stores = inner?.statements.length === 1 ? inner.effects.flat().filter((e) => e.kind === 'write') : []
  return {lineage, stores}
}

/**
 * The text a statement prepares and executes at once (MariaDB's `EXECUTE IMMEDIATE 'text' [USING ...]`,
 * `CALL sys.execute_prepared_stmt('text')`), as the analyzer's recognizers read it.
 */
function immediateText(first: string, stmt: readonly Token[]): Recognized['immediate'] {
  if (first !== 'EXECUTE' && first !== 'CALL') return undefined
  const r = recognizeSysCall(stmt) ?? recognizeStatementForm(stmt)
  return r !== null && 'kind' in r ? r.immediate : undefined
}

const EXPLAINS = new Set(['EXPLAIN', 'DESC', 'DESCRIBE', 'ANALYZE'])
const EXPLAINABLE = new Set(['SELECT', 'WITH', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'TABLE', 'VALUES'])

/** The statement an EXPLAIN, DESCRIBE or ANALYZE statement plans; undefined for `DESCRIBE table`, `ANALYZE TABLE`. */
function explainedStatement(first: string, stmt: readonly Token[]): readonly Token[] | undefined {
  if (!EXPLAINS.has(first)) return undefined
  // ANALYZE [NO_WRITE_TO_BINLOG | LOCAL] TABLE: table statistics, not a plan.
  if (first === 'ANALYZE' && /^(TABLE|TABLES|NO_WRITE_TO_BINLOG|LOCAL)$/i.test(stmt[1]?.value ?? ''))
    return undefined
  for (let i = 1; i < Math.min(stmt.length, 8); i++) {
    const t = stmt[i]
    if (t === undefined) break
    if (t.text === '(' || (t.type === 'word' && EXPLAINABLE.has(t.value.toUpperCase()))) return stmt.slice(i)
  }
  return undefined
}

/** Whether a plan statement runs the statement it explains: ANALYZE, or EXPLAIN ANALYZE, before it. */
function executes(stmt: readonly Token[], explained: readonly Token[]): boolean {
  const prefix = stmt.slice(0, stmt.length - explained.length)
  return prefix.some((t) => t.type === 'word' && t.value.toUpperCase() === 'ANALYZE')
}

/** A statement node-sql-parser could not read: metadata statements return no table data. */
function unparsed(first: string, text: string): MysqlStatementLineage {
  if (DIAGNOSTICS.test(text)) return {...NO_DATA, diagnostics: true}
  if (first === 'CALL') return {...UNKNOWN, runsCode: true}
  return METADATA.test(first) ? NO_DATA : UNKNOWN
}

function statementOf(
  ast: Record<string, unknown>,
  state: MysqlState,
  first: string,
  text: string,
): MysqlStatementLineage {
  const walker = new MysqlQueryLineage(state, parseView)
  if (ast.type === 'select') {
    const cols = walker.select(ast, {level: undefined, ctes: undefined})
    const into = isObj(ast.into) && typeof ast.into.keyword === 'string'
    return {
      columns: into ? [] : cols === null ? null : cols.map(outputColumn),
      reads: [...state.reads].sort(),
      readsUnknown: state.unknown,
      diagnostics: false,
    }
  }
  if (ast.type === 'call') return {...UNKNOWN, runsCode: true}
  if (ast.type === 'execute') return UNKNOWN
  if (DIAGNOSTICS.test(text)) return {...NO_DATA, diagnostics: true}
  if (ast.type === 'create') {
    // CREATE TABLE ... AS SELECT returns no rows, but fills a table from what it reads.
    readTables(ast, state, walker)
    return {columns: [], reads: [...state.reads].sort(), readsUnknown: state.unknown, diagnostics: false}
  }
  if (METADATA.test(first)) return valuesRead(ast, state, walker)
  // INSERT, UPDATE, DELETE, REPLACE: rows only through RETURNING, from anything they read.
  readTables(ast, state, walker)
  return {columns: null, reads: [...state.reads].sort(), readsUnknown: state.unknown, diagnostics: false}
}

/** Built-ins whose point is how long they take (DELAY). */
const DELAYS = new Set(['sleep', 'benchmark'])

/** A delay's duration may show anything the statement reads: `SELECT IF(ASCII(email) > 100, SLEEP(1), 0)`. */
function delayWrites(ast: unknown, l: MysqlStatementLineage): LineageEffect[] {
  const delay = walk(ast).functions.find((f) => DELAYS.has(f))
  if (delay === undefined) return []
  return [
    {
      kind: 'write',
      table: `${DELAY}${delay}()`,
      reads: l.reads,
      unknown: l.readsUnknown || mentionsVariable(ast),
      columns: null,
      temporary: false,
      afterDdl: false,
    },
  ]
}

/**
 * Judges the conditions of a statement other than a SELECT (which statementOf read): an UPDATE's or
 * DELETE's WHERE and joins, read as a SELECT of its SET values over its tables, and every query
 * elsewhere in it (INSERT ... SELECT, CREATE TABLE ... SELECT, a SET's subquery).
 */
function conditionsOf(ast: Record<string, unknown>, state: MysqlState): void {
  if (ast.type === 'select') return
  const walker = new MysqlQueryLineage(state, parseView)
  const top = {level: undefined, ctes: undefined}
  let rest: Record<string, unknown> = ast
  if (ast.type === 'update' || ast.type === 'delete') {
    const from = ast.type === 'update' ? ast.table : Array.isArray(ast.from) ? ast.from : ast.table
    const set = Array.isArray(ast.set) ? ast.set.filter(isObj) : []
    // ORDER BY ... LIMIT chooses the rows it changes by their order.
    const columns = set.map((s) => ({expr: s.value, as: null}))
    walker.select({type: 'select', from, columns, where: ast.where, orderby: ast.orderby}, top)
    rest = {limit: ast.limit}
  }
  const visit = (v: unknown, depth: number): void => {
    if (depth > 200) throw new RangeError('statement nested too deeply')
    if (Array.isArray(v)) return v.forEach((x) => visit(x, depth + 1))
    if (!isObj(v)) return
    if (v.type === 'select') return void walker.select(v, top)
    for (const [k, child] of Object.entries(v)) if (k !== 'loc') visit(child, depth + 1)
  }
  visit(rest, 0)
}

/** A prepared statement whose `?` decide its rows, run with variables: what they hold is untraced. */
function variablesDecide(l: MysqlStatementLineage): LineageEffect[] {
  if (l.placeholdersDecide !== true) return []
  return [decidedBy(CONDITION, {sources: new Set(), opaque: true})]
}

/**
 * A statement that returns no rows can still quote a value it computes in its error message
 * (`SET sql_mode = (SELECT code FROM vault)`, `SET sql_mode = @v`): it reads what its subqueries and
 * variables hold. The variables a SET assigns to are not read.
 */
function valuesRead(
  ast: Record<string, unknown>,
  state: State,
  walker: MysqlQueryLineage,
): MysqlStatementLineage {
  const assigns = ast.type === 'set' && Array.isArray(ast.expr) ? ast.expr.filter(isObj) : []
  const read = (v: unknown): boolean => mentionsVariable(v) || mentionsSelect(v)
  const values = assigns.length > 0 ? assigns.map((e) => e.right) : ast
  const variable = mentionsVariable(values)
  if (!read(values)) return NO_DATA
  readTables(ast, state, walker)
  const copies = assigns.some((e) => isObj(e.left) && e.left.prefix !== '@' && read(e.right))
  return {
    columns: [],
    ...readsOf(state),
    readsUnknown: state.unknown || variable,
    diagnostics: false,
    ...(copies ? {copiesToSystemVariable: true} : {}),
  }
}

/** Adds every column of every relation (and subquery) a statement mentions to its reads. */
function readTables(ast: Record<string, unknown>, state: State, walker: MysqlQueryLineage): void {
  for (const t of walk(ast).tables) {
    const schema = t.schema ?? state.schema
    if (state.catalog.viewDefinition?.(schema, t.name) !== undefined) {
      // The view's own reads come from expanding it.
      walker.select(
        {type: 'select', from: [{db: schema, table: t.name}], columns: []},
        {level: undefined, ctes: undefined},
      )
      continue
    }
    const cols = state.catalog.columns(schema, t.name)
    if (cols === undefined) state.unknown = true
    else for (const c of cols) state.reads.add(`${schema}.${t.name}.${c}`)
  }
}

/**
 * CREATE TABLE ... SELECT, INSERT / REPLACE (from a SELECT, a subquery, a variable, or columns through
 * ON DUPLICATE KEY UPDATE) and UPDATE: each table the statement stores rows in holds what it read, and
 * each stored column what its value is computed from (`columns`, null when not known).
 */
function writes(
  ast: Record<string, unknown>,
  state: MysqlState,
  l: MysqlStatementLineage,
  text: string,
): LineageEffect[] {
  // LOAD DATA INFILE (not LOCAL) loads a file of the server's: what an earlier INTO OUTFILE stored there.
  if (ast.type === 'load_data') {
    const table = isObj(ast.table) ? ident(ast.table.table) : null
    if (table === null || /\bLOCAL\s+INFILE\b/i.test(text)) return []
    const target = `${(isObj(ast.table) ? ident(ast.table.db) : null) ?? state.schema}.${table}`
    return [
      {
        kind: 'write',
        table: target,
        reads: [],
        unknown: true,
        columns: null,
        temporary: false,
        afterDdl: false,
      },
    ]
  }
  const unknown = l.readsUnknown || mentionsVariable(ast)
  const targets = storedTargets(ast, state)
  const file = targets.some((t) => t.table.startsWith(SERVER_FILE))
  if (l.reads.length === 0 && !unknown && !file) return []
  const out: LineageEffect[] = targets.map((t) => ({
    kind: 'write',
    table: t.table,
    reads: l.reads,
    unknown,
    columns: t.columns,
    temporary: t.temporary,
    afterDdl: false,
  }))
  // A file of the server's may become any table's data (a MERGE table's .MRG list, a .frm written into
  // the data directory), whatever it holds: it may expose anything (after what it copies, judged first).
  for (const t of targets)
    if (t.table.startsWith(SERVER_FILE))
      out.push({
        kind: 'write',
        table: t.table,
        reads: [],
        unknown: true,
        columns: null,
        temporary: false,
        afterDdl: false,
      })
  // The target may have a type, CHECK or UNIQUE key that refuses some values (`c CHAR(1), CHECK (c <
  // 'm')`): whether the write fails (or warns) shows what it stores (CHECKED).
  for (const t of targets) {
    if (t.checked === undefined) continue
    const acc = newAcc()
    // Which column gets what is unknown, or a value untraced (a variable): anything the statement read.
    const anything = (): void => {
      for (const s of l.reads) acc.sources.add(s)
      if (unknown) acc.opaque = true
    }
    if (t.checked === null) anything()
    else
      for (const c of t.checked) {
        addCol(acc, {...c, opaque: false})
        if (c.opaque) anything()
      }
    if (acc.sources.size > 0 || acc.opaque) out.push(decidedBy(CHECKED, acc))
  }
  return out
}

/** MariaDB's sequence functions name a sequence, not a value (SETVAL's value: sequenceWrites). */
const SEQUENCE_FUNCTIONS = new Set(['nextval', 'lastval', 'setval'])

/** A call given columns, a variable or a subquery, and what its arguments name. */
interface ComputedCall {
  readonly name: string
  readonly passed: PassedColumns
}

/** Every call in a statement (anywhere: a WHERE too) whose arguments are computed from something read. */
function computedCalls(ast: unknown): ComputedCall[] {
  const calls: ComputedCall[] = []
  const visit = (v: unknown, depth: number): void => {
    if (depth > 500) return
    if (Array.isArray(v)) return v.forEach((x) => visit(x, depth + 1))
    if (!isObj(v)) return
    const name = v.type === 'function' || v.type === 'aggr_func' ? calledFunction(v) : null
    if (name !== null) {
      const passed = argumentColumns(v.args)
      if (passed.all || passed.columns.size > 0 || passed.variable) calls.push({name, passed})
    }
    for (const [k, child] of Object.entries(v)) if (k !== 'loc') visit(child, depth + 1)
  }
  visit(ast, 0)
  return calls
}

/**
 * Calls of functions lineage cannot follow (a stored function, which may store its arguments in any
 * table; a built-in not known to compute from its arguments alone, such as GET_LOCK, whose lock name
 * other sessions see): each stores, in what the function keeps, the columns its arguments name among
 * those of every relation the statement mentions (a subquery, `*` or a name no relation has: all of
 * them; a user variable: anything the session read).
 */
function passedWrites(ast: unknown, calls: readonly ComputedCall[], state: MysqlState): LineageEffect[] {
  const kept = calls.filter(({name}) => !pureMysqlFunction(name) && !SEQUENCE_FUNCTIONS.has(name))
  if (kept.length === 0 || !isObj(ast)) return []
  const mentioned: MysqlState = {...state, reads: new Set(), unknown: false, viewDepth: 0}
  readTables(ast, mentioned, new MysqlQueryLineage(mentioned, parseView))
  const reads = [...mentioned.reads].sort()
  return kept.map(({name, passed}): LineageEffect => {
    const named = reads.filter((c) => passed.columns.has(c.slice(c.lastIndexOf('.') + 1).toLowerCase()))
    const found = new Set(named.map((c) => c.slice(c.lastIndexOf('.') + 1).toLowerCase()))
    const all = passed.all || found.size < passed.columns.size
    return {
      kind: 'write',
      table: `${SHARED_BY}${name}()`,
      reads: all ? reads : named,
      unknown: passed.variable || mentioned.unknown,
      columns: null,
      temporary: false,
      afterDdl: false,
    }
  })
}

/**
 * `LAST_INSERT_ID(expr)` keeps its argument for the session: a later `LAST_INSERT_ID()` (or
 * `@@last_insert_id`) returns it with no lineage. Given columns, a variable or a subquery, it counts as
 * a copy into the session's system variables, which are then of unknown lineage.
 */
function keepsForSession(calls: readonly ComputedCall[]): boolean {
  return calls.some((c) => c.name === 'last_insert_id')
}

/** The column names arguments mention (lower-case), and whether they pass every column or a user variable. */
interface PassedColumns {
  readonly columns: Set<string>
  all: boolean
  variable: boolean
}

/** What arguments pass (PassedColumns). */
function argumentColumns(args: unknown): PassedColumns {
  const found: PassedColumns = {columns: new Set<string>(), all: false, variable: false}
  const visit = (v: unknown, depth: number): void => {
    if (depth > 500) {
      found.all = true
      return
    }
    if (Array.isArray(v)) return v.forEach((x) => visit(x, depth + 1))
    if (!isObj(v)) return
    if (isObj(v.ast)) {
      found.all = true
      return
    }
    if (v.type === 'column_ref') {
      const column = ident(v.column)
      if (column === null || column === '*') found.all = true
      else found.columns.add(column)
      return
    }
    if (v.type === 'var' && v.prefix !== '@@') found.variable = true
    for (const [k, child] of Object.entries(v)) if (k !== 'loc') visit(child, depth + 1)
  }
  visit(args, 0)
  return found
}

/**
 * MariaDB `SETVAL(seq, value)` keeps a value in a sequence other sessions read (`SELECT * FROM seq`):
 * called in a statement that reads columns, it stores everything the statement reads.
 */
function sequenceWrites(stmt: readonly Token[], l: MysqlStatementLineage): LineageEffect[] {
  const calls = stmt.some(
    (t, i) => t.type === 'word' && /^SETVAL$/i.test(t.value) && stmt[i + 1]?.text === '(',
  )
  // Without a table or a variable, its value is a constant.
  const reads = stmt.some((t) => t.type === 'variable' || (t.type === 'word' && /^FROM$/i.test(t.value)))
  if (!calls || !reads) return []
  return [
    {
      kind: 'write',
      table: `${SHARED_BY}setval()`,
      reads: l.reads,
      unknown: l.readsUnknown,
      columns: null,
      temporary: false,
      afterDdl: false,
    },
  ]
}

/** A table a statement stores rows in, and what each stored column gets. */
interface StoredTarget {
  readonly table: string
  readonly temporary: boolean
  readonly columns: readonly OutputColumn[] | null
  /**
   * The values stored where the table's column definitions check them (types, CHECK, UNIQUE keys): all
   * of them into a temporary table defined with its own columns; into a stored table, all but a column's
   * own value stored back whole (`SET email = email`), which passed its checks already.
   */
  readonly checked?: Cols
}

/** The tables a statement stores rows in (none for a write of constants only). */
function storedTargets(ast: Record<string, unknown>, state: MysqlState): StoredTarget[] {
  const tables = Array.isArray(ast.table) ? ast.table.filter(isObj) : []
  const first = tables[0]
  const name = (t: Record<string, unknown>): string | null => {
    const table = ident(t.table)
    return table === null ? null : `${ident(t.db) ?? state.schema}.${table}`
  }
  const select = (node: Record<string, unknown>): Cols => {
    const walker = new MysqlQueryLineage({...state, reads: new Set(), unknown: false}, parseView)
    try {
      return walker.select(node, {level: undefined, ctes: undefined})
    } catch (error) {
      if (error instanceof RangeError) return null
      throw error
    }
  }
  const into = isObj(ast.into) ? ast.into : undefined
  // The parser keeps the keyword as written (`into outfile` is lower-case).
  if (ast.type === 'select' && into !== undefined && /^(OUTFILE|DUMPFILE)$/i.test(String(into.keyword))) {
    // SELECT ... INTO OUTFILE stores the rows in a file of the server's, where LOAD DATA reads them back.
    const path = isObj(into.expr) && typeof into.expr.value === 'string' ? into.expr.value : ''
    const cols = select({...ast, into: null})
    return [
      {
        table: `${SERVER_FILE}${path}`,
        temporary: false,
        columns: cols === null ? null : cols.map(outputColumn),
      },
    ]
  }
  const target = first === undefined ? null : name(first)
  if (first === undefined || target === null) return []
  /** Assignments (`SET a = expr`) read over `from`: one stored column per assignment. */
  const assigned = (set: unknown, from: unknown[] | null): Cols => {
    const items = Array.isArray(set) ? set.filter(isObj) : []
    const columns = items.map((s) => ({expr: s.value, as: ident(s.column) ?? ''}))
    return select({type: 'select', from, columns})
  }
  const stored = (columns: Cols, temporary = false, checked?: Cols): StoredTarget[] => [
    {table: target, temporary, checked, columns: columns === null ? null : columns.map(outputColumn)},
  ]
  /** A write into an existing stored table: what it stores is checked there (CHECKED). */
  const existing = (table: string, columns: Cols): StoredTarget => ({
    table,
    temporary: false,
    checked: columns === null ? null : columns.filter((c) => !storedBack(table, c)),
    columns: columns === null ? null : columns.map(outputColumn),
  })
  if (ast.type === 'create') {
    if (ast.keyword !== 'table' || !isObj(ast.query_expr)) return []
    // With column definitions, the SELECT's columns match them by name or add to them: not followed.
    const defined = Array.isArray(ast.create_definitions) && ast.create_definitions.length > 0
    const cols = select(ast.query_expr)
    return stored(defined ? null : cols, ast.temporary === 'temporary', defined ? cols : undefined)
  }
  if (ast.type === 'insert' || ast.type === 'replace') {
    // Constants only (VALUES (1, 'x')) store nothing read.
    const reads = isObj(ast.values) && ast.values.type === 'select'
    if (!reads && !mentionsSelect(ast) && !mentionsVariable(ast) && !isObj(ast.on_duplicate_update)) return []
    const named = Array.isArray(ast.columns) ? ast.columns.map((c) => ident(c) ?? '') : undefined
    const [schema = '', table = ''] = [
      target.slice(0, target.indexOf('.')),
      target.slice(target.indexOf('.') + 1),
    ]
    const names = named ?? state.catalog.columns(schema, table)
    const out = new Map<string, Acc>()
    const add = (n: string, c: Col | undefined): void => {
      let acc = out.get(n)
      if (acc === undefined) out.set(n, (acc = newAcc()))
      if (c === undefined) acc.opaque = true
      else addCol(acc, c)
    }
    const rows: Cols[] = []
    const values = isObj(ast.values) ? ast.values : undefined
    if (values?.type === 'select') rows.push(select(values))
    else if (values?.type === 'values' && Array.isArray(values.values))
      for (const row of values.values.filter(isObj)) {
        const exprs: unknown[] = Array.isArray(row.value) ? row.value : []
        rows.push(select({type: 'select', from: null, columns: exprs.map((expr) => ({expr, as: null}))}))
      }
    for (const row of rows) {
      // Rows of unknown width, or a table whose columns are unknown: which column gets what is unknown.
      if (row === null || names === undefined) return [existing(target, null)]
      row.forEach((c, i) => add(names[i] ?? '', c))
    }
    const sets = [ast.set, isObj(ast.on_duplicate_update) ? ast.on_duplicate_update.set : undefined]
    for (const set of sets) {
      if (!Array.isArray(set)) continue
      const cols = assigned(set, [first])
      if (cols === null) return [existing(target, null)]
      for (const c of cols) add(c.name, c)
    }
    return [
      existing(
        target,
        [...out].map(([n, acc]) => passedOn(n, acc)),
      ),
    ]
  }
  if (ast.type === 'update') {
    const items = Array.isArray(ast.set) ? ast.set.filter(isObj) : []
    const cols = assigned(items, tables)
    const byTable = new Map<string, Col[]>()
    items.forEach((item, i) => {
      const qualifier = ident(item.table)
      const c = cols?.[i]
      // The table an assignment writes: the one its qualifier names; unqualified, any that could hold it.
      const owners = tables.filter((t) =>
        qualifier === null
          ? tables.length === 1 || mayHold(t, ident(item.column) ?? '', state)
          : (ident(t.as) ?? ident(t.table)) === qualifier,
      )
      for (const t of owners.length > 0 ? owners : tables) {
        const key = name(t)
        if (key === null) continue
        const entry = byTable.get(key) ?? []
        entry.push(c ?? {name: ident(item.column) ?? '', sources: new Set(), opaque: true})
        byTable.set(key, entry)
      }
    })
    return [...byTable].map(([table, e]) => existing(table, cols === null ? null : e))
  }
  return []
}

/** Whether a table of a multi-table UPDATE may have a column of this name (unknown tables may). */
function mayHold(t: Record<string, unknown>, column: string, state: MysqlState): boolean {
  const table = ident(t.table)
  if (table === null) return true
  const cols = state.catalog.columns(ident(t.db) ?? state.schema, table)
  return cols === undefined || cols.some((c) => c.toLowerCase() === column)
}

function mentionsSelect(v: unknown, depth = 0): boolean {
  if (depth > 200) return true
  if (Array.isArray(v)) return v.some((x) => mentionsSelect(x, depth + 1))
  if (!isObj(v)) return false
  if (isObj(v.ast)) return true
  if (v.type === 'select' && depth > 0) return true
  return Object.entries(v).some(([k, x]) => k !== 'loc' && mentionsSelect(x, depth + 1))
}

/**
 * True when a "…" string of the statement could be a column under ANSI_QUOTES: it is a column of a
 * table the statement reads, a name the statement uses (an alias), or the tables are not all known.
 */
function mayNameColumn(stmt: readonly Token[], state: State): boolean {
  if (state.unknown) return true
  const names = new Set([...state.reads].map((c) => c.slice(c.lastIndexOf('.') + 1).toLowerCase()))
  for (const t of stmt) if (t.type === 'word' || t.type === 'ident') names.add(t.value.toLowerCase())
  return stmt.some((t) => t.doubleQuoted === true && names.has(t.value.toLowerCase()))
}

/** The reads a statement's state collected, as lineage lists them. */
function readsOf(state: State): {reads: string[]; readsUnknown: boolean} {
  return {reads: [...state.reads].sort(), readsUnknown: state.unknown}
}

function opaque(c: OutputColumn): OutputColumn {
  return {...c, opaque: true}
}

function outputColumn(c: Col): OutputColumn {
  const out = {name: c.name, sources: [...c.sources].sort(), opaque: c.opaque}
  return c.whole === true && !c.opaque ? {...out, whole: true} : out
}

/** A view's stored definition, read like any statement; null when it cannot be read. */
function parseView(sql: string): unknown {
  const lexed = lexMysql(sql)
  if (!lexed.ok || lexed.execComments.length > 0) return null
  const stmts = splitStatements(lexed.tokens)
  if (stmts.length !== 1 || stmts[0] === undefined) return null
  return parseStatement(parserText(stmts[0]))?.ast ?? null
}

/** Readings of executable comments that disagree: union of what each says, per statement. */
function mergeReadings(results: readonly Reading[]): MysqlLineageResult {
  const first = results[0]
  if (first === undefined) return {ok: false, error: 'no reading'}
  if (results.length === 1) return {ok: true, statements: first.statements, effects: first.effects}
  if (results.some((r) => r.statements.length !== first.statements.length))
    return {ok: false, error: 'executable comments change the number of statements'}
  const statements = first.statements.map((_, i): MysqlStatementLineage => {
    const ls = results.map((r) => r.statements[i] as MysqlStatementLineage)
    const cols = unionCols(
      ls.map((l) =>
        l.columns === null
          ? null
          : l.columns.map((c) => ({name: c.name, sources: new Set(c.sources), opaque: c.opaque})),
      ),
    )
    const known = ls.every((l) => l.columns !== null)
    return {
      columns: known && cols !== null ? cols.map(outputColumn) : null,
      reads: [...new Set(ls.flatMap((l) => l.reads))].sort(),
      readsUnknown: ls.some((l) => l.readsUnknown),
      diagnostics: ls.some((l) => l.diagnostics),
      ...(ls.some((l) => l.runsCode === true) ? {runsCode: true} : {}),
    }
  })
  return {
    ok: true,
    statements,
    effects: first.statements.map((_, i) => results.flatMap((r) => r.effects[i] ?? [])),
  }
}
