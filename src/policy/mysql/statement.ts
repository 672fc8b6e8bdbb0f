/**
 * Analysis of one statement: node-sql-parser first, the narrow recognizers only when it fails, and
 * the session effects (USE, PREPARE, EXECUTE, DEALLOCATE) applied to the state of the query.
 */
import type {Operation, PreparedEffect} from '../types.js'
import {recognizeAdminStatement} from './admin-statements.js'
import {recognizeConnectStatement} from './connect-statements.js'
import {type StatementOps, operation, operationsOf, qualify, tablesOf} from './kinds.js'
import type {Token} from './lexer.js'
import {parseStatement} from './parser.js'
import type {Recognized} from './recognized.js'
import {recognizeStatementForm, recognizeSysCall} from './statement-forms.js'
import {scanTables} from './table-scan.js'
import {MAX_PAREN_DEPTH, nestsTooDeep, parserText, parserTokens, render} from './tokens.js'
import {isObj, walk} from './walk.js'

/** What a query has done so far, statement by statement. */
export interface QueryState {
  schema: string
  readonly ops: Operation[]
  readonly prepares: PreparedEffect[]
  readonly deallocates: string[]
  literalSensitive: boolean
  schemaChange: string | undefined
  /** Prepared in this query (or deallocated: null), shadowing the session's. */
  readonly local: Map<string, readonly Operation[] | null>
  readonly session: ReadonlyMap<string, readonly Operation[]> | undefined
}

/** Analyzes the text of a PREPARE: injected to avoid an import cycle with analyze.ts. */
export type AnalyzeText = (
  text: string,
  schema: string,
  prepared: ReadonlyMap<string, readonly Operation[]>,
) =>
  | {ok: true; ops: readonly Operation[]; statements: number; literalSensitive: boolean}
  | {ok: false; error: string}

/** Raised for a statement that cannot be analyzed; analyze.ts reports it as `ok: false`. */
export class StatementError extends Error {}

const MAX_DEPTH = 4

/** The statement's first keyword for messages: never more of the user's text than that. */
const firstWord = (tokens: readonly Token[]): string => {
  const t = tokens[0]
  return t?.type === 'word' && /^[A-Za-z_]{1,20}$/.test(t.value) ? t.value.toUpperCase() : 'this'
}

/** Tables and functions of an expression, read by node-sql-parser as `SELECT <expr>`. */
function expressionOps(expr: readonly Token[], schema: string): {tables: string[]; functions: string[]} {
  const parsed = parseStatement(`SELECT ${render(expr)}`)
  const ast = parsed?.ast
  const single =
    isObj(ast) &&
    ast.type === 'select' &&
    !ast.from &&
    !ast.where &&
    Array.isArray(ast.columns) &&
    ast.columns.length === 1
  if (!parsed || !single) throw new StatementError('an expression in the statement cannot be parsed')
  const found = walk(ast)
  found.tableList.push(...parsed.tableList)
  return {tables: tablesOf(found, schema), functions: found.functions}
}

/** Analyzes one statement's tokens, appending its operations and effects to `state`. */
export function analyzeStatement(
  tokens: readonly Token[],
  state: QueryState,
  analyzeText: AnalyzeText,
  depth = 0,
): void {
  if (depth > MAX_DEPTH) throw new StatementError('statements nested too deeply')
  if (nestsTooDeep(tokens))
    throw new StatementError(`parentheses nested more than ${MAX_PAREN_DEPTH} levels deep`)
  const sys = recognizeSysCall(tokens)
  if (sys !== null) {
    if ('refused' in sys) throw new StatementError(sys.refused)
    applyRecognized(sys, state, analyzeText, depth)
    return
  }
  const parsed = parseStatement(parserText(tokens))
  if (parsed !== null) {
    applyOps(operationsOf(parsed, state.schema, scanTables(parserTokens(tokens))), state)
    return
  }
  const r =
    recognizeStatementForm(tokens) ?? recognizeConnectStatement(tokens) ?? recognizeAdminStatement(tokens)
  if (r === null)
    throw new StatementError(`${firstWord(tokens)} statement not understood by the MySQL analyzer`)
  if ('refused' in r) throw new StatementError(r.refused)
  if (r.rewrite) {
    analyzeStatement(r.rewrite, state, analyzeText, depth + 1)
    return
  }
  applyRecognized(r, state, analyzeText, depth)
}

function applyOps(so: StatementOps, state: QueryState): void {
  state.ops.push(...so.ops)
  if (so.literalSensitive) state.literalSensitive = true
  if (so.schemaChange !== undefined) {
    state.schema = so.schemaChange
    state.schemaChange = so.schemaChange
  }
}

const unionOf = (ops: readonly Operation[], pick: (o: Operation) => readonly string[]): string[] =>
  ops.flatMap(pick)

function applyRecognized(r: Recognized, state: QueryState, analyzeText: AnalyzeText, depth: number): void {
  const tables = r.tables.map((t) => qualify(t, state.schema))
  const functions = [...(r.functions ?? [])]
  const read: string[] = []
  for (const e of r.exprs) {
    const x = expressionOps(e, state.schema)
    tables.push(...x.tables)
    functions.push(...x.functions)
    read.push(...x.tables)
  }
  let nested: readonly Operation[] = []
  let runs = false
  if (r.inner) {
    nested = innerOps(r.inner.tokens, state, analyzeText, depth)
    runs = r.inner.runs
  } else if (r.prepare) {
    nested = prepareOps(r.prepare.name, r.prepare.text, state, analyzeText)
    runs = true
  } else if (r.immediate) {
    nested = immediateOps(r.immediate, state, analyzeText)
    runs = true
  } else if (r.execute !== undefined) {
    nested = executeOps(r.execute, state)
    runs = true
  } else if (r.deallocate !== undefined) {
    state.local.set(r.deallocate, null)
    state.deallocates.push(r.deallocate)
  }
  tables.push(...unionOf(nested, (o) => o.tables))
  functions.push(...unionOf(nested, (o) => o.functions))
  state.ops.push(operation(r.kind, tables, functions))
  // A subquery in its expressions (`SET NAMES x, @v = (SELECT ...)`) reads its tables: a select of them too.
  if (read.length > 0 && r.kind !== 'select') state.ops.push(operation('select', read, functions))
  if (runs) state.ops.push(...nested)
  if (r.schemaChange !== undefined) {
    state.schema = r.schemaChange
    state.schemaChange = r.schemaChange
  }
}

/** The operations of a statement nested in another (EXPLAIN's), without its session effects. */
function innerOps(
  tokens: readonly Token[],
  state: QueryState,
  analyzeText: AnalyzeText,
  depth: number,
): Operation[] {
  const scratch: QueryState = {...state, ops: [], prepares: [], deallocates: [], local: new Map(state.local)}
  analyzeStatement(tokens, scratch, analyzeText, depth + 1)
  if (scratch.schema !== state.schema || scratch.prepares.length > 0 || scratch.deallocates.length > 0) {
    throw new StatementError('EXPLAIN of a statement that changes the session')
  }
  if (scratch.literalSensitive) state.literalSensitive = true
  return scratch.ops
}

function known(state: QueryState): Map<string, readonly Operation[]> {
  const out = new Map(state.session ?? [])
  for (const [name, ops] of state.local) {
    if (ops === null) out.delete(name)
    else out.set(name, ops)
  }
  return out
}

function prepareOps(
  name: string,
  text: string,
  state: QueryState,
  analyzeText: AnalyzeText,
): readonly Operation[] {
  const inner = analyzeText(text, state.schema, known(state))
  if (!inner.ok) throw new StatementError(`PREPARE ${name}: ${inner.error}`)
  if (inner.statements !== 1)
    throw new StatementError(`PREPARE ${name}: the text must hold exactly one statement`)
  // The prepared text is a literal: another literal prepares something else.
  state.literalSensitive = true
  state.local.set(name, inner.ops)
  state.prepares.push({name, operations: inner.ops})
  return inner.ops
}

/** What a statement that runs `text` at once as a prepared statement runs (`EXECUTE IMMEDIATE 'text'`). */
function immediateOps(
  {via, text, schema}: NonNullable<Recognized['immediate']>,
  state: QueryState,
  analyzeText: AnalyzeText,
): readonly Operation[] {
  // A procedure runs in its own database (sys): unqualified names in the text are its.
  const inner = analyzeText(text, schema ?? state.schema, known(state))
  if (!inner.ok) throw new StatementError(`${via}: ${inner.error}`)
  if (inner.statements !== 1) throw new StatementError(`${via}: the text must hold exactly one statement`)
  // The text is a literal: another literal runs something else.
  state.literalSensitive = true
  return inner.ops
}

function executeOps(name: string, state: QueryState): readonly Operation[] {
  const ops = known(state).get(name)
  if (ops === undefined) throw new StatementError(`EXECUTE ${name}: no statement of that name was prepared`)
  return ops
}
