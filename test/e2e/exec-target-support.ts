/**
 * A control plane with real targets for the `connect TARGET` / `exec TARGET` / `policy test --target` e2e
 * tests: a scratch database with one table, a NOLOGIN role the target maps the caller's group to, a target on
 * a closed port, a target the caller may not use, a deny-drop policy, and a machine token (no browser).
 */
import {createServer} from 'node:net'

import {expect} from 'vitest'

import {adminQuery, createScratchDb, uniqueName, type ScratchDb} from '../support/pg-scratch.js'
import {runCli, startDevServer, type DevServer} from '../support/login-e2e.js'

/** Everything a test file needs, and how to remove it. */
export interface TargetWorld {
  readonly server: DevServer
  readonly db: ScratchDb
  /** The NOLOGIN role minted users join. */
  readonly role: string
  /** A machine token of group `deploy`. */
  readonly token: string
  readonly tokenId: string
  /** The environment of a CI job: the token and the control plane's URL, nothing else of dbgate's. */
  readonly ciEnv: Record<string, string>
  /** Whether a role exists on the server. */
  roleExists(name: string): Promise<boolean>
  teardown(): Promise<void>
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 1
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** What a test file adds to the world's server config: policy rules (YAML list items) and top-level sections. */
export interface WorldOptions {
  /** Rules appended to the `guarded` policy, indented as items of its `rules:` list (8 spaces). */
  readonly rules?: string
  /** Top-level config sections appended to the file. */
  readonly extra?: string
}

function serverConfig(db: string, role: string, downPort: number, o: WorldOptions): string {
  return `
dev:
  users:
    - {username: alice, password: alice-password, name: Alice Example, email: alice@example.com, groups: [eng]}
roles:
  admin: [admins]
  approver: [approvers]
  user: ['*']
targets:
  - name: prod-pg
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: ${db}
    admin: {user: postgres, password: ''}
    groups: [deploy, eng]
    roles:
      - {groups: [deploy, eng], db_role: ${role}}
  - name: down-pg
    protocol: postgres
    host: 127.0.0.1
    port: ${downPort}
    database: ${db}
    admin: {user: postgres, password: ''}
    groups: [deploy]
    roles:
      - {groups: [deploy], db_role: ${role}}
  - name: finance-pg
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: ${db}
    admin: {user: postgres, password: ''}
    groups: [finance]
    roles:
      - {groups: [finance], db_role: ${role}}
policies:
  - name: guarded
    targets: ['*']
    groups: ['*']
    document:
      version: 1
      defaults: {action: allow, unparseable: deny}
      rules:
        - name: no-drop
          when: {kinds: [drop, truncate]}
          action: deny
          message: Schema changes go through migrations.
${o.rules ?? ''}
${o.extra ?? ''}
`
}

/** Creates the database, role, control plane and machine token. */
export async function setUpTargetWorld(options: WorldOptions = {}): Promise<TargetWorld> {
  const role = uniqueName('app_rw')
  await adminQuery(`CREATE ROLE ${role} NOLOGIN`)
  const db = await createScratchDb(
    'dbgate_tgt',
    `CREATE TABLE items (id int PRIMARY KEY, name text);
     INSERT INTO items VALUES (1, 'one'), (2, 'two');
     GRANT USAGE ON SCHEMA public TO ${role};
     GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ${role};`,
  )
  await adminQuery(`GRANT CONNECT ON DATABASE ${db.name} TO ${role}`)
  const server = await startDevServer(serverConfig(db.name, role, await closedPort(), options))
  const created = await runCli(
    [
      'server',
      'tokens',
      'create',
      '--name',
      'ci-e2e',
      '--groups',
      'deploy',
      '--data',
      server.dataDir,
      '--json',
    ],
    {},
  )
  expect(created.code, created.stderr).toBe(0)
  const {token, id} = JSON.parse(created.stdout) as {token: string; id: string}
  return {
    server,
    db,
    role,
    token,
    tokenId: id,
    ciEnv: {DBGATE_TOKEN: token, DBGATE_API: server.url},
    roleExists: async (name) =>
      (await adminQuery(`SELECT 1 FROM pg_roles WHERE rolname = '${name.replace(/'/g, "''")}'`)).rowCount ===
      1,
    teardown: async () => {
      await server.stop()
      // Minted users a failed test left behind are members of the role: drop them first.
      const members = await adminQuery(
        `SELECT m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid
         JOIN pg_roles m ON m.oid = a.member WHERE r.rolname = '${role}'`,
      )
      await db.drop()
      for (const row of members.rows as {rolname: string}[])
        await adminQuery(`DROP ROLE IF EXISTS "${row.rolname}"`)
      await adminQuery(`DROP ROLE IF EXISTS ${role}`)
    },
  }
}

/** A machine token of `groups` on the world's control plane: the environment of a CI job using it. */
export async function machineToken(
  world: TargetWorld,
  name: string,
  groups: string,
): Promise<Record<string, string>> {
  const r = await runCli(
    [
      'server',
      'tokens',
      'create',
      '--name',
      name,
      '--groups',
      groups,
      '--data',
      world.server.dataDir,
      '--json',
    ],
    {},
  )
  expect(r.code, r.stderr).toBe(0)
  return {DBGATE_TOKEN: (JSON.parse(r.stdout) as {token: string}).token, DBGATE_API: world.server.url}
}

/** stderr as one line: oclif wraps and indents error messages (and may underline them). */
export function flat(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- ANSI escapes
      .replace(/\u001b\[[0-9;]*m/g, '')
      .replace(/\s*›\s*/g, ' ')
      .replace(/\s+/g, ' ')
  )
}
