import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliHome, runCli} from '../support/login-e2e.js'
import {flat, setUpTargetWorld, type TargetWorld} from './exec-target-support.js'

/** A CI job's flow: `DBGATE_TOKEN=... dbgate exec prod-pg`, with a minted user and the bundle's policy. */
let world: TargetWorld
const home = cliHome()

beforeAll(async () => {
  world = await setUpTargetWorld()
}, 120_000)
afterAll(async () => {
  await world?.teardown()
  home.remove()
})

/**
 * A CI runner's environment: a fresh HOME, PATH, the token and the API URL, and nothing else (no
 * DBGATE_CONFIG_DIR, no token-store choice, no D-Bus session, so no keychain).
 */
function runClean(
  args: string[],
  home: string,
): Promise<{code: number | null; stdout: string; stderr: string}> {
  const env = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...world.ciEnv}
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/run.js'), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve) =>
    child.once('close', (code) => resolve({code, stdout, stderr: flat(stderr)})),
  )
}

/** Every file under a directory, with its content. */
function filesUnder(dir: string): {path: string; text: string}[] {
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name)
      return {path, text: readFileSync(path, 'utf8')}
    })
}

const exec = async (args: string[], env: Record<string, string> = {}) => {
  const r = await runCli(['exec', ...args], {...home.env, ...world.ciEnv, ...env})
  return {...r, stderr: flat(r.stderr)}
}

describe('dbgate exec TARGET', {timeout: 60_000}, () => {
  it('runs as a minted user that is gone when the run ends, with no database password anywhere', async () => {
    const r = await exec([
      'prod-pg',
      '--sql',
      'select current_user as who, count(*) as n from items',
      '--format',
      'json',
    ])
    expect(r.code, r.stderr).toBe(0)
    const [row] = JSON.parse(r.stdout) as {who: string; n: number}[]
    expect(row?.who).toMatch(/^dbg_/)
    expect(row?.who).not.toBe('postgres')
    expect(row?.n).toBe(2)
    expect(await world.roleExists(row!.who)).toBe(false)
    expect(r.stdout + r.stderr).not.toContain(world.token)
  })

  it("denies what the bundle's policy denies: exit 3, naming the rule, and the user is still revoked", async () => {
    const who = await exec(['prod-pg', '--sql', 'select current_user', '--format', 'json'])
    const r = await exec(['prod-pg', '--sql', 'drop table items'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('no-drop')
    expect(r.stderr).toContain('Schema changes go through migrations.')
    const count = await exec(['prod-pg', '--sql', 'select count(*) as n from items', '--format', 'json'])
    expect(JSON.parse(count.stdout)).toEqual([{n: 2}])
    const minted = (JSON.parse(who.stdout) as {current_user: string}[])[0]!.current_user
    expect(await world.roleExists(minted)).toBe(false)
  })

  it('--json carries the results', async () => {
    const r = await exec(['prod-pg', '--sql', 'select name from items order by id', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      results: [{command: 'SELECT', rows: [{name: 'one'}, {name: 'two'}]}],
    })
  })

  it('an unknown target exits 1 and lists the targets the caller may use', async () => {
    const r = await exec(['nope-pg', '--sql', 'select 1'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no target named "nope-pg"')
    expect(r.stderr).toContain('prod-pg')
    expect(r.stderr).toContain('down-pg')
    expect(r.stderr).not.toContain('finance-pg')
  })

  it('a target of another group exits 1 and lists the allowed ones', async () => {
    const r = await exec(['finance-pg', '--sql', 'select 1'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('you may not use target "finance-pg"')
    expect(r.stderr).toContain('prod-pg')
  })

  it('a target whose database is down exits 6', async () => {
    const r = await exec(['down-pg', '--sql', 'select 1'])
    expect(r.code, r.stderr).toBe(6)
    expect(r.stderr).toContain('down-pg')
  })

  it('TARGET and --url together, or neither, are usage errors (exit 2)', async () => {
    const both = await exec([
      'prod-pg',
      '--url',
      'postgres://x@127.0.0.1/x',
      '--policy',
      'p.yaml',
      '--sql',
      'select 1',
    ])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('not both')
    const neither = await exec(['--sql', 'select 1'])
    expect(neither.code).toBe(2)
    expect(neither.stderr).toContain('Give a TARGET')
  })

  it('without a login or a token, exits 5', async () => {
    const r = await runCli(['exec', 'prod-pg', '--sql', 'select 1'], {
      ...home.env,
      DBGATE_API: world.server.url,
    })
    expect(r.code).toBe(5)
    expect(r.stderr).toContain('not logged in')
  })

  it('a CI job with only DBGATE_TOKEN, in a fresh HOME with no keychain, gets JSON rows and leaves no secret', async () => {
    const ciHome = mkdtempSync(join(tmpdir(), 'dbgate-ci-home-creds-'))
    try {
      const r = await runClean(
        [
          'exec',
          'prod-pg',
          '--sql',
          'select current_user as who, count(*)::int as n from items',
          '--format',
          'json',
        ],
        ciHome,
      )
      expect(r.code, r.stderr).toBe(0)
      const [row] = JSON.parse(r.stdout) as {who: string; n: number}[]
      expect(row).toMatchObject({n: 2, who: expect.stringMatching(/^dbg_svc_ci_e2e_/)})
      expect(await world.roleExists(row!.who)).toBe(false)
      // Only the audit spool is written; neither the token nor any token store is on disk.
      const files = filesUnder(ciHome)
      expect(files.length).toBeGreaterThan(0)
      for (const f of files) {
        expect(f.path).not.toMatch(/token|credentials|login\.json/)
        expect(f.text).not.toContain(world.token)
      }
    } finally {
      rmSync(ciHome, {recursive: true, force: true})
    }
  })

  it('after the machine token is revoked, exits 5 with a clear message', async () => {
    const revoked = await runCli(
      ['server', 'tokens', 'revoke', world.tokenId, '--data', world.server.dataDir],
      {},
    )
    expect(revoked.code, revoked.stderr).toBe(0)
    const r = await exec(['prod-pg', '--sql', 'select 1'])
    expect(r.code).toBe(5)
    expect(r.stderr).toContain('DBGATE_TOKEN was refused')
    const ciHome = mkdtempSync(join(tmpdir(), 'dbgate-ci-home-creds-'))
    try {
      const clean = await runClean(['exec', 'prod-pg', '--sql', 'select 1', '--format', 'json'], ciHome)
      expect(clean.code).toBe(5)
      expect(clean.stdout).toBe('')
      expect(clean.stderr).toContain('The machine token in DBGATE_TOKEN was refused by the control plane')
    } finally {
      rmSync(ciHome, {recursive: true, force: true})
    }
  })
})
