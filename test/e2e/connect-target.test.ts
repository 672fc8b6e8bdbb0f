import {spawnSync} from 'node:child_process'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliHome, runCli, spawnCli} from '../support/login-e2e.js'
import {adminQuery} from '../support/pg-scratch.js'
import {flat, setUpTargetWorld, type TargetWorld} from './exec-target-support.js'

/** `dbgate connect prod-pg -- psql` and `dbgate policy test --target`, against a real control plane. */
let world: TargetWorld
const home = cliHome()

beforeAll(async () => {
  world = await setUpTargetWorld()
}, 120_000)
afterAll(async () => {
  await world?.teardown()
  home.remove()
})

const cli = async (args: string[], env: Record<string, string> = {}) => {
  const r = await runCli(args, {...home.env, ...world.ciEnv, ...env})
  return {...r, stderr: flat(r.stderr)}
}

describe('dbgate connect TARGET', {timeout: 60_000}, () => {
  it('runs psql through the guard as a minted user, revoked when psql exits', async () => {
    const r = await cli(['connect', 'prod-pg', '--', 'psql', '-X', '-A', '-t', '-c', 'select current_user'])
    expect(r.code, r.stderr).toBe(0)
    const who = r.stdout.trim()
    expect(who).toMatch(/^dbg_/)
    expect(r.stderr).toContain(`user=${who}`)
    expect(r.stderr).toContain('actor ci')
    expect(r.stderr).toContain(`database user ${who} revoked`)
    expect(await world.roleExists(who)).toBe(false)
    expect(r.stdout + r.stderr).not.toContain(world.token)
  })

  it("psql sees the bundle policy's denial and the client's exit code is connect's", async () => {
    const r = await cli([
      'connect',
      'prod-pg',
      '--',
      'psql',
      '-X',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      'drop table items',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no-drop')
    const left = await adminQuery(`SELECT count(*)::int AS n FROM items`, world.db.name)
    expect(left.rows).toEqual([{n: 2}])
  })

  it('stays up until Ctrl-C, serving clients, then revokes the user', async () => {
    const running = spawnCli(['connect', 'prod-pg'], {...home.env, ...world.ciEnv})
    const [, port, user] = await running.waitForStderr(/port=(\d+) user=(\S+) /)
    const out = spawnSync(
      'psql',
      [
        '-X',
        '-A',
        '-t',
        '-h',
        '127.0.0.1',
        '-p',
        port!,
        '-U',
        user!,
        '-d',
        world.db.name,
        '-c',
        'select count(*) from items',
      ],
      {encoding: 'utf8'},
    )
    expect(out.stdout.trim(), out.stderr).toBe('2')
    expect(await world.roleExists(user!)).toBe(true)
    running.child.kill('SIGINT')
    const done = await running.done
    expect(done.code, done.stderr).toBe(0)
    expect(await world.roleExists(user!)).toBe(false)
  })

  it('an unknown target exits 1 listing the allowed targets', async () => {
    const r = await cli(['connect', 'nope-pg'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('targets you may use: down-pg, prod-pg')
  })

  it('a target whose database is down exits 6', async () => {
    const r = await cli(['connect', 'down-pg', '--', 'psql', '-c', 'select 1'])
    expect(r.code).toBe(6)
  })
})

describe('dbgate policy test --target', {timeout: 60_000}, () => {
  it("decides against the bundle the caller would get, with the bundle's identity and actor", async () => {
    const r = await cli(['policy', 'test', '--target', 'prod-pg', '--sql', 'drop table x', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({decision: 'deny', rule: 'no-drop'})
    const text = await cli(['policy', 'test', '--target', 'prod-pg', '--sql', 'drop table x'])
    expect(text.stdout).toContain('DENY by rule no-drop')
    expect(text.stderr).toContain('Policy "guarded"')
    expect(text.stderr).toContain('as service:ci-e2e (actor ci)')
    const allowed = await cli(['policy', 'test', '--target', 'prod-pg', '--sql', 'select 1', '--json'])
    expect(JSON.parse(allowed.stdout)).toMatchObject({decision: 'allow', rule: null})
  })

  it('reads SQL as PostgreSQL for a PostgreSQL target', async () => {
    // A PostgreSQL target reads SQL as PostgreSQL: unqualified names in public, backticks unparseable.
    const pg = await cli(['policy', 'test', '--target', 'prod-pg', '--sql', 'select * from items', '--json'])
    expect(JSON.parse(pg.stdout)).toMatchObject({operations: [{tables: ['public.items']}]})
    const ticks = await cli([
      'policy',
      'test',
      '--target',
      'prod-pg',
      '--sql',
      'select `id` from items',
      '--json',
    ])
    expect(JSON.parse(ticks.stdout)).toMatchObject({unparseable: true})
  })

  it('an unknown target exits 1; neither --policy nor --target is a usage error', async () => {
    expect((await cli(['policy', 'test', '--target', 'nope', '--sql', 'select 1'])).code).toBe(1)
    expect((await cli(['policy', 'test', '--sql', 'select 1'])).code).toBe(2)
  })
})
