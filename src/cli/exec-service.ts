/**
 * The service behind `dbgate exec`: runs SQL through the same guarded engine as `dbgate connect`,
 * on an internal 127.0.0.1:0 listener, with node-postgres (or mysql2, for MySQL) as the client. One
 * guard path for both.
 */
import pg from 'pg'

import {ApprovalRequiredError, DbgateError, DeniedError, ExitCode, messageOf} from '../errors.js'
import {DENY_ROUTINE, REVIEW_ROUTINE} from '../proxy/index.js'
import {formatCsv, formatTable, type Cell} from './output.js'
import {startStandaloneProxy, type StandaloneOptions, type StandaloneProxy} from './proxy-service.js'

/** Output formats of exec. */
export const EXEC_FORMATS = ['table', 'json', 'csv'] as const
/** One output format. */
export type ExecFormat = (typeof EXEC_FORMATS)[number]

/** One statement's result. */
export interface StatementResult {
  /** The command tag's verb: SELECT, INSERT, ... */
  readonly command: string
  readonly rowCount: number | null
  readonly columns: readonly string[]
  readonly rows: readonly Record<string, unknown>[]
}

/** What exec returns (the --json envelope's data). */
export interface ExecResult {
  readonly results: readonly StatementResult[]
}

/** Types kept as JS values; everything else stays the server's text, so nothing is lost in conversion. */
const NATIVE_TYPES = new Set([16, 20, 21, 23, 700, 701, 114, 3802])

function typeParser(oid: number): (value: string) => unknown {
  if (!NATIVE_TYPES.has(oid)) return (v) => v
  if (oid === 20) return (v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v)
  return pg.types.getTypeParser(oid, 'text') as (value: string) => unknown
}

/** Runs SQL (one or several statements) through a guarded in-process proxy (standalone mode). */
export async function execSql(
  sql: string,
  options: Omit<StandaloneOptions, 'host' | 'port'>,
): Promise<ExecResult> {
  return execThrough(sql, (listen) => startStandaloneProxy({...options, ...listen}), options.localPassword)
}

/** Where exec's internal listener binds. */
export interface InternalListen {
  readonly host: string
  readonly port: number
}

/**
 * Runs SQL through the proxy `start` builds on 127.0.0.1:0, as a client of its protocol, then closes it.
 * The one exec path: standalone (--url) and control-plane (TARGET) modes differ only in `start`.
 */
export async function execThrough(
  sql: string,
  start: (listen: InternalListen) => Promise<StandaloneProxy>,
  localPassword?: string,
): Promise<ExecResult> {
  const proxy = await start({host: '127.0.0.1', port: 0})
  if (proxy.protocol === 'mysql')
    return (await import('./mysql-service.js')).execMysqlThrough(sql, proxy, localPassword)
  const client = new pg.Client({
    host: proxy.listener.host,
    port: proxy.listener.port,
    user: proxy.target.user,
    database: proxy.target.database,
    password: localPassword,
    application_name: 'dbgate exec',
    types: {getTypeParser: typeParser as typeof pg.types.getTypeParser},
  })
  client.on('error', () => undefined)
  try {
    await client.connect()
    const raw = (await client.query({text: sql, rowMode: 'array'})) as
      pg.QueryResult<unknown[]> | pg.QueryResult<unknown[]>[]
    return {results: (Array.isArray(raw) ? raw : [raw]).map(toResult)}
  } catch (err) {
    throw toExecError(err)
  } finally {
    await client.end().catch(() => undefined)
    await proxy.close('dbgate exec finished')
  }
}

function toResult(r: pg.QueryResult<unknown[]>): StatementResult {
  const columns = r.fields.map((f) => f.name)
  const rows = r.rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])))
  return {command: r.command, rowCount: r.rowCount, columns, rows}
}

function toExecError(err: unknown): unknown {
  if (err instanceof DbgateError) return err
  const e = err as {routine?: string; code?: string; message?: string; hint?: string}
  const hint = e.hint === undefined ? [] : [e.hint]
  if (e.routine === DENY_ROUTINE) return new DeniedError(e.message ?? 'denied by policy', hint)
  if (e.routine === REVIEW_ROUTINE) return new ApprovalRequiredError(e.message ?? 'approval required', hint)
  if (e.code === '08001' || e.code === '08006')
    return new DbgateError('E_UNREACHABLE', `The database connection failed: ${messageOf(err)}`, {
      exitCode: ExitCode.unreachable,
    })
  return new DbgateError('E_SQL', `The database returned an error: ${messageOf(err)}`, {
    exitCode: ExitCode.error,
  })
}

function cell(v: unknown): Cell {
  if (v === null || v === undefined) return null
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  return JSON.stringify(v)
}

/** Renders results for stdout in a format; statements without rows print their command tag in table format. */
export function renderResults(results: readonly StatementResult[], format: ExecFormat): string {
  const out: string[] = []
  for (const r of results) {
    const hasRows = r.columns.length > 0
    switch (format) {
      case 'table':
        out.push(
          hasRows
            ? formatTable(
                r.columns,
                r.rows.map((row) => r.columns.map((c) => cell(row[c]))),
              )
            : `${r.command} ${r.rowCount ?? ''}`.trim(),
        )
        break
      case 'csv':
        if (hasRows)
          out.push(
            formatCsv(
              r.columns,
              r.rows.map((row) => r.columns.map((c) => cell(row[c]))),
            ),
          )
        break
      case 'json':
        if (hasRows) out.push(JSON.stringify(r.rows))
        break
    }
  }
  return out.length === 0 ? '' : `${out.join(format === 'json' ? '\n' : '\n\n')}\n`
}
