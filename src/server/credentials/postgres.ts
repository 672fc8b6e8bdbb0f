import {createHash, createHmac, pbkdf2Sync, randomBytes} from 'node:crypto'
import {isIP} from 'node:net'
import {checkServerIdentity, type ConnectionOptions} from 'node:tls'

import pg from 'pg'

import type {TargetTls} from '../../control/api-types.js'
import type {AdminConnection, CredentialEngine, MintSpec} from './engine.js'

/**
 * PostgreSQL: `CREATE ROLE … LOGIN PASSWORD … VALID UNTIL … IN ROLE …` in one transaction, so the database
 * itself refuses the login once the expiry passes, even if the control plane is gone. The password is
 * sent as a SCRAM-SHA-256 verifier computed here (as psql's \password does), so the plain password never
 * appears in a statement the server might log. CREATE ROLE takes no bind parameters: every name and
 * literal goes through pg's escapeIdentifier/escapeLiteral.
 */

const SCRAM_ITERATIONS = 4096

/** The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}

/**
 * pg's `ssl` option for a target's TLS settings. pg replaces `servername` with the host when the host is a
 * name, so `server_name` is enforced through checkServerIdentity, which pg leaves alone.
 */
export function pgSsl(tls: TargetTls): false | ConnectionOptions {
  switch (tls.mode) {
    case 'disable':
      return false
    case 'require':
      return {rejectUnauthorized: false}
    case 'verify-full': {
      const name = tls.server_name
      if (name === undefined) return {rejectUnauthorized: true, ca: tls.ca}
      return {
        rejectUnauthorized: true,
        ca: tls.ca,
        // SNI never carries an IP address (RFC 6066).
        ...(isIP(name) === 0 ? {servername: name} : {}),
        checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
      }
    }
  }
}

async function withAdmin<T>(conn: AdminConnection, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    host: conn.host,
    port: conn.port,
    database: conn.database,
    user: conn.user,
    password: conn.password,
    ssl: pgSsl(conn.tls),
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
    application_name: 'dbgate-control-plane',
  })
  // An idle admin connection dropped by the server must not crash the process.
  client.on('error', () => undefined)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const until = (ms: number): string => new Date(ms).toISOString()

async function exists(client: pg.Client, user: string): Promise<boolean> {
  return (await client.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [user])).rowCount === 1
}

async function drop(client: pg.Client, user: string): Promise<void> {
  const id = client.escapeIdentifier(user)
  try {
    await client.query(`DROP ROLE IF EXISTS ${id}`)
  } catch (err) {
    // 2BP01: it owns objects (a table it was allowed to create): hand them to the admin, then drop.
    if ((err as {code?: string}).code !== '2BP01') throw err
    await client.query('BEGIN')
    try {
      await client.query(`REASSIGN OWNED BY ${id} TO CURRENT_USER`)
      await client.query(`DROP OWNED BY ${id}`)
      await client.query(`DROP ROLE ${id}`)
      await client.query('COMMIT')
    } catch (inner) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw inner
    }
  }
}

/** The PostgreSQL credential engine. */
export const postgresEngine: CredentialEngine = {
  create: (conn: AdminConnection, spec: MintSpec) =>
    withAdmin(conn, async (client) => {
      const statement =
        `CREATE ROLE ${client.escapeIdentifier(spec.user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT` +
        ` PASSWORD ${client.escapeLiteral(scramVerifier(spec.password))}` +
        ` VALID UNTIL ${client.escapeLiteral(until(spec.expiresAt))}` +
        ` IN ROLE ${client.escapeIdentifier(spec.role)}`
      await client.query('BEGIN')
      try {
        await client.query(statement)
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      }
    }),

  renew: (conn, user, expiresAt) =>
    withAdmin(conn, async (client) => {
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(user)} VALID UNTIL ${client.escapeLiteral(until(expiresAt))}`,
      )
    }),

  revoke: (conn, user) =>
    withAdmin(conn, async (client) => {
      if (!(await exists(client, user))) return
      // NOLOGIN first, so nothing reconnects between terminating its backends and dropping it.
      await client.query(`ALTER ROLE ${client.escapeIdentifier(user)} NOLOGIN`)
      await client.query(
        `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [user],
      )
      await drop(client, user)
    }),

  list: (conn, prefix) =>
    withAdmin(conn, async (client) => {
      const res = await client.query<{rolname: string}>(
        `SELECT rolname FROM pg_roles WHERE left(rolname, $1) = $2 ORDER BY rolname`,
        [prefix.length, prefix],
      )
      return res.rows.map((r) => r.rolname)
    }),
}
