/**
 * Approvals on a MariaDB target, end to end: the real CLI (a CI job with a machine token as the requester,
 * another token of group approvers deciding), a control plane in this process, the real `mysql` client and
 * mysql2. Reject mode with `dbgate exec --approval`, hold mode in `dbgate connect -- mysql` (approved, denied,
 * the client gone while held), prepared statements (refused without a request when the grant must see the
 * values; run once per use of the grant otherwise), and the transitions in `dbgate audit search`.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createMachineToken} from '../../src/server/machine-tokens.js'
import {
  dropMyRoleAndMembers,
  myAdmin,
  startCredServer,
  suffix,
  type CredServer,
} from '../integration/credentials-support.js'
import {cliHome, runCli, spawnCli} from '../support/login-e2e.js'
import {flat} from './exec-target-support.js'

const s = suffix()
const DB = `dbg_apr_${s}`
const ROLE = `app_apr_${s}`
const TARGET = 'maria-apr'
const home = cliHome()
const stateDir = mkdtempSync(join(tmpdir(), 'dbgate-apr-my-state-'))

const POLICY = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {name: 'review-deletes', when: {kinds: ['delete']}, action: 'review'},
    {
      name: 'hold-inserts',
      when: {kinds: ['insert']},
      action: 'review',
      approval: {mode: 'hold', expires: '60s', any_literals: true},
    },
    {
      name: 'hold-updates',
      when: {kinds: ['update']},
      action: 'review',
      approval: {mode: 'hold', expires: '60s'},
    },
    {
      name: 'two-use-notes',
      when: {tables: [`${DB}.notes`]},
      action: 'review',
      approval: {mode: 'hold', uses: 2, expires: '60s', any_literals: true},
    },
  ],
}

let server: CredServer
let requesterEnv: Record<string, string>
let approverEnv: Record<string, string>

async function tokenEnv(name: string, groups: string[]): Promise<Record<string, string>> {
  const {token} = await createMachineToken(
    server.ctx.store,
    {name: `${name}-${s}`, groups, ttlSeconds: 3600, createdBy: 'test'},
    Date.now(),
  )
  return {...home.env, DBGATE_TOKEN: token, DBGATE_API: server.url, DBGATE_STATE_DIR: stateDir}
}

beforeAll(async () => {
  await myAdmin(`CREATE DATABASE ${DB}`)
  await myAdmin(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, name VARCHAR(20))`)
  await myAdmin(`INSERT INTO ${DB}.items VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
  await myAdmin(`CREATE TABLE ${DB}.notes (id INT)`)
  await myAdmin(`INSERT INTO ${DB}.notes VALUES (7)`)
  await myAdmin(`CREATE ROLE ${ROLE}`)
  await myAdmin(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${DB}.* TO ${ROLE}`)
  server = await startCredServer({
    targets: [
      {
        name: TARGET,
        protocol: 'mysql',
        host: '127.0.0.1',
        port: 3306,
        database: DB,
        admin: {user: 'root', password: ''},
        groups: ['deploy'],
        roles: [{groups: ['deploy'], db_role: ROLE}],
        tls: {mode: 'disable'},
      },
    ],
    policies: [{name: 'reviewed', document: POLICY}],
  })
  requesterEnv = await tokenEnv('ci-apr', ['deploy'])
  approverEnv = await tokenEnv('approver-apr', ['approvers'])
}, 120_000)

afterAll(async () => {
  await server?.stop()
  await dropMyRoleAndMembers(ROLE, DB)
  home.remove()
  rmSync(stateDir, {recursive: true, force: true})
})

const as = async (env: Record<string, string>, args: string[]) => {
  const r = await runCli(args, env)
  return {...r, stderr: flat(r.stderr)}
}
const requester = (args: string[]) => as(requesterEnv, args)
const approver = (args: string[]) => as(approverEnv, args)
const count = async (where: string): Promise<number> =>
  Number((await myAdmin<{n: number}>(`SELECT COUNT(*) AS n FROM ${DB}.items WHERE ${where}`))[0]?.n)

async function approve(id: string): Promise<number | null> {
  const r = await approver(['approvals', 'approve', id])
  expect(r.stderr).toContain(`Request ${id} is now approved`)
  return r.code
}

async function status(id: string): Promise<string> {
  const shown = await approver(['approvals', 'show', id, '--json'])
  expect(shown.code, shown.stderr).toBe(0)
  return (JSON.parse(shown.stdout) as {status: string}).status
}

/** `dbgate connect TARGET -- mysql -e SQL` as the requester. */
const mysqlClient = (sql: string, wrap: string[] = []) =>
  spawnCli(['connect', TARGET, '--', ...wrap, 'mysql', '-N', '-B', '-e', sql], requesterEnv)

describe('approvals on a MariaDB target', {timeout: 240_000}, () => {
  it('reject mode: exec exits 4 naming the request; once approved, exec --approval runs it once', async () => {
    const sql = 'DELETE FROM items WHERE id = 1'
    const first = await requester(['exec', TARGET, '--sql', sql])
    expect(first.code, first.stderr).toBe(4)
    const id = /request (apr_\S+) was created/.exec(first.stderr)?.[1]
    expect(id, first.stderr).toBeDefined()
    expect(first.stderr).toContain('dbgate: approval required by rule "review-deletes"')
    expect(first.stderr).toContain(`dbgate exec ${TARGET} --approval ${id!} --sql '…'`)
    expect(await count('id = 1')).toBe(1)

    expect(await approve(id!)).toBe(0)
    const ran = await requester(['exec', TARGET, '--approval', id!, '--sql', sql])
    expect(ran.code, ran.stderr).toBe(0)
    expect(await count('id = 1')).toBe(0)

    const again = await requester(['exec', TARGET, '--approval', id!, '--sql', sql])
    expect(again.code).toBe(4)
    expect(again.stderr).toContain(
      `approval ${id!} cannot be used: the grant of approval ${id!} is used up (1 use)`,
    )

    // Every transition is in the trail, under the request's id.
    const found = await requester(['audit', 'search', '--decision', 'review', '--json'])
    expect(found.code, found.stderr).toBe(0)
    const events = (JSON.parse(found.stdout) as {events: {event: Record<string, unknown>}[]}).events
    const transitions = events.filter((e) => e.event.approval_id === id).map((e) => e.event.approval_event)
    expect(transitions).toEqual(expect.arrayContaining(['requested', 'approved', 'used']))
  })

  it('hold mode: mysql waits while dbgate says which request to approve, then the statement runs', async () => {
    const client = mysqlClient(`INSERT INTO items VALUES (10, 'ten')`)
    const [, id] = await client.waitForStderr(
      /dbgate: approval required by rule "hold-inserts": waiting for request (apr_\S+)/,
    )
    expect(await count('id = 10')).toBe(0)
    expect(await approve(id!)).toBe(0)
    const r = await client.done
    expect(r.code, r.stderr).toBe(0)
    expect(await count('id = 10')).toBe(1)
  })

  it('hold mode: a denial is ERROR 1142 (42501) naming the request and the comment', async () => {
    const client = mysqlClient(`UPDATE items SET name = 'two!' WHERE id = 2`)
    const [, id] = await client.waitForStderr(/waiting for request (apr_\S+)/)
    expect((await approver(['approvals', 'deny', id!, '--comment', 'not today'])).code).toBe(0)
    const r = await client.done
    expect(r.code).toBe(1)
    expect(flat(r.stderr)).toContain(`ERROR 1142 (42501) at line 1: dbgate: request ${id!} was denied`)
    expect(flat(r.stderr)).toContain('not today')
    expect(await count(`name = 'two!'`)).toBe(0)
  })

  it('a client gone while held: nothing runs, the request stays pending', async () => {
    // `timeout` ends mysql while its statement is held.
    const client = mysqlClient(`UPDATE items SET name = 'three!' WHERE id = 3`, ['timeout', '3'])
    const [, id] = await client.waitForStderr(/waiting for request (apr_\S+)/)
    await client.done
    expect(await status(id!)).toBe('pending')
    // Approving it later does not run it behind the client's back.
    expect(await approve(id!)).toBe(0)
    await new Promise((r) => setTimeout(r, 1500))
    expect(await count(`name = 'three!'`)).toBe(0)
  })
})

describe('approvals of prepared statements on a MariaDB target', {timeout: 240_000}, () => {
  let cli: ReturnType<typeof spawnCli>
  let conn: mysql.Connection

  beforeAll(async () => {
    cli = spawnCli(['connect', TARGET], requesterEnv)
    const [, port, user] = await cli.waitForStderr(/mysql -h \S+ -P (\d+) -u (\S+)/)
    conn = await mysql.createConnection({host: '127.0.0.1', port: Number(port), user: user!})
    conn.on('error', () => undefined)
  }, 60_000)
  afterAll(async () => {
    await conn?.end().catch(() => undefined)
    cli?.child.kill('SIGINT')
    await cli?.done
  })

  it('a PREPARE with ? whose grant must see the values is refused without a request', async () => {
    const err = await conn.execute('DELETE FROM items WHERE id = ?', [2]).catch((e: unknown) => e)
    expect(err).toMatchObject({errno: 1142, sqlState: '42501'})
    expect((err as Error).message).toContain(
      'dbgate: approval required by rule "review-deletes", and this statement needs approval with its values',
    )
    const listed = await requester(['approvals', 'list', '--json'])
    expect(listed.stdout).not.toContain('DELETE FROM items WHERE id = ?')
    expect(await count('id = 2')).toBe(1)
    expect((await conn.query('SELECT 1 AS alive'))[0]).toEqual([{alive: 1}])
  })

  it('a prepared statement with a two-use grant runs twice, then is refused; the session goes on', async () => {
    const sql = 'SELECT id FROM notes WHERE id = ?'
    const first = conn.execute(sql, [7])
    const [, id] = await cli.waitForStderr(/rule "two-use-notes": waiting for request (apr_\S+)/)
    expect(await approve(id!)).toBe(0)
    expect((await first)[0]).toEqual([{id: 7}])
    expect((await conn.execute(sql, [7]))[0]).toEqual([{id: 7}])
    const third = await conn.execute(sql, [7]).catch((e: unknown) => e)
    expect(third).toMatchObject({errno: 1142, sqlState: '42501'})
    expect((third as Error).message).toContain(
      `dbgate: this prepared statement ran as approved, and approval ${id!} cannot be used again: the grant of approval ${id!} is used up (2 uses)`,
    )
    expect((await conn.query('SELECT 1 AS alive'))[0]).toEqual([{alive: 1}])
  })
})
