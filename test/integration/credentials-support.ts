/* eslint-disable @typescript-eslint/no-explicit-any -- tests probe parsed JSON bodies */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import mysql from 'mysql2/promise'
import pg from 'pg'

import {validateServerConfig, type ServerConfig} from '../../src/server/config.js'
import {startServer, type RunningServer} from '../../src/server/server.js'
import {api, loginAs, TEST_CONFIG} from './server-harness.js'

/**
 * Scratch databases, roles and a control plane for the credentials and bundles suites. Every name carries
 * a random suffix so suites can run in parallel on the shared servers; everything is dropped in afterAll.
 */

/** A random lower-case suffix. */
export const suffix = (): string => `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`

/** An allow-everything policy document (the database's grants are what these suites test). */
export const ALLOW_ALL = {version: 1, defaults: {action: 'allow', unparseable: 'deny'}}

/** Runs SQL as postgres on a database of the local server. */
export async function pgAdmin<T = any>(
  sql: string,
  params: unknown[] = [],
  database = 'postgres',
): Promise<T[]> {
  const c = new pg.Client({host: '127.0.0.1', port: 5432, user: 'postgres', database})
  await c.connect()
  try {
    return (await c.query(sql, params)).rows as T[]
  } finally {
    await c.end()
  }
}

/** Drops a role of the local server and the minted users a failed test left in it. */
export async function dropPgRoleAndMembers(role: string): Promise<void> {
  const minted = await pgAdmin<{rolname: string}>(
    `SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
      WHERE g.rolname = $1`,
    [role],
  )
  for (const r of minted) await pgAdmin(`DROP ROLE IF EXISTS "${r.rolname}"`)
  await pgAdmin(`DROP ROLE IF EXISTS "${role}"`)
}

/** Runs SQL as root on the local MariaDB. */
export async function myAdmin<T = any>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await mysql.createConnection({host: '127.0.0.1', port: 3306, user: 'root'})
  try {
    const [rows] = await c.query(sql, params)
    return rows as T[]
  } finally {
    await c.end()
  }
}

/** Drops a MariaDB role, the minted users a failed test left in it, and the database. */
export async function dropMyRoleAndMembers(role: string, database: string): Promise<void> {
  const minted = await myAdmin<{User: string}>(
    `SELECT User FROM mysql.roles_mapping WHERE Role = ? AND Host = '%'`,
    [role],
  )
  for (const m of minted) await myAdmin(`DROP USER IF EXISTS ?@'%'`, [m.User])
  await myAdmin(`DROP ROLE IF EXISTS ${role}`)
  await myAdmin(`DROP DATABASE IF EXISTS ${database}`)
}

/** A control plane on port 0 with its own data dir; `restart` keeps the data dir (and so the store). */
export interface CredServer extends RunningServer {
  readonly dataDir: string
  restart(): Promise<CredServer>
  /** Stops and deletes the data dir. */
  stop(): Promise<void>
}

/** Starts a control plane with the test users, `targets` and `policies`, plus a reload source. */
export async function startCredServer(
  extra: Record<string, unknown>,
  options: {dataDir?: string; clock?: {offset: number}; load?: () => ServerConfig} = {},
): Promise<CredServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'dbgate-cred-'))
  const clock = options.clock ?? {offset: 0}
  const config = validateServerConfig({...TEST_CONFIG, ...extra}, 'test')
  const server = await startServer({
    config,
    dataDir,
    listen: '127.0.0.1:0',
    env: {},
    now: () => Date.now() + clock.offset,
    loadConfig: options.load,
  })
  return Object.assign(server, {
    dataDir,
    restart: async () => {
      await server.close()
      return startCredServer(extra, {...options, dataDir, clock})
    },
    stop: async () => {
      await server.close()
      rmSync(dataDir, {recursive: true, force: true})
    },
  })
}

/** Logs a dev user in and returns the access token. */
export async function tokenOf(server: {url: string}, user: 'alice' | 'bob' | 'carol'): Promise<string> {
  const body = await loginAs(server, {username: user, password: `${user}-pw`})
  return body.access_token as string
}

/** POST /api/v1/sessions. */
export function openSessionApi(server: {url: string}, token: string, body: Record<string, unknown>) {
  return api(server, '/api/v1/sessions', token, {method: 'POST', body})
}
