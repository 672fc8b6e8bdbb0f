/**
 * TARGET mode on a MariaDB target, through the real CLI (a CI job with a machine token) and a control
 * plane in this process: `dbgate exec` and `dbgate connect -- mysql` run as a user minted for the session,
 * with the signed bundle's policy, renewed while the port is open (a reloaded policy reaches open
 * sessions), dropped at exit, and the audit events reach the control plane as protocol mysql.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createMachineToken} from '../../src/server/machine-tokens.js'
import {validateServerConfig} from '../../src/server/config.js'
import {
  dropMyRoleAndMembers,
  myAdmin,
  startCredServer,
  suffix,
  tokenOf,
  type CredServer,
} from '../integration/credentials-support.js'
import {TEST_CONFIG, api} from '../integration/server-harness.js'
import {cliHome, runCli, spawnCli} from '../support/login-e2e.js'
import {flat} from './exec-target-support.js'

const s = suffix()
const DB = `dbg_tgt_${s}`
const ROLE = `app_rw_${s}`
const home = cliHome()
const stateDir = mkdtempSync(join(tmpdir(), 'dbgate-tgt-my-state-'))

const GUARDED = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {
      name: 'no-drop',
      when: {kinds: ['drop', 'truncate']},
      action: 'deny',
      message: 'Schema changes go through migrations.',
    },
  ],
}
const NO_ITEMS = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {
      name: 'items-closed',
      when: {tables: [`${DB}.items`]},
      action: 'deny',
      message: 'items is closed for maintenance.',
    },
  ],
}
const config = (policy: {name: string; document: unknown}) => ({
  targets: [
    {
      name: 'maria-tgt',
      protocol: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      database: DB,
      admin: {user: 'root', password: ''},
      groups: ['deploy'],
      roles: [{groups: ['deploy'], db_role: ROLE}],
      // Renewed every few seconds, with time to spare on a loaded machine.
      credential_ttl: 6,
      tls: {mode: 'disable'},
    },
  ],
  policies: [policy],
})

let server: CredServer
let current = config({name: 'guarded', document: GUARDED})
let env: Record<string, string>

beforeAll(async () => {
  await myAdmin(`CREATE DATABASE ${DB}`)
  await myAdmin(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, name VARCHAR(20))`)
  await myAdmin(`INSERT INTO ${DB}.items VALUES (1, 'one'), (2, 'two')`)
  await myAdmin(`CREATE ROLE ${ROLE}`)
  await myAdmin(`GRANT SELECT, INSERT, UPDATE, DELETE, DROP ON ${DB}.* TO ${ROLE}`)
  server = await startCredServer(current, {
    load: () => validateServerConfig({...TEST_CONFIG, ...current}, 'test'),
  })
  const {token} = await createMachineToken(
    server.ctx.store,
    {name: `ci-my-${s}`, groups: ['deploy'], ttlSeconds: 3600, createdBy: 'test'},
    Date.now(),
  )
  env = {...home.env, DBGATE_TOKEN: token, DBGATE_API: server.url, DBGATE_STATE_DIR: stateDir}
}, 120_000)

afterAll(async () => {
  await server?.stop()
  await dropMyRoleAndMembers(ROLE, DB)
  home.remove()
  rmSync(stateDir, {recursive: true, force: true})
})

async function userExists(name: string): Promise<boolean> {
  return (await myAdmin(`SELECT 1 FROM mysql.user WHERE User = ?`, [name])).length === 1
}

const exec = async (args: string[]) => {
  const r = await runCli(['exec', 'maria-tgt', ...args], env)
  return {...r, stderr: flat(r.stderr)}
}

describe('dbgate exec on a MariaDB target', {timeout: 90_000}, () => {
  it('runs as a minted user with the bundle policy, drops the user at exit, and uploads mysql events', async () => {
    const r = await exec([
      '--sql',
      "SELECT CURRENT_USER() AS who, COUNT(*) AS n, 'exec-my-marker' AS m FROM items",
      '--format',
      'json',
    ])
    expect(r.code, r.stderr).toBe(0)
    const [row] = JSON.parse(r.stdout) as {who: string; n: number}[]
    expect(row?.who).toMatch(/^dbg_svc_ci_my_.*@%$/)
    expect(row?.n).toBe(2)
    const user = row!.who.replace(/@%$/, '')
    expect(await userExists(user)).toBe(false)

    const denied = await exec(['--sql', 'DROP TABLE items'])
    expect(denied.code).toBe(3)
    expect(denied.stderr).toContain('no-drop')
    expect(denied.stderr).toContain('Schema changes go through migrations.')
    expect((await myAdmin(`SELECT COUNT(*) AS n FROM ${DB}.items`))[0]).toEqual({n: 2})

    const carol = await tokenOf(server, 'carol')
    const found = await api(server, '/api/v1/audit/events?limit=500', carol)
    expect(found.status).toBe(200)
    const events = (found.body.events as {event: Record<string, unknown>}[]).map((e) => e.event)
    const ran = events.find((e) => String(e.statement).includes('exec-my-marker'))
    expect(ran).toMatchObject({protocol: 'mysql', decision: 'allow', db_user: user, rows: 1})
    expect(ran?.policy_version).toMatch(/^sha256:/)
    const drop = events.find((e) => e.statement === 'DROP TABLE items')
    expect(drop).toMatchObject({protocol: 'mysql', decision: 'deny', rule: 'no-drop'})
    expect(
      events.some((e) => e.type === 'session_start' && e.protocol === 'mysql' && e.db_user === user),
    ).toBe(true)
  })
})

describe('dbgate connect on a MariaDB target', {timeout: 90_000}, () => {
  it('runs the mysql client as the minted user, which is gone when the client ends', async () => {
    const r = await runCli(
      [
        'connect',
        'maria-tgt',
        '--',
        'mysql',
        '-N',
        '-B',
        '-e',
        'SELECT CURRENT_USER(); SELECT COUNT(*) FROM items',
      ],
      env,
    )
    expect(r.code, r.stderr).toBe(0)
    const [who, count] = r.stdout.trim().split('\n')
    expect(who).toMatch(/^dbg_svc_ci_my_.*@%$/)
    expect(count).toBe('2')
    const user = who!.replace(/@%$/, '')
    expect(r.stderr).toContain(`database user ${user} revoked`)
    expect(await userExists(user)).toBe(false)
  })

  it('keeps open sessions working across renewals and applies a reloaded policy to them', async () => {
    current = config({name: 'guarded', document: GUARDED})
    await server.ctx.reload()
    const cli = spawnCli(['connect', 'maria-tgt'], env)
    const [, port, user] = await cli.waitForStderr(/mysql -h \S+ -P (\d+) -u (\S+)/)
    const held = await mysql.createConnection({host: '127.0.0.1', port: Number(port), user: user!})
    held.on('error', () => undefined)
    const COUNT = 'SELECT COUNT(*) AS n FROM items'
    expect((await held.query(COUNT))[0]).toEqual([{n: 2}])
    // Past the first TTL, the reaper keeps the minted user: it was renewed, and the session goes on.
    await new Promise((resolve) => setTimeout(resolve, 7000))
    expect((await server.ctx.reaper.run()).revoked).not.toContain(`maria-tgt/${user!}`)
    expect(await userExists(user!)).toBe(true)
    expect((await held.query(COUNT))[0]).toEqual([{n: 2}])

    current = config({name: 'no-items', document: NO_ITEMS})
    expect(await server.ctx.reload()).toMatchObject({kind: 'reloaded'})
    await cli.waitForStderr(/changed the policy: now no-items \(sha256:[0-9a-f]{64}\)/, 20_000)
    await expect(held.query(COUNT)).rejects.toMatchObject({
      errno: 1142,
      message: expect.stringContaining('items is closed for maintenance.'),
    })
    expect((await held.query('SELECT 1 AS one'))[0]).toEqual([{one: 1}])
    await held.end()

    cli.child.kill('SIGINT')
    const done = await cli.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(`database user ${user!} revoked`)
    expect(await userExists(user!)).toBe(false)
  })
})

describe('dbgate policy test on a MariaDB target', {timeout: 60_000}, () => {
  // The policy the target serves: an earlier test may have reloaded another one.
  beforeAll(async () => {
    current = config({name: 'guarded', document: GUARDED})
    await server.ctx.reload()
  })

  const policyTest = async (args: string[]) => {
    const r = await runCli(['policy', 'test', '--target', 'maria-tgt', '--json', ...args], env)
    expect(r.code, flat(r.stderr)).toBe(0)
    return JSON.parse(r.stdout) as {decision: string; unparseable: boolean; operations: unknown[]}
  }

  it("reads the SQL as MySQL, unqualified tables in the target's database, unless told otherwise", async () => {
    const sql = 'SELECT `name` FROM items WHERE id = 1 LIMIT 1'
    expect(await policyTest(['--sql', sql])).toMatchObject({
      decision: 'allow',
      unparseable: false,
      operations: [{kind: 'select', tables: [`${DB}.items`]}],
    })
    expect(await policyTest(['--sql', 'drop table items'])).toMatchObject({
      decision: 'deny',
      operations: [{kind: 'drop', tables: [`${DB}.items`]}],
    })
    // Backticks are not PostgreSQL: read as postgres, the statement is unparseable and denied.
    expect(await policyTest(['--sql', sql, '--dialect', 'postgres'])).toMatchObject({
      decision: 'deny',
      unparseable: true,
    })
    expect(await policyTest(['--sql', sql, '--schema', 'shop'])).toMatchObject({
      operations: [{kind: 'select', tables: ['shop.items']}],
    })
  })
})

describe('a MariaDB target whose renewal fails', {timeout: 90_000}, () => {
  it('refuses new connections with a MySQL error naming why; the open session goes on', async () => {
    current = config({name: 'guarded', document: GUARDED})
    await server.ctx.reload()
    const cli = spawnCli(['connect', 'maria-tgt'], env)
    const [, port, user] = await cli.waitForStderr(/mysql -h \S+ -P (\d+) -u (\S+)/)
    const held = await mysql.createConnection({host: '127.0.0.1', port: Number(port), user: user!})
    held.on('error', () => undefined)
    // The control plane comes back on another port: the CLI's next renewal cannot reach it.
    server = await server.restart()
    await cli.waitForStderr(/renewing the session on maria-tgt failed/, 20_000)
    await expect(
      mysql.createConnection({host: '127.0.0.1', port: Number(port), user: user!}),
    ).rejects.toMatchObject({
      errno: 1235,
      sqlState: '08004',
      message: expect.stringContaining('dbgate no longer accepts connections to maria-tgt'),
    })
    expect((await held.query('SELECT COUNT(*) AS n FROM items'))[0]).toEqual([{n: 2}])
    await held.end()
    cli.child.kill('SIGINT')
    const done = await cli.done
    expect(done.stderr).toContain(`could not revoke ${user!}`)
  })
})
