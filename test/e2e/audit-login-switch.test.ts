import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DurableSpool} from '../../src/audit/durable-spool.js'
import {laneSpoolDir} from '../../src/audit/trail.js'
import {Browser, formAction} from '../integration/server-harness.js'
import {cliHome, runCli, spawnCli, startDevServer, type DevServer} from '../support/login-e2e.js'
import {body} from '../unit/audit-helpers.js'

// Two people log in, one after the other, on one machine. Events the first left unuploaded are neither lost
// nor uploaded as the second: login says they wait, and they go up when the first logs in again.

let server: DevServer
const home = cliHome()
const state = mkdtempSync(join(tmpdir(), 'dbgate-audit-switch-'))
const env = {...home.env, DBGATE_STATE_DIR: state}

beforeAll(async () => {
  server = await startDevServer()
}, 60_000)
afterAll(async () => {
  await server?.stop()
  home.remove()
  rmSync(state, {recursive: true, force: true})
})

/** `dbgate login --no-browser`, with the test signing in on the dev identity provider over HTTP. */
async function login(username: string): Promise<string> {
  const cli = spawnCli(['login', '--api', server.url, '--no-browser'], env)
  const [, url] = await cli.waitForStderr(/^\s+(https?:\/\/\S*code_challenge=\S+)\s*$/m)
  const redirect = new URL(url!).searchParams.get('redirect_uri')!
  const browser = new Browser()
  const atLoopback = (u: string) => u.startsWith(redirect)
  const page = await browser.follow(url!, {}, atLoopback)
  const html = await page.response!.text()
  const done = await browser.follow(
    formAction(html, page.url),
    {form: {username, password: `${username}-password`, action: 'login'}},
    atLoopback,
  )
  await fetch(done.url)
  const r = await cli.done
  expect(r.code, r.stderr).toBe(0)
  return r.stderr
}

describe('dbgate login as another identity on the same machine', {timeout: 120_000}, () => {
  it("keeps the previous identity's unuploaded events, says so, and uploads them at its next login", async () => {
    await login('alice')
    const device = JSON.parse(readFileSync(join(state, 'device.json'), 'utf8')) as {
      device_id: string
      owner: {sub: string}
    }
    // What a proxy left in alice's spool when it could not upload (the control plane was down, say).
    const spool = DurableSpool.open(state, {dir: laneSpoolDir(state, 0, device.device_id)})
    for (const [i, s] of ['select 1 as left_behind', 'select 2 as left_behind'].entries())
      await spool.append(body(i, {identity: device.owner.sub, statement: s}))
    await spool.close()

    const asBob = await login('bob')
    expect(asBob).toContain(
      '2 audit events recorded as alice@example.com on this machine wait in the local spool: they are uploaded when alice@example.com logs in here again, never as you.',
    )
    const bobSees = await runCli(['audit', 'search', '--json'], env)
    expect(JSON.parse(bobSees.stdout)).toEqual({events: [], next_cursor: null})

    const asAlice = await login('alice')
    expect(asAlice).toContain('Uploaded 2 audit events recorded earlier as you on this machine.')
    expect(asAlice).not.toMatch(/wait/)
    const aliceSees = await runCli(['audit', 'search', '--json'], env)
    expect(aliceSees.code, aliceSees.stderr).toBe(0)
    const found = JSON.parse(aliceSees.stdout) as {events: {device_id: string; event: {statement: string}}[]}
    expect(found.events.map((e) => [e.device_id, e.event.statement]).sort()).toEqual([
      [device.device_id, 'select 1 as left_behind'],
      [device.device_id, 'select 2 as left_behind'],
    ])
  })
})
