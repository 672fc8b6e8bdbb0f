/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import {existsSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadDeviceKey} from '../../src/audit/device-key.js'
import {ensureAuditDevice} from '../../src/audit/device-registration.js'
import {DurableSpool} from '../../src/audit/durable-spool.js'
import {laneSpoolDir} from '../../src/audit/trail.js'
import {setUpAuditDevice, type LoginDevice} from '../../src/auth/audit-device.js'
import type {Identity} from '../../src/control/api-types.js'
import {ControlClient} from '../../src/control/client.js'
import {body} from '../unit/audit-helpers.js'
import {api, loginAs, startTestServer, type TestServer} from './server-harness.js'

// The device key of an install, registered with a real control plane for whoever logged in (what
// `dbgate login` and a TARGET-mode proxy do): idempotent for one identity; another identity gets its own
// device, and the previous identity's unuploaded spool waits for it (never uploaded under the new one).

/** A login's device report that is not an error. */
function ok(d: LoginDevice | undefined): Exclude<LoginDevice, {error: string}> {
  if (d === undefined || 'error' in d) throw new Error(`no device: ${JSON.stringify(d)}`)
  return d
}

describe('the audit device of an install', () => {
  let server: TestServer
  const state = mkdtempSync(join(tmpdir(), 'dbgate-audit-devreg-'))
  const ctx = {stateDir: state, env: {DBGATE_TOKEN_STORE: 'file'}}
  const authCtx = {...ctx, apiUrl: undefined, configDir: state}
  const logins: Record<string, {client: ControlClient; identity: Identity; token: string}> = {}
  const as = async (username: string) => {
    const t = await loginAs(server, {username, password: `${username}-pw`})
    const token = t.access_token as string
    logins[username] = {
      client: new ControlClient({baseUrl: server.url, accessToken: token}),
      identity: t.identity,
      token,
    }
    return logins[username]
  }
  /** Writes events to a lane of a device's spool, as a proxy does before it can upload them. */
  const spool = async (deviceId: string, lane: number, identity: string, statements: string[]) => {
    const s = DurableSpool.open(state, {dir: laneSpoolDir(state, lane, deviceId)})
    for (const [i, st] of statements.entries()) await s.append(body(i, {identity, statement: st}))
    await s.close()
  }
  const stored = async () =>
    (await api(server, '/api/v1/audit/events?limit=500', logins.carol!.token)).body.events.map((e: any) => [
      e.device_id,
      e.event.statement,
    ])

  beforeAll(async () => {
    server = await startTestServer()
    await as('carol')
  })
  afterAll(async () => {
    await server.stop()
    rmSync(state, {recursive: true, force: true})
  })

  it('creates and registers the key once for an identity, and records whose it is', async () => {
    const alice = await as('alice')
    const who = {sub: alice.identity.sub, email: alice.identity.email}
    const first = await ensureAuditDevice(alice.client, ctx, who)
    expect(first.store).toBe('file')
    expect(statSync(join(state, 'device-key.json')).mode & 0o777).toBe(0o600)
    const again = await ensureAuditDevice(alice.client, ctx, who)
    expect(again.deviceId).toBe(first.deviceId)
    expect(again.keyId).toBe(first.keyId)
    expect(loadDeviceKey(ctx)?.owner).toEqual({sub: alice.identity.sub, email: 'alice@example.com'})
  })

  it("parks the previous identity's device and spool at another login, and uploads it when it logs in again", async () => {
    const aliceDevice = loadDeviceKey(ctx)!.deviceId
    const aliceSub = logins.alice!.identity.sub
    await spool(aliceDevice, 0, aliceSub, ['select 1 as a0', 'select 2 as a0', 'select 3 as a0'])
    await spool(aliceDevice, 1, aliceSub, ['select 4 as a1', 'select 5 as a1'])

    // Bob logs in on the same install: a device of his own; alice's 5 events wait, and are not uploaded.
    const bob = await as('bob')
    const atBob = ok(await setUpAuditDevice(authCtx, bob.client, bob.identity))
    expect(atBob).toMatchObject({uploaded: 0, waiting: 0})
    expect(atBob).toMatchObject({
      others_waiting: [{identity: aliceSub, email: 'alice@example.com', events: 5}],
    })
    expect(atBob.id).not.toBe(aliceDevice)
    expect(loadDeviceKey(ctx)?.owner?.sub).toBe(bob.identity.sub)
    expect(existsSync(laneSpoolDir(state, 1, aliceDevice))).toBe(true)
    expect(await stored()).toEqual([])
    // A proxy of bob's (machine tokens take this path too) keeps bob's device.
    expect((await ensureAuditDevice(bob.client, ctx, {sub: bob.identity.sub})).deviceId).toBe(atBob.id)
    await spool(atBob.id, 0, bob.identity.sub, ['select 6 as b0'])

    // Alice again: her own device back, her events uploaded with it; bob's one event now waits for him.
    const alice = await as('alice')
    const atAlice = ok(await setUpAuditDevice(authCtx, alice.client, alice.identity))
    expect(atAlice).toMatchObject({id: aliceDevice, uploaded: 5, waiting: 0})
    expect(atAlice).toMatchObject({others_waiting: [{identity: bob.identity.sub, events: 1}]})
    expect((await stored()).sort()).toEqual([
      [aliceDevice, 'select 1 as a0'],
      [aliceDevice, 'select 2 as a0'],
      [aliceDevice, 'select 3 as a0'],
      [`${aliceDevice}.1`, 'select 4 as a1'],
      [`${aliceDevice}.1`, 'select 5 as a1'],
    ])
    // Nothing left to say at the next login.
    expect(await setUpAuditDevice(authCtx, alice.client, alice.identity)).toMatchObject({
      id: aliceDevice,
      uploaded: 0,
      waiting: 0,
    })
    expect(atAlice.others_waiting[0]).not.toHaveProperty('email')
  })
})
