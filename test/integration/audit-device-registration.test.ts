import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadDeviceKey} from '../../src/audit/device-key.js'
import {ensureAuditDevice} from '../../src/audit/device-registration.js'
import {ControlClient} from '../../src/control/client.js'
import {loginAs, startTestServer, type TestServer} from './server-harness.js'

// The device key of an install, registered with a real control plane for whoever logged in (what
// `dbgate login` and a TARGET-mode proxy do): idempotent for one identity, replaced for another.

describe('ensureAuditDevice', () => {
  let server: TestServer
  const state = mkdtempSync(join(tmpdir(), 'dbgate-audit-devreg-'))
  const ctx = {stateDir: state, env: {DBGATE_TOKEN_STORE: 'file'}}
  const clientOf = async (username: string, password: string) =>
    new ControlClient({
      baseUrl: server.url,
      accessToken: ((await loginAs(server, {username, password})) as {access_token: string}).access_token,
    })

  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server.stop()
    rmSync(state, {recursive: true, force: true})
  })

  it('creates and registers the key once, and starts a new device when another identity logs in', async () => {
    const alice = await clientOf('alice', 'alice-pw')
    const first = await ensureAuditDevice(alice, ctx)
    expect(first.store).toBe('file')
    expect(statSync(join(state, 'device-key.json')).mode & 0o777).toBe(0o600)
    const again = await ensureAuditDevice(alice, ctx)
    expect(again.deviceId).toBe(first.deviceId)
    expect(again.keyId).toBe(first.keyId)
    // Bob on the same install: the device is alice's, so bob gets a new one (the control plane refused him).
    const bob = await ensureAuditDevice(await clientOf('bob', 'bob-pw'), ctx)
    expect(bob.deviceId).not.toBe(first.deviceId)
    expect(loadDeviceKey(ctx)?.deviceId).toBe(bob.deviceId)
  })
})
