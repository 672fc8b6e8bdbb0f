/** The upstream target of a MySQL engine, parsed from a `mysql://` (or `mariadb://`) URL. */
import {TargetUrlError} from '../target.js'

/** TLS modes, as the mysql client's --ssl-mode names them. */
export const MYSQL_SSL_MODES = ['disabled', 'preferred', 'required', 'verify_ca', 'verify_identity'] as const
/** One TLS mode. */
export type MysqlSslMode = (typeof MYSQL_SSL_MODES)[number]

/** Where and as whom the proxy connects. The password never leaves this object except to the server. */
export interface MysqlTarget {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
  /** The default database; empty for none. */
  readonly database: string
  readonly sslMode: MysqlSslMode
  /** CA bundle (PEM file path) for verify_ca / verify_identity. */
  readonly sslCa: string | undefined
  /** CA bundle as PEM text, in memory (TARGET mode: the control plane gives it); wins over sslCa. */
  readonly sslCaPem?: string | undefined
  /** The host name verify_identity checks, when it is not `host` (TARGET mode's server_name). */
  readonly sslServerName?: string | undefined
}

const KNOWN_PARAMS = new Set(['ssl-mode', 'sslmode', 'ssl-ca', 'sslrootcert'])

/** True for URLs this engine serves. */
export function isMysqlUrl(raw: string): boolean {
  return /^(mysql|mariadb):\/\//i.test(raw.trim())
}

/** Parses `mysql://user:pass@host:port/db?ssl-mode=required&ssl-ca=ca.pem`. */
export function parseMysqlUrl(raw: string): MysqlTarget {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new TargetUrlError(
      'the target URL is not a valid URL (expected mysql://user:password@host:port/database)',
    )
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:')
    throw new TargetUrlError(`the target URL must start with mysql:// (got ${url.protocol}//)`)
  const host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new TargetUrlError('the target URL has no host')
  const port = url.port === '' ? 3306 : Number(url.port)
  const user = decodeURIComponent(url.username)
  if (user === '') throw new TargetUrlError('the target URL has no user (mysql://USER:password@host/db)')
  const password = url.password === '' ? undefined : decodeURIComponent(url.password)
  for (const key of url.searchParams.keys())
    if (!KNOWN_PARAMS.has(key))
      throw new TargetUrlError(`unsupported URL parameter "${key}" (supported: ssl-mode, ssl-ca)`)
  const mode = (url.searchParams.get('ssl-mode') ?? url.searchParams.get('sslmode') ?? 'preferred')
    .toLowerCase()
    .replace(/-/g, '_')
  if (!(MYSQL_SSL_MODES as readonly string[]).includes(mode))
    throw new TargetUrlError(`unknown ssl-mode "${mode}" (one of ${MYSQL_SSL_MODES.join(', ')})`)
  const sslMode = mode as MysqlSslMode
  const sslCa = url.searchParams.get('ssl-ca') ?? url.searchParams.get('sslrootcert') ?? undefined
  if ((sslMode === 'verify_ca' || sslMode === 'verify_identity') && sslCa === undefined)
    throw new TargetUrlError(
      `ssl-mode=${sslMode} needs ssl-ca=FILE (the CA that signed the server's certificate)`,
    )
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
  return {host, port, user, password, database, sslMode, sslCa}
}

/** host:port/db, as audit events and messages name the target (never the password). */
export function describeMysqlTarget(t: MysqlTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host
  return `${host}:${t.port}/${t.database}`
}
