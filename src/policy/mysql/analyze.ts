/**
 * The MySQL/MariaDB analyzer: lex the query as the server does, read it once per way a server could
 * treat its executable comments, split it into statements, and analyze each with node-sql-parser or,
 * for the statements clients send that it cannot read, a narrow recognizer. Fails closed: anything
 * not understood makes the whole query `ok: false`, and `defaults.unparseable` decides.
 */
import type {Analysis, AnalyzeContext, Operation, PreparedEffect} from '../types.js'
import {readings, tokensOf} from './comments.js'
import {type Token, lexMysql} from './lexer.js'
import {type AnalyzeText, type QueryState, StatementError, analyzeStatement} from './statement.js'
import {splitStatements} from './tokens.js'

/** Longer queries are not analyzed (node-sql-parser needs about a second per megabyte). */
export const MAX_QUERY_LENGTH = 1 << 20

type Success = Extract<Analysis, {ok: true}>

/** Analyzes one reading of a query (one set of executable comments expanded). */
function analyzeReading(tokens: readonly Token[], ctx: AnalyzeContext): Success {
  const state: QueryState = {
    schema: ctx.defaultSchema.toLowerCase(),
    ops: [],
    prepares: [],
    deallocates: [],
    literalSensitive: false,
    schemaChange: undefined,
    local: new Map(),
    session: ctx.prepared,
  }
  const statements = splitStatements(tokens)
  statements.forEach((stmt, i) => {
    try {
      analyzeStatement(stmt, state, analyzeText)
    } catch (e) {
      if (e instanceof StatementError && statements.length > 1) {
        throw new StatementError(`statement ${i + 1}: ${e.message}`)
      }
      throw e
    }
  })
  return {
    ok: true,
    operations: state.ops,
    statements: statements.length,
    prepares: state.prepares,
    deallocates: state.deallocates,
    literalSensitive: state.literalSensitive,
    schemaChange: state.schemaChange,
  }
}

const analyzeText: AnalyzeText = (text, schema, prepared) => {
  const a = analyzeMysql(text, {defaultSchema: schema, prepared})
  if (!a.ok) return a
  if (a.schemaChange !== undefined)
    return {ok: false, error: 'a prepared statement cannot change the database'}
  return {ok: true, ops: a.operations, statements: a.statements, literalSensitive: a.literalSensitive}
}

/** Joins the readings of one query: every operation any of them yields, judged together. */
function merge(results: readonly Success[]): Analysis {
  const first = results[0]!
  if (results.length === 1) return first
  const ops = new Map<string, Operation>()
  const prepares = new Map<string, Operation[]>()
  const deallocates = new Set<string>()
  for (const r of results) {
    // A database switch that depends on the server's version would leave later names unresolvable.
    if (r.schemaChange !== first.schemaChange) {
      return {ok: false, error: 'USE inside a version-dependent executable comment'}
    }
    for (const o of r.operations) ops.set(JSON.stringify(o), o)
    for (const p of r.prepares) prepares.set(p.name, [...(prepares.get(p.name) ?? []), ...p.operations])
    if (r.deallocates !== 'all') for (const d of r.deallocates) deallocates.add(d)
  }
  const prepared: PreparedEffect[] = [...prepares].map(([name, operations]) => ({name, operations}))
  return {
    ok: true,
    operations: [...ops.values()],
    statements: Math.max(...results.map((r) => r.statements)),
    prepares: prepared,
    deallocates: [...deallocates],
    literalSensitive: results.some((r) => r.literalSensitive),
    schemaChange: first.schemaChange,
  }
}

function analyzeQuery(sql: string, ctx: AnalyzeContext): Analysis {
  if (sql.length > MAX_QUERY_LENGTH) return {ok: false, error: 'query too long to analyze (over 1 MiB)'}
  const lexed = lexMysql(sql)
  if (!lexed.ok) return {ok: false, error: `cannot read the query: ${lexed.error}`}
  const all = readings(lexed.execComments)
  if (all === null) return {ok: false, error: 'too many version-dependent executable comments'}
  const results: Success[] = []
  for (const reading of all) {
    try {
      results.push(analyzeReading(tokensOf(lexed.tokens, reading), ctx))
    } catch (e) {
      if (e instanceof StatementError) return {ok: false, error: e.message}
      throw e
    }
  }
  return merge(results)
}

/** Analyzes a MySQL/MariaDB query into the operations policy rules judge. Never throws. */
export function analyzeMysql(sql: string, ctx: AnalyzeContext): Analysis {
  try {
    return analyzeQuery(sql, ctx)
  } catch (e) {
    // Stack exhaustion on absurdly nested input, or a parser bug: still only `ok: false`.
    const why = e instanceof RangeError ? 'statement nested too deeply' : 'internal error while analyzing'
    return {ok: false, error: why}
  }
}
