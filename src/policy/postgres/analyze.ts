/** Postgres analysis: the real parser, then one walk per statement into the operations policy judges. */
import type {Analysis, AnalyzeContext} from '../types.js'
import {QueryState} from './ops.js'
import {loadParser, parse} from './parser.js'
import {buildRuns, buildStatement} from './statements.js'

/** Loads libpg-query's WASM module once; analyzePostgres fails closed until it has resolved. */
export async function loadPostgresParser(): Promise<void> {
  await loadParser()
}

/** Analyzes a Postgres query (one or several statements). Never throws: unreadable SQL gives ok:false. */
export function analyzePostgres(sql: string, ctx: AnalyzeContext): Analysis {
  const parsed = parse(sql)
  if (!parsed.ok) return parsed
  const state = new QueryState(ctx)
  try {
    for (const statement of parsed.statements) {
      buildStatement(state, statement, undefined)
      buildRuns(state)
      if (state.error !== undefined) return {ok: false, error: state.error}
    }
  } catch (error) {
    // A parse tree deeper than the stack: refuse it rather than judge part of it.
    const reason = error instanceof RangeError ? 'it is nested too deeply' : 'of an internal error'
    return {ok: false, error: `the query could not be analyzed because ${reason}`}
  }
  return {
    ok: true,
    operations: state.operations(),
    statements: parsed.statements.length,
    prepares: state.prepares,
    deallocates: state.deallocates,
    literalSensitive: state.literalSensitive,
  }
}
