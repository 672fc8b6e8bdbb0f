/**
 * The SQL that code bodies run: a DO block, or a function CREATE FUNCTION stores (called later by a
 * name the guard cannot trace back to it). LANGUAGE sql bodies are SQL; PL/pgSQL bodies are read with
 * the PL/pgSQL parser and every statement and expression in them is returned as SQL, including what
 * EXECUTE runs when it is a constant string. A computed EXECUTE string, or a body in any other
 * language, cannot be read: that is an error, so the statement fails closed.
 */
import {parsePlPgSQLSync} from 'libpg-query'

import {type AstObject, isObject, list, obj, str, stringList, unwrap} from './ast.js'
import {parse} from './parser.js'

/** The SQL texts a body runs, or why they cannot be known. */
export type BodySql =
  | {
      readonly ok: true
      readonly sql: readonly string[]
      /** PL/pgSQL: its variables carry values from one statement to the next. */
      readonly variables: boolean
      /** A trigger function: its NEW and OLD rows are rows of whatever table it is attached to. */
      readonly trigger: boolean
    }
  | {readonly ok: false; readonly error: string}

/** RawParseMode of parser.h, as the PL/pgSQL parser tags each expression. */
const ParseMode = {Default: 0, TypeName: 1, Expression: 2} as const

/** The SQL a DoStmt or CreateFunctionStmt runs; undefined for any other statement or a body already parsed. */
export function bodySql(type: string, node: AstObject): BodySql | undefined {
  if (type !== 'DoStmt' && type !== 'CreateFunctionStmt') return undefined
  const options = list(node, type === 'DoStmt' ? 'args' : 'options')
  const option = (name: string): unknown => {
    for (const o of options) {
      const d = unwrap(o)
      if (d?.type === 'DefElem' && str(d.node, 'defname') === name) return d.node.arg
    }
    return undefined
  }
  const lang = unwrap(option('language'))
  const language = (lang && str(lang.node, 'sval'))?.toLowerCase() ?? (type === 'DoStmt' ? 'plpgsql' : 'sql')
  const as = unwrap(option('as'))
  // A SQL-standard body (BEGIN ATOMIC, RETURN) is part of the parse tree already.
  if (as === undefined) return type === 'DoStmt' ? {ok: false, error: 'a DO block without a body'} : undefined
  const parts = as.type === 'String' ? [str(as.node, 'sval')] : stringList(list(as.node, 'items'))
  const body = parts?.length === 1 ? parts[0] : undefined
  if (body === undefined || (language !== 'sql' && language !== 'plpgsql'))
    return {ok: false, error: `code in LANGUAGE ${language}, which the guard cannot read`}
  if (language === 'sql') return {ok: true, sql: [body], variables: false, trigger: false}
  const header = type === 'DoStmt' ? '() returns void' : signature(node)
  return plpgsqlSql(header, body, / returns (event_)?trigger$/.test(header))
}

/**
 * The statements of a SQL-standard body, parsed with the CREATE FUNCTION: BEGIN ATOMIC's list, or
 * `RETURN expr` as the `SELECT expr` it runs. [] for a body given as text (bodySql).
 */
export function standardBody(node: AstObject): unknown[] {
  const sqlBody = obj(node, 'sql_body')
  const ret = sqlBody && obj(sqlBody, 'ReturnStmt')
  if (ret) return [{SelectStmt: {targetList: [{ResTarget: {val: ret.returnval}}]}}]
  const atomic = sqlBody && obj(sqlBody, 'List')
  return (atomic ? list(atomic, 'items') : []).flatMap((inner) => {
    const statements = obj(inner as AstObject, 'List')
    return statements ? list(statements, 'items') : []
  })
}

/** Return types the PL/pgSQL parser treats specially (NEW and OLD, no value to return). */
const SPECIAL_RETURNS = new Set(['trigger', 'event_trigger', 'void'])

/** A CREATE FUNCTION header for the PL/pgSQL parser: parameter names and modes, and the kind of return. */
function signature(node: AstObject): string {
  let outs = 0
  const params = list(node, 'parameters').map((p, i) => {
    const f = unwrap(p)?.node ?? {}
    const mode = (str(f, 'mode') ?? '').replace(/^FUNC_PARAM_/, '').toLowerCase()
    if (mode === 'out' || mode === 'inout' || mode === 'table') outs++
    const word = mode === 'table' ? 'out' : mode === 'default' || mode === 'in' ? '' : mode
    return `${word} ${quote(str(f, 'name') ?? `p${i}`)} ${mode === 'variadic' ? 'text[]' : 'text'}`
  })
  const returnType = obj(node, 'returnType')
  const name = returnType && stringList(list(returnType, 'names'))?.at(-1)
  // One OUT parameter makes the result its type; several, a record.
  const row = outs > 1 ? 'record' : 'text'
  const returns =
    name !== undefined && SPECIAL_RETURNS.has(name) ? name : returnType?.setof === true ? `setof ${row}` : row
  return `(${params.join(', ')}) returns ${returns}`
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Every statement and expression of a PL/pgSQL body, as SQL. */
function plpgsqlSql(header: string, body: string, trigger: boolean): BodySql {
  let tag = '$dbgate$'
  for (let i = 0; body.includes(tag); i++) tag = `$dbgate${i}$`
  let tree: unknown
  try {
    tree = parsePlPgSQLSync(`create function dbgate_body${header} language plpgsql as ${tag}${body}${tag}`)
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\s+/g, ' ').trim() : 'unreadable'
    return {ok: false, error: `a PL/pgSQL body the guard cannot read: ${message}`}
  }
  const sql: string[] = []
  const errors: string[] = []
  collect(tree, sql, errors)
  return errors.length > 0 ? {ok: false, error: errors[0]!} : {ok: true, sql, variables: true, trigger}
}

/** Keys of PL/pgSQL statements whose `query` (or `dynquery`) is a string of SQL to run. */
const DYNAMIC = new Set(['PLpgSQL_stmt_dynexecute', 'PLpgSQL_stmt_dynfors'])

function collect(value: unknown, sql: string[], errors: string[]): void {
  if (Array.isArray(value)) {
    for (const v of value) collect(v, sql, errors)
    return
  }
  if (!isObject(value)) return
  for (const [key, v] of Object.entries(value)) {
    if (key === 'PLpgSQL_expr' && isObject(v)) expression(v, sql)
    else if (isObject(v) && (DYNAMIC.has(key) || isObject(v.dynquery))) {
      const expr = obj(obj(v, DYNAMIC.has(key) ? 'query' : 'dynquery') ?? {}, 'PLpgSQL_expr')
      const text = expr && constantString(str(expr, 'query') ?? '')
      if (text === undefined) errors.push('EXECUTE of SQL computed at run time, which the guard cannot read')
      else sql.push(text)
    }
    collect(v, sql, errors)
  }
}

/** One PL/pgSQL expression as SQL: a statement as it is, an expression or assignment as a SELECT. */
function expression(expr: AstObject, sql: string[]): void {
  const query = str(expr, 'query') ?? ''
  const mode = typeof expr.parseMode === 'number' ? expr.parseMode : ParseMode.Default
  if (mode === ParseMode.Default) sql.push(query)
  else if (mode === ParseMode.Expression) sql.push(`select ${query}`)
  else if (mode !== ParseMode.TypeName) {
    // An assignment `target := value` (or `target = value`): the value is what runs.
    const at = /:=|=/.exec(query)
    sql.push(`select ${at ? query.slice(at.index + at[0].length) : query}`)
  }
}

/** The value of an expression that is one string constant, else undefined. */
function constantString(expression: string): string | undefined {
  const parsed = parse(`select ${expression}`)
  if (!parsed.ok || parsed.statements.length !== 1) return undefined
  const select = unwrap(parsed.statements[0])
  const targets = select?.type === 'SelectStmt' ? list(select.node, 'targetList') : []
  const target = targets.length === 1 ? unwrap(targets[0]) : undefined
  const value = target && unwrap(target.node.val)
  const sval = value?.type === 'A_Const' ? obj(value.node, 'sval') : undefined
  return sval && str(sval, 'sval')
}
