import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ALLOW_ALL} from '../integration/credentials-support.js'
import {spawnCli} from '../support/login-e2e.js'
import type {Cluster} from '../support/pg-cluster.js'
import {APP_DB, clusterTarget, setUpClusterWorld, type ClusterWorld} from './cluster-target-support.js'

// A running `dbgate connect` enforces the policy of the newest bundle: a policy reloaded on the control plane
// reaches it with the next renewal (every second here: TTL 5 s) and applies to the next statement of the
// sessions already open, not only to new connections.

let world: ClusterWorld
let cluster: Cluster

const NO_ITEMS = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {
      name: 'items-closed',
      when: {tables: ['public.items']},
      action: 'deny',
      message: 'items is closed for maintenance.',
    },
  ],
}
const config = (policy: {name: string; document: unknown}) => ({
  targets: [clusterTarget(cluster, 'pg-live')],
  policies: [policy],
})

beforeAll(async () => {
  world = await setUpClusterWorld((c) => {
    cluster = c
    return config({name: 'allow-all', document: ALLOW_ALL})
  })
}, 120_000)
afterAll(async () => {
  await world?.teardown()
})

async function throughPort(port: string, user: string): Promise<pg.Client> {
  const c = new pg.Client({host: '127.0.0.1', port: Number(port), user, database: APP_DB, ssl: false})
  c.on('error', () => undefined)
  await c.connect()
  return c
}

const COUNT = 'SELECT count(*)::int AS n FROM items'

describe('a policy reloaded on the control plane', {timeout: 90_000}, () => {
  it('applies to open sessions of a running connect after the next renewal', async () => {
    const cli = spawnCli(['connect', 'pg-live'], world.cliEnv())
    const [, port, user] = await cli.waitForStderr(/port=(\d+) user=(\S+) /)
    const held = await throughPort(port!, user!)
    expect((await held.query(COUNT)).rows).toEqual([{n: 2}])
    // Renewals with the same policy change nothing.
    await cli.waitForStderr(/policy allow-all/)
    await new Promise((r) => setTimeout(r, 2500))
    expect((await held.query(COUNT)).rows).toEqual([{n: 2}])

    world.setConfig(config({name: 'no-items', document: NO_ITEMS}))
    expect(await world.server.ctx.reload()).toMatchObject({kind: 'reloaded'})
    await cli.waitForStderr(/changed the policy: now no-items \(sha256:[0-9a-f]{64}\)/, 15_000)

    await expect(held.query(COUNT)).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('items is closed for maintenance.'),
    })
    // The session goes on: what the new policy allows still runs, on the same connection.
    expect((await held.query('SELECT 1 AS one')).rows).toEqual([{one: 1}])
    const fresh = await throughPort(port!, user!)
    await expect(fresh.query(COUNT)).rejects.toMatchObject({code: '42501'})
    await fresh.end()
    await held.end()

    cli.child.kill('SIGINT')
    const done = await cli.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr.match(/changed the policy/g)).toHaveLength(1)
    expect(await world.roleExists(user!)).toBe(false)
  })
})
