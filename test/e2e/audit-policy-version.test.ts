import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {policyVersion} from '../../src/control/bundle.js'
import {ALLOW_ALL} from '../integration/credentials-support.js'
import {runCli, spawnCli} from '../support/login-e2e.js'
import type {Cluster} from '../support/pg-cluster.js'
import {APP_DB, clusterTarget, setUpClusterWorld, type ClusterWorld} from './cluster-target-support.js'

// The events of a running `dbgate connect` record the version of the policy bundle in force when they
// happen: after a renewal brought another policy, the open session's next statements carry the new version.

let world: ClusterWorld
let cluster: Cluster
const state = mkdtempSync(join(tmpdir(), 'dbgate-audit-pv-'))

const NO_ITEMS = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [{name: 'items-closed', when: {tables: ['public.items']}, action: 'deny'}],
}
const config = (policy: {name: string; document: unknown}) => ({
  targets: [clusterTarget(cluster, 'pg-pv')],
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
  rmSync(state, {recursive: true, force: true})
})

interface Found {
  readonly event: {type: string; statement: string | null; session_id: string; policy_version: string | null}
}

describe('policy_version in audit events of a TARGET session', {timeout: 90_000}, () => {
  it('changes with the bundle a renewal brings, in open sessions too', async () => {
    const env = {...world.cliEnv(), DBGATE_STATE_DIR: state}
    const cli = spawnCli(['connect', 'pg-pv'], env)
    const [, port, user] = await cli.waitForStderr(/port=(\d+) user=(\S+) /)
    const held = new pg.Client({host: '127.0.0.1', port: Number(port), user, database: APP_DB, ssl: false})
    held.on('error', () => undefined)
    await held.connect()
    await held.query("select 'pv-mark-before'")

    world.setConfig(config({name: 'no-items', document: NO_ITEMS}))
    expect(await world.server.ctx.reload()).toMatchObject({kind: 'reloaded'})
    await cli.waitForStderr(/changed the policy: now no-items/, 15_000)
    await held.query("select 'pv-mark-after'")
    await held.end()

    cli.child.kill('SIGINT')
    const done = await cli.done
    expect(done.code, done.stderr).toBe(0)

    const r = await runCli(['audit', 'search', '--limit', '200', '--json'], env)
    expect(r.code, r.stderr).toBe(0)
    const events = (JSON.parse(r.stdout) as {events: Found[]}).events.map((e) => e.event)
    const of = (mark: string) => events.find((e) => e.statement === `select '${mark}'`)
    const before = of('pv-mark-before')
    const after = of('pv-mark-after')
    expect(before?.policy_version).toBe(policyVersion(ALLOW_ALL))
    expect(after?.policy_version).toBe(policyVersion(NO_ITEMS))
    // Same session: the version followed the swap, it was not fixed when the session started.
    expect(after?.session_id).toBe(before?.session_id)
    const start = events.find((e) => e.type === 'session_start' && e.session_id === before?.session_id)
    expect(start?.policy_version).toBe(policyVersion(ALLOW_ALL))
  })
})
