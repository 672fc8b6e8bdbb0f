/**
 * The MySQL half of `dbgate connect` and `dbgate exec`: builds the MySQL engine from a mysql:// URL and a
 * policy file (standalone) or from a control-plane session (TARGET mode, target-session.ts), checks the
 * target, starts a listener, and runs SQL through it with mysql2 as the client.
 */
import mysql from 'mysql2/promise'

import {ApprovalRequiredError, DbgateError, DeniedError, ExitCode, messageOf} from '../errors.js'
import {MysqlEngine} from '../proxy/mysql/engine.js'
import {MysqlSessionError} from '../proxy/mysql/session.js'
import {MAX_QUERY_BYTES_DEFAULT, allowsLocalInfile} from '../proxy/mysql/policy-facts.js'
import {describeMysqlTarget, parseMysqlUrl, type MysqlTarget} from '../proxy/mysql/target.js'
import {authenticateUpstream, openUpstream} from '../proxy/mysql/upstream.js'
import {Cap, Command, ErrCode} from '../proxy/mysql/protocol.js'
import {encodePacket} from '../proxy/mysql/framing.js'
import {HINT_SEPARATOR, REVIEW_SQLSTATE} from '../proxy/mysql/review.js'
import type {ExecResult, StatementResult} from './exec-service.js'
import {
  checkReachable,
  parseUrlFlag,
  startGuarded,
  type GuardedProtocol,
  type GuardedProxy,
  type GuardedProxyOptions,
  type StandaloneProxy,
} from './proxy-service.js'

/** Parses a mysql:// URL into a usage error when it is wrong (the password is never echoed). */
export function parseMysqlTarget(url: string): MysqlTarget {
  return parseUrlFlag(parseMysqlUrl, url)
}

/** Logs in once to check the target is reachable and accepts the credentials. */
export async function checkMysqlTarget(target: MysqlTarget): Promise<void> {
  await checkReachable(
    describeMysqlTarget(target),
    ['Check the user, password and database in --url.'],
    async () => {
      const open = await openUpstream(target, 10_000, 1 << 24)
      const up = await authenticateUpstream(target, open, {
        capabilities: Cap.longPassword | Cap.transactions,
        collation: open.greeting.collation,
        database: target.database,
        attributes: undefined,
        maxPacketBytes: 1 << 24,
        timeoutMs: 10_000,
      })
      up.socket.end(encodePacket(0, Buffer.from([Command.quit])))
    },
  )
}

/** What the MySQL engine adds to a guarded proxy's lifecycle (proxy-service.ts startGuarded). */
export const MYSQL_PROXY: GuardedProtocol<MysqlTarget> = {
  protocol: 'mysql',
  parseTarget: parseMysqlTarget,
  describe: describeMysqlTarget,
  check: checkMysqlTarget,
  engine: (o, config) => {
    const c = config({
      maxPacketBytes: Math.max(o.maxMessageBytes, MAX_QUERY_BYTES_DEFAULT),
      reviewNotice:
        o.reviewNotice === undefined
          ? undefined
          : (message: string, detail?: string) =>
              o.reviewNotice?.(detail === undefined ? message : `${message}\n${detail}`),
    })
    return new MysqlEngine(
      Object.defineProperty(c, 'allowLocalInfile', {
        get: () => allowsLocalInfile(c.policy),
        enumerable: true,
      }),
    )
  },
  // 08004 with ER_NOT_SUPPORTED_YET, as a refused session_start: the client shows the reason.
  refusal: (message) => new MysqlSessionError(ErrCode.notSupported, '08004', message),
}

/** Checks the upstream, then starts the MySQL listener (control-plane mode). */
export function startGuardedMysqlProxy(o: GuardedProxyOptions<MysqlTarget>): Promise<GuardedProxy> {
  return startGuarded(MYSQL_PROXY, o)
}

/** Runs SQL through a MySQL proxy as a mysql2 client (several statements allowed), then closes it. */
export async function execMysqlThrough(
  sql: string,
  proxy: StandaloneProxy,
  localPassword?: string,
): Promise<ExecResult> {
  let conn: mysql.Connection | undefined
  try {
    conn = await mysql.createConnection({
      host: proxy.listener.host,
      port: proxy.listener.port,
      user: proxy.target.user,
      password: localPassword,
      multipleStatements: true,
      supportBigNumbers: true,
      dateStrings: true,
    })
    const [raw, fields] = await conn.query({sql, rowsAsArray: true})
    // Several statements: one entry per statement, `undefined` fields for one that returns no rows.
    const multi = Array.isArray(fields) && fields.some((f) => f === undefined || Array.isArray(f))
    const parts = multi ? (raw as unknown[]) : [raw]
    const metas = multi ? (fields as unknown[]) : [fields]
    return {results: parts.map((p, i) => toResult(p, metas[i]))}
  } catch (err) {
    throw toMysqlExecError(err)
  } finally {
    await conn?.end().catch(() => undefined)
    await proxy.close('dbgate exec finished')
  }
}

function toResult(part: unknown, meta: unknown): StatementResult {
  if (!Array.isArray(part)) {
    const ok = part as {affectedRows?: number}
    return {command: 'OK', rowCount: ok.affectedRows ?? null, columns: [], rows: []}
  }
  const columns = ((meta ?? []) as {name: string}[]).map((f) => f.name)
  const rows = (part as unknown[][]).map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])))
  return {command: 'SELECT', rowCount: rows.length, columns, rows}
}

function toMysqlExecError(err: unknown): unknown {
  if (err instanceof DbgateError) return err
  const e = err as {errno?: number; code?: string; sqlState?: string; message?: string}
  const message = e.message ?? messageOf(err)
  if (e.errno === 1142 && e.sqlState === REVIEW_SQLSTATE) {
    const [text = message, ...hint] = message.split(HINT_SEPARATOR)
    return new ApprovalRequiredError(
      text,
      [hint.join(HINT_SEPARATOR)].filter((h) => h !== ''),
    )
  }
  if (e.errno === 1142 && message.startsWith('dbgate: ')) return new DeniedError(message, [])
  if (e.errno === 2003 || e.code === 'ECONNREFUSED' || e.code === 'PROTOCOL_CONNECTION_LOST')
    return new DbgateError('E_UNREACHABLE', `The database connection failed: ${message}`, {
      exitCode: ExitCode.unreachable,
    })
  return new DbgateError('E_SQL', `The database returned an error: ${message}`, {exitCode: ExitCode.error})
}
