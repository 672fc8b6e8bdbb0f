import type {Analysis, AnalyzeContext} from '../types.js'

/** Analyzes a MySQL/MariaDB query. (Being written: fails closed until then.) */
export function analyzeMysql(_sql: string, _ctx: AnalyzeContext): Analysis {
  return {ok: false, error: 'the MySQL analyzer is not built yet'}
}
