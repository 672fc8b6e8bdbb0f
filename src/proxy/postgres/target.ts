/** The upstream target of a Postgres engine, parsed from a `postgres://` URL. */

/** TLS modes of libpq's `sslmode` that dbgate supports. */
import {TargetUrlError} from '../target.js'

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
/** One sslmode. */
export type SslMode = (typeof SSL_MODES)[number]

/** Where and as whom the proxy connects. The password never leaves this object except to the server. */
export interface PgTarget {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
  readonly database: string
  readonly sslmode: SslMode
  /** CA bundle (PEM file path) for verify-ca / verify-full. */
  readonly sslrootcert: string | undefined
  /** CA bundle as PEM text (a control-plane target's CA, kept in memory); wins over sslrootcert. */
  readonly sslca?: string | undefined
  /** Host name the certificate must name, when it is not `host` (verify-full). */
  readonly sslServerName?: string | undefined
}

const KNOWN_PARAMS = new Set(['sslmode', 'sslrootcert', 'connect_timeout', 'application_name'])

function isSslMode(v: string): v is SslMode {
  return (SSL_MODES as readonly string[]).includes(v)
}

/** Parses `postgres://user:pass@host:port/db?sslmode=...`. */
export function parsePgUrl(raw: string): PgTarget {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new TargetUrlError(
      'the target URL is not a valid URL (expected postgres://user:password@host:port/database)',
    )
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new TargetUrlError(`the target URL must start with postgres:// (got ${url.protocol}//)`)
  const host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new TargetUrlError('the target URL has no host')
  const port = url.port === '' ? 5432 : Number(url.port)
  const user = decodeURIComponent(url.username)
  if (user === '') throw new TargetUrlError('the target URL has no user (postgres://USER:password@host/db)')
  const password = url.password === '' ? undefined : decodeURIComponent(url.password)
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''))
  for (const key of url.searchParams.keys())
    if (!KNOWN_PARAMS.has(key))
      throw new TargetUrlError(
        `unsupported URL parameter "${key}" (supported: ${[...KNOWN_PARAMS].join(', ')})`,
      )
  const sslmode = url.searchParams.get('sslmode') ?? 'prefer'
  if (!isSslMode(sslmode))
    throw new TargetUrlError(`unknown sslmode "${sslmode}" (one of ${SSL_MODES.join(', ')})`)
  const sslrootcert = url.searchParams.get('sslrootcert') ?? undefined
  if ((sslmode === 'verify-ca' || sslmode === 'verify-full') && sslrootcert === undefined)
    throw new TargetUrlError(
      `sslmode=${sslmode} needs sslrootcert=FILE (the CA that signed the server's certificate)`,
    )
  return {host, port, user, password, database: path === '' ? user : path, sslmode, sslrootcert}
}

/** host:port/db, as audit events and messages name the target (never the password). */
export function describeTarget(t: PgTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host
  return `${host}:${t.port}/${t.database}`
}
