/**
 * The generic walker: visits every node of a statement's parse tree and records every relation
 * (RangeVar) and every function call (FuncCall) wherever it appears, so that what the parser sees,
 * policy sees. The few node types it treats specially: WITH scopes (a CTE shadows a table of its
 * name), data-modifying statements nested in an executed statement (each becomes an operation of its
 * own), relations named by plain dotted names (DDL objects, a sequence's OWNED BY), EXECUTE met
 * where it does not run, and set_config() calls that would change how the server reads strings.
 */
import type {Kind} from '../types.js'
import {type AstObject, isObject, list, listItems, obj, str, stringList, unwrap, wrapperType} from './ast.js'
import {kindOf} from './kinds.js'
import {functionName, qualifiedRelationName, rangeVarName} from './names.js'
import {namedRelations} from './objects.js'
import type {OpBuilder, QueryState} from './ops.js'
import {dynamicSql} from './dynamic-sql.js'
import {checkSetConfig} from './settings.js'
import {classifyWhere} from './where.js'
import {writeTarget} from './where-self.js'

/** CTE names visible at a point of the tree. */
interface Scope {
  readonly names: readonly string[]
  readonly parent: Scope | undefined
}

/** Where the walker is: which operation collects, which CTEs are visible, whether this part runs now. */
export interface WalkCtx {
  readonly state: QueryState
  readonly op: OpBuilder
  readonly scope: Scope | undefined
  /** False inside bodies the query only stores (views, rules, functions) or does not run (plain EXPLAIN). */
  readonly executes: boolean
  /** Schema of unqualified names (the new schema inside CREATE SCHEMA's elements). */
  readonly schema: string
}

/**
 * Fields that hold a struct bare (not in a `{"Type": ...}` wrapper), by parent type: every field whose
 * struct is or can contain a RangeVar, FuncCall, query or WITH clause, from the @pgsql/types
 * definitions. A unit test recomputes this table from them.
 */
export const BARE_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  IntoClause: {rel: 'RangeVar'},
  ColumnDef: {identitySequence: 'RangeVar'},
  TableLikeClause: {relation: 'RangeVar'},
  PartitionCmd: {name: 'RangeVar'},
  InsertStmt: {relation: 'RangeVar', withClause: 'WithClause'},
  DeleteStmt: {relation: 'RangeVar', withClause: 'WithClause'},
  UpdateStmt: {relation: 'RangeVar', withClause: 'WithClause'},
  MergeStmt: {relation: 'RangeVar', withClause: 'WithClause'},
  SelectStmt: {intoClause: 'IntoClause', withClause: 'WithClause', larg: 'SelectStmt', rarg: 'SelectStmt'},
  PLAssignStmt: {val: 'SelectStmt'},
  AlterTableStmt: {relation: 'RangeVar'},
  CopyStmt: {relation: 'RangeVar'},
  CreateStmt: {relation: 'RangeVar'},
  Constraint: {pktable: 'RangeVar'},
  CreateForeignTableStmt: {base: 'CreateStmt'},
  CreatePolicyStmt: {table: 'RangeVar'},
  AlterPolicyStmt: {table: 'RangeVar'},
  CreateTrigStmt: {relation: 'RangeVar', constrrel: 'RangeVar'},
  CreateSeqStmt: {sequence: 'RangeVar'},
  AlterSeqStmt: {sequence: 'RangeVar'},
  IndexStmt: {relation: 'RangeVar'},
  CallStmt: {funccall: 'FuncCall'},
  RenameStmt: {relation: 'RangeVar'},
  AlterObjectDependsStmt: {relation: 'RangeVar'},
  AlterObjectSchemaStmt: {relation: 'RangeVar'},
  AlterOwnerStmt: {relation: 'RangeVar'},
  RuleStmt: {relation: 'RangeVar'},
  CompositeTypeStmt: {typevar: 'RangeVar'},
  ViewStmt: {view: 'RangeVar'},
  ClusterStmt: {relation: 'RangeVar'},
  VacuumRelation: {relation: 'RangeVar'},
  CreateTableAsStmt: {into: 'IntoClause'},
  RefreshMatViewStmt: {relation: 'RangeVar'},
  ReindexStmt: {relation: 'RangeVar'},
  PublicationTable: {relation: 'RangeVar'},
  PublicationObjSpec: {pubtable: 'PublicationTable'},
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])

/**
 * Nodes that hold no node that could name a relation or call a function (the grammar gives them
 * only identifiers and constants): skipped, since they are most of any tree.
 */
const LEAVES = new Set([
  'String',
  'Integer',
  'Float',
  'Boolean',
  'BitString',
  'A_Const',
  'A_Star',
  'ParamRef',
  'ColumnRef',
  'SQLValueFunction',
  'RoleSpec',
  'Alias',
])

/**
 * Fields of DDL that name a function it will call later (a trigger's, a conversion's, a language's
 * handler), as a list of names: the statement names that function, as a call would.
 */
const FUNCTION_NAME_FIELDS: Readonly<Record<string, readonly string[]>> = {
  CreateTrigStmt: ['funcname'],
  CreateEventTrigStmt: ['funcname'],
  CreateConversionStmt: ['func_name'],
  CreatePLangStmt: ['plhandler', 'plinline', 'plvalidator'],
}

/**
 * Options that name a function: CREATE OPERATOR's `function`/`procedure` and estimators, CREATE
 * AGGREGATE's support functions, CREATE TYPE's I/O and range functions, CREATE FUNCTION's `SUPPORT`,
 * a foreign-data wrapper's `HANDLER`/`VALIDATOR`. `SELECT ### x` or an aggregate then calls it unnamed.
 */
const FUNCTION_OPTIONS = new Set([
  'function',
  'procedure',
  'restrict',
  'join',
  'sfunc',
  'finalfunc',
  'combinefunc',
  'serialfunc',
  'deserialfunc',
  'msfunc',
  'minvfunc',
  'mfinalfunc',
  'input',
  'output',
  'receive',
  'send',
  'typmod_in',
  'typmod_out',
  'analyze',
  'subscript',
  'canonical',
  'subtype_diff',
  'support',
  'handler',
  'validator',
])

/** The names an option's value gives, when it is a name (`f`, `s.f`): a TypeName or a list of strings. */
function optionName(arg: unknown): string[] | undefined {
  const t = unwrap(arg)
  if (t?.type === 'TypeName') return stringList(list(t.node, 'names'))
  return t?.type === 'List' ? stringList(list(t.node, 'items')) : undefined
}

/** Visits any value of the tree; `hint` is the struct type of a bare field. */
export function walk(value: unknown, w: WalkCtx, hint?: string): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, w)
    return
  }
  if (!isObject(value)) return
  const type = wrapperType(value)
  if (type !== undefined) walkNode(type, value[type] as AstObject, w, false)
  else if (hint !== undefined) walkNode(hint, value, w, true)
  // A RangeVar in a field this table does not know yet: never lose a relation.
  else if (typeof value.relname === 'string') walkNode('RangeVar', value, w, true)
  // A function named with its argument types (CREATE CAST ... WITH FUNCTION, ALTER FUNCTION), bare.
  else if (Array.isArray(value.objname)) walkNode('ObjectWithArgs', value, w, true)
  else walkFields('', value, w)
}

/** Visits every field of a node of the given type except the skipped ones. */
export function walkFields(type: string, node: AstObject, w: WalkCtx, skip?: string, skip2?: string): void {
  const bare = Object.hasOwn(BARE_FIELDS, type) ? BARE_FIELDS[type] : undefined
  for (const key in node) {
    if (key === skip || key === skip2) continue
    const value = node[key]
    if (typeof value === 'object' && value !== null)
      walk(value, w, bare && Object.hasOwn(bare, key) ? bare[key] : undefined)
  }
}

/**
 * Starts the operation of a statement node, with its WHERE state for UPDATE and DELETE. Deciding
 * that state may look at literal values; the query is then marked literal-sensitive.
 */
export function openStatement(
  state: QueryState,
  kind: Kind,
  node: AstObject,
  parent: OpBuilder | undefined,
): OpBuilder {
  const op = state.open(kind, parent)
  if (kind === 'update' || kind === 'delete') {
    const target = writeTarget(node, kind === 'update' ? 'fromClause' : 'usingClause')
    const result = classifyWhere(node.whereClause, target)
    op.where = result.where
    if (result.notNull !== undefined && target !== undefined)
      op.notNull = {schema: target.schema ?? null, table: target.name, columns: result.notNull}
    if (result.literalSensitive) state.literalSensitive = true
  }
  return op
}

/** Visits a statement that may carry a WITH clause, with its CTEs in scope where PostgreSQL sees them. */
export function walkStatement(type: string, node: AstObject, w: WalkCtx, skip?: string): void {
  const withClause = obj(node, 'withClause')
  if (!withClause) {
    walkFields(type, node, w, skip)
    return
  }
  const ctes: AstObject[] = []
  for (const item of list(withClause, 'ctes')) {
    const cte = unwrap(item)
    if (cte?.type === 'CommonTableExpr') ctes.push(cte.node)
  }
  const names = ctes.map((c) => str(c, 'ctename') ?? '')
  // Without RECURSIVE a CTE sees only the CTEs before it; with it, all of them (itself included).
  const recursive = withClause.recursive === true
  ctes.forEach((cte, i) => {
    walkFields('CommonTableExpr', cte, {
      ...w,
      scope: {names: recursive ? names : names.slice(0, i), parent: w.scope},
    })
  })
  walkFields(type, node, {...w, scope: {names, parent: w.scope}}, 'withClause', skip)
}

function inScope(scope: Scope | undefined, name: string): boolean {
  for (let s = scope; s; s = s.parent) if (s.names.includes(name)) return true
  return false
}

function walkNode(type: string, node: AstObject, w: WalkCtx, bare: boolean): void {
  if (LEAVES.has(type)) return
  switch (type) {
    case 'RangeVar': {
      const relname = str(node, 'relname')
      // Bare RangeVars are targets (INSERT INTO, UPDATE, COPY...): PostgreSQL never resolves them to a CTE.
      const cte = !bare && relname !== undefined && node.schemaname === undefined && inScope(w.scope, relname)
      const name = cte ? undefined : rangeVarName(node, w.schema)
      if (name !== undefined) w.op.addTable(name, node.schemaname === undefined ? relname : undefined)
      return
    }
    case 'FuncCall': {
      const parts = stringList(list(node, 'funcname'))
      const name = parts && functionName(parts)
      if (name) {
        w.op.addFunction(name)
        w.state.apply(checkSetConfig(name, list(node, 'args')))
        const runs = dynamicSql(name, list(node, 'args'))
        if (runs !== undefined) {
          // The text decides the operations: a query differing only there must not share them.
          w.state.literalSensitive = true
          if ('error' in runs) w.state.error ??= `${runs.error}; refused`
          else for (const sql of runs.sql) w.state.runs.push({sql, op: w.op, schema: w.schema})
        }
      }
      walkFields(type, node, w)
      return
    }
    case 'SelectStmt':
      walkStatement(type, node, w)
      return
    case 'ObjectWithArgs':
      addNamedFunction(stringList(list(node, 'objname')), w)
      walkFields(type, node, w)
      return
    case 'DefElem': {
      if (FUNCTION_OPTIONS.has(str(node, 'defname') ?? '')) addNamedFunction(optionName(node.arg), w)
      // A sequence's `OWNED BY table.column` names its table in an option.
      const owner = str(node, 'defname') === 'owned_by' ? stringList(listItems(node.arg) ?? []) : undefined
      const parts = owner && owner.length > 1 ? owner.slice(0, -1) : undefined
      const name = parts && qualifiedRelationName(parts, w.schema)
      if (parts && name !== undefined) w.op.addTable(name, parts.length === 1 ? parts[0] : undefined)
      walkFields(type, node, w)
      return
    }
    case 'ExecuteStmt': {
      // Reached only where EXECUTE does not run (plain EXPLAIN EXECUTE): still show what it would run.
      const name = str(node, 'name')
      for (const op of (name !== undefined && w.state.prepared(name)) || []) w.op.addOperation(op)
      walkFields(type, node, w)
      return
    }
    default:
      addNamedFunctions(type, node, w)
      if (DML.has(type)) {
        // A data-modifying CTE (or any DML met inside a statement that runs) is an operation of its own.
        const op = w.executes ? openStatement(w.state, kindOf(type, node), node, w.op) : w.op
        walkStatement(type, node, op === w.op ? w : {...w, op})
        return
      }
      walkFields(type, node, w)
  }
}

/** The functions a DDL node names in FUNCTION_NAME_FIELDS. */
function addNamedFunctions(type: string, node: AstObject, w: WalkCtx): void {
  for (const field of Object.hasOwn(FUNCTION_NAME_FIELDS, type) ? (FUNCTION_NAME_FIELDS[type] ?? []) : [])
    addNamedFunction(stringList(list(node, field)), w)
}

/** A function a DDL statement names (as a list of names), as a call of it. */
function addNamedFunction(parts: readonly string[] | undefined, w: WalkCtx): void {
  const name = parts && functionName(parts)
  if (name) w.op.addFunction(name)
}

/** Visits a statement node: the relations its DDL names, then everything in it with its CTEs in scope. */
export function walkStatementNode(type: string, node: AstObject, w: WalkCtx): void {
  addNamedFunctions(type, node, w)
  for (const parts of namedRelations(type, node)) {
    const name = qualifiedRelationName(parts, w.schema)
    if (name !== undefined) w.op.addTable(name, parts.length === 1 ? parts[0] : undefined)
  }
  walkStatement(type, node, w)
}
