/**
 * The operations of one statement: the statement itself plus what it runs nested in it (EXPLAIN
 * ANALYZE's statement, PREPARE's statement, what EXECUTE runs, the query of CREATE TABLE AS, SELECT
 * INTO, COPY (query), DECLARE CURSOR, the elements of CREATE SCHEMA, the statements of a DO block or of
 * a SQL or PL/pgSQL function body, and MERGE's updates and deletes). Other stored bodies (views, rules,
 * policies, triggers) add their tables to the CREATE but run nothing now.
 */
import {type AstObject, columnRefFields, list, obj, str, unwrap} from './ast.js'
import {bodySql, standardBody} from './bodies.js'
import {kindOf} from './kinds.js'
import {OpBuilder, type QueryState} from './ops.js'
import {parse} from './parser.js'
import {checkSet} from './settings.js'
import {classifyWhere} from './where.js'
import {scansWhole, writeTarget} from './where-self.js'
import {openStatement, walk, walkFields, walkStatement, walkStatementNode, type WalkCtx} from './walk.js'

/** Statements whose nested queries are stored for later, not run when the statement runs. */
const STORED_BODIES = new Set([
  'ViewStmt',
  'RuleStmt',
  'CreateFunctionStmt',
  'AlterDefaultPrivilegesStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'CreateTrigStmt',
])

/** The error of an EXECUTE whose statement is unknown: it fails closed. */
export const UNKNOWN_PREPARED = 'EXECUTE of a prepared statement the guard has not seen'

/** Adds the operations of a statement node (`{"StmtType": {...}}`) under `parent`. */
export function buildStatement(
  state: QueryState,
  value: unknown,
  parent: OpBuilder | undefined,
  schema = state.ctx.defaultSchema,
): void {
  const t = unwrap(value)
  if (!t) {
    state.error ??= 'the Postgres parser returned a statement the guard cannot read'
    return
  }
  const {type, node} = t
  const ctx = (op: OpBuilder, executes = true): WalkCtx => ({state, op, scope: undefined, executes, schema})
  switch (type) {
    case 'ExplainStmt': {
      const op = state.open('explain', parent)
      walkFields(type, node, ctx(op), 'query')
      if (explainRuns(node, state)) buildStatement(state, node.query, op, schema)
      else walk(node.query, ctx(op, false))
      return
    }
    case 'PrepareStmt':
      return prepare(state, node, ctx(state.open('prepare', parent)))
    case 'ExecuteStmt':
      return execute(state, node, ctx(state.open('execute', parent)))
    case 'DeallocateStmt':
      state.open('deallocate', parent)
      // `DEALLOCATE ALL` sets isall; a name-less DEALLOCATE is read the same way.
      state.deallocate(node.isall === true ? undefined : str(node, 'name'))
      return
    case 'CreateTableAsStmt':
    case 'CopyStmt': {
      const op = state.open(type === 'CopyStmt' ? 'copy' : 'create', parent)
      walkFields(type, node, ctx(op), 'query')
      if (node.query !== undefined) buildStatement(state, node.query, op, schema)
      // COPY t FROM adds rows to t, COPY t TO reads all of it: an insert or a select of the table too,
      // so rules on writes or reads of it meet it (`COPY users TO STDOUT` under a rule on select).
      const relation = type === 'CopyStmt' ? obj(node, 'relation') : undefined
      if (relation)
        walk(relation, ctx(state.open(node.is_from === true ? 'insert' : 'select', op)), 'RangeVar')
      return
    }
    case 'DeclareCursorStmt':
      // The cursor's query is what runs (on FETCH): the DECLARE is judged as that query.
      return buildStatement(state, node.query, parent, schema)
    case 'CreateSchemaStmt': {
      const op = state.open('create', parent)
      walkFields(type, node, ctx(op), 'schemaElts')
      // The elements run with the new schema first on the search path (CreateSchemaCommand).
      const role = obj(node, 'authrole')
      const created = str(node, 'schemaname') ?? (role && str(role, 'rolename')) ?? schema
      for (const element of list(node, 'schemaElts')) buildStatement(state, element, op, created)
      return
    }
    case 'SelectStmt': {
      const into = obj(node, 'intoClause')
      if (!into) break
      // SELECT ... INTO t creates t from the query: a create and a select, like CREATE TABLE AS.
      const op = state.open('create', parent)
      walk(into, ctx(op), 'IntoClause')
      walkStatement(type, node, ctx(state.open('select', op)), 'intoClause')
      return
    }
  }
  state.apply(checkSet(type === 'VariableSetStmt' ? node : obj(node, 'setstmt')))
  const op = openStatement(state, kindOf(type, node), node, parent)
  walkStatementNode(type, node, ctx(op, !STORED_BODIES.has(type)))
  if (type === 'MergeStmt') mergeActions(node, ctx(op))
  if (type === 'InsertStmt') upsertAction(node, ctx(op))
  if (type === 'AlterTableStmt') alterActions(node, ctx(op))
  // A rule's actions run later, whenever its event does (`ON INSERT TO t DO ALSO DELETE FROM u`), under a
  // statement that names only t: they are judged now, as a function's body is at CREATE FUNCTION.
  if (type === 'RuleStmt')
    for (const action of list(node, 'actions')) buildStatement(state, action, op, schema)
  body(state, type, node, op, schema)
}

/**
 * MERGE updates and deletes target rows: each WHEN ... THEN UPDATE/DELETE is an update or delete
 * operation of the target, without a WHERE when neither the join condition (`ON true`) nor the
 * clause's own condition bounds it (NOT MATCHED BY SOURCE rows are bounded by their condition only).
 */
function mergeActions(node: AstObject, w: WalkCtx): void {
  const join = classifyWhere(node.joinCondition)
  for (const item of list(node, 'mergeWhenClauses')) {
    const clause = unwrap(item)?.node ?? {}
    const command = str(clause, 'commandType')
    const kind = command === 'CMD_UPDATE' ? 'update' : command === 'CMD_DELETE' ? 'delete' : undefined
    if (kind === undefined) continue
    const own = classifyWhere(clause.condition)
    const bySource = str(clause, 'matchKind') === 'MERGE_WHEN_NOT_MATCHED_BY_SOURCE'
    const op = w.state.open(kind, w.op)
    op.where = own.where === 'absent' && (bySource || join.where === 'absent') ? 'absent' : 'present'
    if (join.literalSensitive || own.literalSensitive) w.state.literalSensitive = true
    walk(obj(node, 'relation'), {...w, op}, 'RangeVar')
  }
}

/**
 * `INSERT ... ON CONFLICT ... DO UPDATE` updates the rows its inserts collide with: an update operation of
 * the target, which rules on `update` see. It has no WHERE (`absent`) when the rows inserted are the
 * target's own rows, read whole (`INSERT INTO t SELECT * FROM t ON CONFLICT (id) DO UPDATE SET v = NULL`
 * collides with, and so updates, every row) and its own WHERE bounds nothing; otherwise the collisions
 * bound it.
 */
function upsertAction(node: AstObject, w: WalkCtx): void {
  const conflict = obj(node, 'onConflictClause')
  if (conflict === undefined || str(conflict, 'action') !== 'ONCONFLICT_UPDATE') return
  const own = classifyWhere(conflict.whereClause)
  const target = writeTarget(node, 'fromClause')
  const whole = target !== undefined && scansWhole(node.selectStmt, target)
  const read = whole ? classifyWhere(unwrap(node.selectStmt)?.node.whereClause) : undefined
  if (own.literalSensitive || read?.literalSensitive === true) w.state.literalSensitive = true
  const op = w.state.open('update', w.op)
  op.where = own.where === 'absent' && read?.where === 'absent' ? 'absent' : 'present'
  walk(obj(node, 'relation'), {...w, op}, 'RangeVar')
}

/** ALTER TABLE subcommands that remove an object of the table (and, for a column, its data). */
const ALTER_DROPS = new Set(['AT_DropColumn', 'AT_DropConstraint'])

/**
 * What an ALTER TABLE does beyond altering: `DROP COLUMN` and `DROP CONSTRAINT` (also ALTER TYPE ...
 * DROP ATTRIBUTE) drop something, so they are a drop operation of the table as well, which rules on
 * drop see; `ALTER COLUMN c TYPE ... USING expr` writes expr into every row, an update of the table
 * without a WHERE, unless expr is the column itself, cast or not (what a type change does anyway).
 */
function alterActions(node: AstObject, w: WalkCtx): void {
  const kinds = new Set<'drop' | 'update'>()
  for (const item of list(node, 'cmds')) {
    const cmd = unwrap(item)?.node ?? {}
    const subtype = str(cmd, 'subtype') ?? ''
    if (ALTER_DROPS.has(subtype)) kinds.add('drop')
    const using = obj(obj(cmd, 'def') ?? {}, 'ColumnDef')?.raw_default
    if (subtype === 'AT_AlterColumnType' && using !== undefined && !isColumn(using, str(cmd, 'name')))
      kinds.add('update')
  }
  for (const kind of kinds) {
    const op = w.state.open(kind, w.op)
    if (kind === 'update') op.where = 'absent'
    walk(obj(node, 'relation'), {...w, op}, 'RangeVar')
  }
}

/** True when `expr` is a reference to `column` (unqualified or qualified), under any number of casts. */
function isColumn(expr: unknown, column: string | undefined): boolean {
  const t = unwrap(expr)
  if (t?.type === 'TypeCast') return isColumn(t.node.arg, column)
  return column !== undefined && columnRefFields(expr)?.at(-1) === column
}

/**
 * The statements a DO block runs, or a function body runs when called (judged at CREATE FUNCTION:
 * a later call names only the function), as operations nested under it.
 */
function body(state: QueryState, type: string, node: AstObject, op: OpBuilder, schema: string): void {
  // A SQL-standard body (BEGIN ATOMIC ... END, RETURN expr) is parsed already.
  for (const statement of standardBody(node)) buildStatement(state, statement, op, schema)
  const found = bodySql(type, node)
  if (found === undefined) return
  // The body is a string literal: a query differing only there must not share the decision.
  state.literalSensitive = true
  if (!found.ok) {
    state.error ??= `${found.error}; refused`
    return
  }
  for (const sql of found.sql) {
    const parsed = parse(sql)
    if (!parsed.ok) {
      state.error ??= `a statement in a code body could not be parsed: ${parsed.error}`
      return
    }
    for (const statement of parsed.statements) buildStatement(state, statement, op, schema)
  }
}

/** Judges the SQL that calls met so far run (dynamic-sql.ts), each under its call's operation, until none is left. */
export function buildRuns(state: QueryState): void {
  for (
    let run = state.runs.shift();
    run !== undefined && state.error === undefined;
    run = state.runs.shift()
  ) {
    const parsed = parse(run.sql)
    if (!parsed.ok) {
      state.error = `SQL given to a function as text could not be parsed: ${parsed.error}`
      return
    }
    for (const statement of parsed.statements) buildStatement(state, statement, run.op, run.schema)
  }
}

function prepare(state: QueryState, node: AstObject, w: WalkCtx): void {
  walkFields('PrepareStmt', node, w, 'query')
  const first = state.ops.length
  buildStatement(state, node.query, w.op, w.schema)
  const inner = state.ops.slice(first).map((o) => (o instanceof OpBuilder ? o.toOperation() : o))
  state.prepare(str(node, 'name') ?? '', inner)
}

function execute(state: QueryState, node: AstObject, w: WalkCtx): void {
  // Parameters are expressions: `EXECUTE p(pg_read_file('x'))` calls a function.
  walkFields('ExecuteStmt', node, w)
  const name = str(node, 'name') ?? ''
  const operations = state.prepared(name)
  if (!operations) {
    state.error ??= `${UNKNOWN_PREPARED} ("${name}")`
    return
  }
  for (const prepared of operations) {
    state.ops.push(prepared)
    w.op.addOperation(prepared)
  }
}

const FALSE_WORDS = new Set(['false', 'off'])

/**
 * Whether EXPLAIN runs its statement: an `analyze` option that is not explicitly false (defGetBoolean
 * reads 0, false and off as false; anything else either is true or makes PostgreSQL refuse the EXPLAIN).
 */
function explainRuns(node: AstObject, state: QueryState): boolean {
  let runs = false
  for (const item of list(node, 'options')) {
    const option = unwrap(item)
    if (option?.type !== 'DefElem' || str(option.node, 'defname')?.toLowerCase() !== 'analyze') continue
    const arg = unwrap(option.node.arg)
    if (arg === undefined) {
      runs = true
      continue
    }
    // The value of the option decided the operations: a query differing only there must not share them.
    state.literalSensitive = true
    const {type, node: value} = arg
    const falseValue =
      (type === 'Integer' && (value.ival ?? 0) === 0) ||
      (type === 'Boolean' && value.boolval !== true) ||
      (type === 'String' && FALSE_WORDS.has((str(value, 'sval') ?? '').toLowerCase()))
    if (!falseValue) runs = true
  }
  return runs
}
