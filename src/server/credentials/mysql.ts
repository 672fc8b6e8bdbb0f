import {createHash} from 'node:crypto'

import mysql from 'mysql2/promise'

import type {TargetTls} from '../../control/api-types.js'
import type {AdminConnection, CredentialEngine, MintSpec} from './engine.js'

/**
 * MariaDB/MySQL: `CREATE USER`, then `GRANT <role>` and `SET DEFAULT ROLE` (MariaDB 10.11 roles). DDL is
 * not transactional here, so a failed grant drops the half-made user. There is no VALID UNTIL: the
 * expiry lives in the control plane's store and the reaper enforces it. The password is sent as its
 * mysql_native_password hash (`IDENTIFIED BY PASSWORD '*…'`), never in plain text.
 */

/** The mysql_native_password hash: `*` + upper hex SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest()
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`
}

/**
 * mysql2's `ssl` option for a target's TLS settings. mysql2 checks the host name only with `verifyIdentity`
 * (rejectUnauthorized alone checks the CA), and always against `host`: `server_name` is not supported here.
 */
export function mysqlSsl(tls: TargetTls): mysql.ConnectionOptions['ssl'] {
  switch (tls.mode) {
    case 'disable':
      return undefined
    case 'require':
      return {rejectUnauthorized: false}
    case 'verify-full':
      return {rejectUnauthorized: true, verifyIdentity: true, ...(tls.ca === undefined ? {} : {ca: tls.ca})}
  }
}

async function withAdmin<T>(conn: AdminConnection, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    ssl: mysqlSsl(conn.tls),
    connectTimeout: 10_000,
  })
  c.on('error', () => undefined)
  try {
    return await fn(c)
  } finally {
    await c.end().catch(() => undefined)
  }
}

async function exists(c: mysql.Connection, user: string): Promise<boolean> {
  const [rows] = await c.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'`,
    [user],
  )
  return rows.length > 0
}

async function killConnections(c: mysql.Connection, user: string): Promise<void> {
  const [rows] = await c.query<mysql.RowDataPacket[]>(
    `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?`,
    [user],
  )
  for (const row of rows) {
    try {
      await c.query(`KILL CONNECTION ?`, [Number(row.id)])
    } catch (err) {
      // ER_NO_SUCH_THREAD: it ended on its own meanwhile.
      if ((err as {code?: string}).code !== 'ER_NO_SUCH_THREAD') throw err
    }
  }
}

/** The MariaDB/MySQL credential engine. */
export const mysqlEngine: CredentialEngine = {
  create: (conn: AdminConnection, spec: MintSpec) =>
    withAdmin(conn, async (c) => {
      const account = `${c.escape(spec.user)}@'%'`
      await c.query(
        `CREATE USER ${account} IDENTIFIED BY PASSWORD ${c.escape(nativePasswordHash(spec.password))}`,
      )
      try {
        await c.query(`GRANT ${c.escapeId(spec.role)} TO ${account}`)
        await c.query(`SET DEFAULT ROLE ${c.escapeId(spec.role)} FOR ${account}`)
      } catch (err) {
        await c.query(`DROP USER IF EXISTS ${account}`).catch(() => undefined)
        throw err
      }
    }),

  // No database-side expiry: the store's expiry is what the reaper reads.
  renew: () => Promise.resolve(),

  revoke: (conn, user) =>
    withAdmin(conn, async (c) => {
      if (!(await exists(c, user))) return
      const account = `${c.escape(user)}@'%'`
      await c.query(`ALTER USER ${account} ACCOUNT LOCK`)
      await killConnections(c, user)
      await c.query(`DROP USER IF EXISTS ${account}`)
    }),

  list: (conn, prefix) =>
    withAdmin(conn, async (c) => {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        `SELECT User AS name FROM mysql.user WHERE Host = '%' AND LEFT(User, ?) = ? ORDER BY User`,
        [prefix.length, prefix],
      )
      return rows.map((r) => String(r.name))
    }),
}
