/**
 * A control plane whose targets live on a throwaway PostgreSQL cluster with real password authentication
 * (SCRAM over TCP, pg_hba has no trust line for TCP) and TLS, for the tests that must prove what the shared
 * server (which trusts 127.0.0.1) cannot: an ended or expired minted login is refused by the database.
 * The control plane runs in this process (its reaper, clock, reload and restart are the test's to drive);
 * the CLI runs as a child process with a machine token, like a CI job.
 */
import {readFileSync} from 'node:fs'

import pg from 'pg'

import {createMachineToken} from '../../src/server/machine-tokens.js'
import {validateServerConfig} from '../../src/server/config.js'
import {TEST_CONFIG} from '../integration/server-harness.js'
import {startCredServer, suffix, type CredServer} from '../integration/credentials-support.js'
import {cliHome} from '../support/login-e2e.js'
import {startCluster, type Cluster} from '../support/pg-cluster.js'

/** The cluster superuser's password over TCP (the control plane's admin login). */
const ADMIN_PASSWORD = 'creds-admin-pw'
/** The database and the role minted users join (read-only on `items`). */
export const APP_DB = 'app'
export const APP_ROLE = 'app_ro'

/** Everything a test file needs, and how to remove it. */
export interface ClusterWorld {
  readonly cluster: Cluster
  /** The control plane; replaced by `restart()`. */
  server: CredServer
  readonly clock: {offset: number}
  /** The environment of a CI job: a machine token (group `deploy`) and the API URL, a fresh config dir. */
  cliEnv(): Record<string, string>
  /** Runs SQL as the superuser on the app database (over the Unix socket). */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>
  roleExists(name: string): Promise<boolean>
  /** Logs in over TCP with a password (SCRAM), as any client would; TLS when `ssl` is given. */
  login(user: string, password: string, ssl?: pg.ClientConfig['ssl']): Promise<pg.Client>
  /** Replaces the config the next `server.ctx.reload()` reads. */
  setConfig(extra: Record<string, unknown>): void
  restart(): Promise<void>
  teardown(): Promise<void>
}

/** A postgres target on the cluster; `extra` overrides fields (tls, credential_ttl, ...). */
export function clusterTarget(
  cluster: Cluster,
  name: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    protocol: 'postgres',
    host: '127.0.0.1',
    port: cluster.port,
    database: APP_DB,
    admin: {user: 'postgres', password: ADMIN_PASSWORD},
    groups: ['deploy', 'eng'],
    roles: [{groups: ['deploy', 'eng'], db_role: APP_ROLE}],
    // Renewed every second (a third), with four seconds to spare on a loaded machine.
    credential_ttl: 5,
    ...extra,
  }
}

/** The PEM of one of the cluster's CAs. */
export const pem = (file: string): string => readFileSync(file, 'utf8')

/** Starts the cluster, the app database and role, the control plane and a machine token. */
export async function setUpClusterWorld(
  config: (cluster: Cluster) => Record<string, unknown>,
): Promise<ClusterWorld> {
  const cluster = await startCluster({
    hba: ['host all all 127.0.0.0/8 scram-sha-256'],
    extraAddresses: ['127.0.0.2'],
  })
  const home = cliHome()
  try {
    await cluster.admin(`SET password_encryption = 'scram-sha-256';
      ALTER ROLE postgres PASSWORD '${ADMIN_PASSWORD}';
      CREATE ROLE ${APP_ROLE} NOLOGIN`)
    await cluster.admin(`CREATE DATABASE ${APP_DB}`)
    const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> => {
      const c = new pg.Client({host: cluster.dir, port: cluster.port, user: 'postgres', database: APP_DB})
      await c.connect()
      try {
        return (await c.query(text, params)).rows as T[]
      } finally {
        await c.end()
      }
    }
    await sql(`CREATE TABLE items (id int PRIMARY KEY, name text);
      INSERT INTO items VALUES (1, 'one'), (2, 'two');
      GRANT USAGE ON SCHEMA public TO ${APP_ROLE}; GRANT SELECT ON items TO ${APP_ROLE}`)
    const clock = {offset: 0}
    let current = {...config(cluster)}
    const load = () => validateServerConfig({...TEST_CONFIG, ...current}, 'test')
    const server = await startCredServer(config(cluster), {clock, load})
    const {token} = await createMachineToken(
      server.ctx.store,
      {name: `ci-creds-${suffix()}`, groups: ['deploy'], ttlSeconds: 3600, createdBy: 'test'},
      Date.now(),
    )
    const world: ClusterWorld = {
      cluster,
      server,
      clock,
      cliEnv: () => ({...home.env, DBGATE_TOKEN: token, DBGATE_API: world.server.url}),
      sql,
      roleExists: async (name) =>
        (await sql(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [name])).length === 1,
      login: async (user, password, ssl = false) => {
        const c = new pg.Client({
          host: '127.0.0.1',
          port: cluster.port,
          user,
          password,
          database: APP_DB,
          ssl,
        })
        c.on('error', () => undefined)
        await c.connect()
        return c
      },
      setConfig: (extra) => {
        current = {...extra}
      },
      restart: async () => {
        world.server = await world.server.restart()
      },
      teardown: async () => {
        await world.server.stop()
        home.remove()
        cluster.stop()
      },
    }
    return world
  } catch (err) {
    home.remove()
    cluster.stop()
    throw err
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
