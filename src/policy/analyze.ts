import {analyzeMysql} from './mysql/analyze.js'
import {analyzePostgres, loadPostgresParser} from './postgres/analyze.js'
import type {Analysis, AnalyzeContext, Dialect} from './types.js'

/** Loads the parsers that need it (libpg-query's WASM) once; call before the first `analyze`. */
export async function loadParsers(): Promise<void> {
  await loadPostgresParser()
}

/** Splits a query into operations with the real parser of its dialect. Never throws on bad SQL. */
export function analyze(sql: string, dialect: Dialect, ctx: AnalyzeContext): Analysis {
  switch (dialect) {
    case 'postgres':
      return analyzePostgres(sql, ctx)
    case 'mysql':
      return analyzeMysql(sql, ctx)
  }
}
