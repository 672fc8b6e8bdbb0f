import type {TargetTls} from '../../control/api-types.js'
import {DbgateError, messageOf} from '../../errors.js'
import {ApiError} from '../http-errors.js'

/**
 * One engine per protocol mints, renews and revokes short-lived database users with a target's admin
 * credentials. Each call opens its own admin connection and closes it: minting is rare next to queries,
 * and a pool would keep admin sessions open on every target for nothing.
 */

/** Where and as whom the control plane connects to a target. */
export interface AdminConnection {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly tls: TargetTls
  readonly user: string
  readonly password: string
}

/** A user to create. */
export interface MintSpec {
  readonly user: string
  readonly password: string
  /** The database role it joins (from the target's `roles:`). */
  readonly role: string
  /** ms since the epoch. */
  readonly expiresAt: number
}

/** The operations a protocol supports. */
export interface CredentialEngine {
  /** Creates the user with its role, atomically where the database allows. */
  create(conn: AdminConnection, spec: MintSpec): Promise<void>
  /** Moves the database-side expiry (a no-op where the database has none). */
  renew(conn: AdminConnection, user: string, expiresAt: number): Promise<void>
  /** Blocks new logins, ends the user's connections and drops it; a user already gone is fine. */
  revoke(conn: AdminConnection, user: string): Promise<void>
  /** Users whose names start with the prefix. */
  list(conn: AdminConnection, prefix: string): Promise<string[]>
}

/** The target's database did not answer or refused the admin login: 503, the CLI maps it to exit 6. */
export class TargetUnavailableError extends ApiError {
  /** Builds the error naming the target; the cause's message never includes a password. */
  constructor(target: string, cause: unknown) {
    super(
      503,
      'unavailable',
      `cannot reach target "${target}" to manage its credentials: ${messageOf(cause)}`,
    )
    this.name = 'TargetUnavailableError'
  }
}

/** OpenSSL's certificate verification failures (a wrong CA, an expired or self-signed certificate). */
const CERT_CODES = /^(ERR_TLS_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/

/** Network-level failures, TLS verification failures and refused admin logins, not a rejected statement. */
export function isConnectFailure(err: unknown): boolean {
  if (err instanceof DbgateError) return false
  const code = (err as {code?: unknown} | null)?.code
  return (
    typeof code === 'string' &&
    (CERT_CODES.test(code) ||
      [
        'ECONNREFUSED',
        'ECONNRESET',
        'ETIMEDOUT',
        'EHOSTUNREACH',
        'ENOTFOUND',
        'EAI_AGAIN',
        '28P01',
        '28000',
        '57P03',
        'ER_ACCESS_DENIED_ERROR',
        'PROTOCOL_CONNECTION_LOST',
      ].includes(code))
  )
}
