import type {Analysis, AnalyzeContext} from '../types.js'

/** Loads libpg-query's WASM module once. */
export async function loadPostgresParser(): Promise<void> {}

/** Analyzes a Postgres query. (Being written: fails closed until then.) */
export function analyzePostgres(_sql: string, _ctx: AnalyzeContext): Analysis {
  return {ok: false, error: 'the Postgres analyzer is not built yet'}
}
