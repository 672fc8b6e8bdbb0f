/* eslint-disable @typescript-eslint/no-unsafe-argument -- tests probe parsed JSON bodies */
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {api} from '../integration/server-harness.js'
import {ALLOW_ALL, openSessionApi, tokenOf} from '../integration/credentials-support.js'
import {spawnCli, type RunningCli} from '../support/login-e2e.js'
import {APP_DB, clusterTarget, setUpClusterWorld, sleep, type ClusterWorld} from './cluster-target-support.js'

// The life of a minted login, proven against a database that really checks passwords (SCRAM over TCP, no
// trust): ended sessions and lapsed expiries are refused by PostgreSQL itself, renewal keeps a long
// `dbgate connect` working past its TTL, and the reaper cleans up after a CLI killed with SIGKILL, also
// across a control-plane restart. TTL 5 s, so the CLI renews every second.

let world: ClusterWorld
let alice: string

beforeAll(async () => {
  world = await setUpClusterWorld((cluster) => ({
    targets: [clusterTarget(cluster, 'pg-scram')],
    policies: [{name: 'allow-all', document: ALLOW_ALL}],
  }))
  alice = await tokenOf(world.server, 'alice')
}, 120_000)
afterAll(async () => {
  await world?.teardown()
})

/** The SQLSTATE of a failed login. */
async function loginError(user: string, password: string): Promise<{code?: string; message: string}> {
  try {
    const c = await world.login(user, password)
    await c.end()
    return {message: 'logged in'}
  } catch (err) {
    return err as {code?: string; message: string}
  }
}

/** `dbgate connect pg-scram` as a CI job, waiting for the line that names the port and the minted user. */
async function connect(): Promise<{cli: RunningCli; port: number; user: string}> {
  const cli = spawnCli(['connect', 'pg-scram'], world.cliEnv())
  const [, port, user] = await cli.waitForStderr(/port=(\d+) user=(\S+) /)
  return {cli, port: Number(port), user: user!}
}

/** A client of the guarded port (no local password: the port is on loopback). */
async function throughPort(port: number, user: string): Promise<pg.Client> {
  const c = new pg.Client({host: '127.0.0.1', port, user, database: APP_DB, ssl: false})
  c.on('error', () => undefined)
  await c.connect()
  return c
}

const count = async (c: pg.Client): Promise<number> =>
  ((await c.query('SELECT count(*)::int AS n FROM items')).rows[0] as {n: number}).n

const validUntil = async (user: string): Promise<number> => {
  const [r] = await world.sql<{v: Date}>(`SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1`, [user])
  return r!.v.getTime()
}

describe('minted logins on a server that checks passwords', {timeout: 90_000}, () => {
  it('logs in by SCRAM while the session lives; once ended, the role is gone and its password refused', async () => {
    const res = await openSessionApi(world.server, alice, {target: 'pg-scram'})
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    const {user, password} = res.body.credentials
    const c = await world.login(user, password)
    expect(await count(c)).toBe(2)
    await expect(c.query(`INSERT INTO items VALUES (3, 'three')`)).rejects.toMatchObject({code: '42501'})
    await c.end()
    expect(world.cluster.log()).toContain(`identity="${user}" method=scram-sha-256`)
    expect(await loginError(user, `${password}x`)).toMatchObject({code: '28P01'})

    const end = await api(world.server, `/api/v1/sessions/${res.body.session_id}`, alice, {method: 'DELETE'})
    expect(end.body).toEqual({revoked: true})
    expect(await world.roleExists(user)).toBe(false)
    expect(await loginError(user, password)).toMatchObject({
      code: '28P01',
      message: expect.stringContaining('password authentication failed'),
    })
  })

  it('with renewal stopped, PostgreSQL refuses the password once VALID UNTIL passes; the reaper then drops it', async () => {
    const res = await openSessionApi(world.server, alice, {target: 'pg-scram'})
    const {user, password, expires_at} = res.body.credentials
    expect(Date.parse(expires_at) - Date.now()).toBeLessThanOrEqual(5000)
    const c = await world.login(user, password)
    await c.end()
    await sleep(Math.max(0, Date.parse(expires_at) - Date.now()) + 1000)
    // Nothing revoked it: the role still exists, and the database alone refuses the expired password.
    expect(await world.roleExists(user)).toBe(true)
    expect(await loginError(user, password)).toMatchObject({code: '28P01'})
    const report = await world.server.ctx.reaper.run()
    expect(report.revoked).toContain(`pg-scram/${user}`)
    expect(await world.roleExists(user)).toBe(false)
  })

  it('a `dbgate connect` held past its TTL keeps working, old and new connections, because it is renewed', async () => {
    const {cli, port, user} = await connect()
    const held = await throughPort(port, user)
    expect(await count(held)).toBe(2)
    // The policy allows everything; the database's grants are still the boundary (the role is read-only).
    await expect(held.query(`INSERT INTO items VALUES (9, 'nine')`)).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('permission denied for table items'),
    })
    const firstExpiry = await validUntil(user)
    await sleep(Math.max(0, firstExpiry - Date.now()) + 2000)
    // Past the first expiry: a new connection logs in upstream with the minted password, which only works
    // because VALID UNTIL moved forward.
    expect(Date.now()).toBeGreaterThan(firstExpiry + 1500)
    expect(await validUntil(user)).toBeGreaterThan(Date.now())
    expect(await count(held)).toBe(2)
    const fresh = await throughPort(port, user)
    expect(await count(fresh)).toBe(2)
    await fresh.end()
    await held.end()
    cli.child.kill('SIGINT')
    const done = await cli.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).not.toContain('renewing the session on pg-scram failed')
    expect(await world.roleExists(user)).toBe(false)
  })

  it('after `dbgate connect` is killed with SIGKILL, the reaper drops its role once it expired', async () => {
    const {cli, port, user} = await connect()
    const c = await throughPort(port, user)
    expect(await count(c)).toBe(2)
    cli.child.kill('SIGKILL')
    await cli.done
    await c.end().catch(() => undefined)
    // Still live (not expired yet): the reaper leaves it alone.
    expect((await world.server.ctx.reaper.run()).revoked).not.toContain(`pg-scram/${user}`)
    expect(await world.roleExists(user)).toBe(true)
    await sleep(Math.max(0, (await validUntil(user)) - Date.now()) + 500)
    const report = await world.server.ctx.reaper.run()
    expect(report.revoked).toContain(`pg-scram/${user}`)
    expect(await world.roleExists(user)).toBe(false)
  })

  it('after SIGKILL and a control-plane restart, the reaper run at start drops the role', async () => {
    const {cli, user} = await connect()
    cli.child.kill('SIGKILL')
    await cli.done
    expect(await world.roleExists(user)).toBe(true)
    world.clock.offset += 60_000
    await world.restart()
    expect((await world.server.firstReap)?.revoked).toContain(`pg-scram/${user}`)
    expect(await world.roleExists(user)).toBe(false)
  })
})
