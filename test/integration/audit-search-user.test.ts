/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import {generateKeyPairSync, randomUUID} from 'node:crypto'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {HashChain} from '../../src/audit/chain.js'
import {keyIdOf, rawPublicKey, signBatch} from '../../src/audit/signing.js'
import {body} from '../unit/audit-helpers.js'
import {api, loginAs, startTestServer, TEST_CONFIG, type TestServer} from './server-harness.js'

// `audit search --user` as an auditor types it: the email finds that person's events (the subject id still
// works), and only theirs; the table filter's rows are checked by `audit verify` like the other columns.

describe('audit search by user email', () => {
  let server: TestServer
  const who: Record<string, {token: string; sub: string; device: string}> = {}

  /** Logs in, registers a device as a CLI would, and uploads `statements` signed by it. */
  async function uploads(username: string, statements: string[]): Promise<void> {
    const t = await loginAs(server, {username, password: `${username}-pw`})
    const {privateKey, publicKey} = generateKeyPairSync('ed25519')
    const key = {deviceId: `dev-${randomUUID()}`, keyId: keyIdOf(publicKey), privateKey}
    const reg = {device_id: key.deviceId, public_key: rawPublicKey(publicKey).toString('base64url')}
    const token = t.access_token as string
    expect((await api(server, '/api/v1/audit/devices', token, {method: 'POST', body: reg})).status).toBe(200)
    const chain = new HashChain()
    const sub = t.identity.sub as string
    const events = statements.map(
      (s, i) => chain.append(body(i, {identity: sub, statement: s, tables: ['public.orders']})).event,
    )
    who[username] = {token, sub, device: key.deviceId}
    if (events.length === 0) return
    const r = await api(server, '/api/v1/audit/batches', token, {
      method: 'POST',
      body: signBatch(key, events),
    })
    expect(r.status).toBe(200)
  }
  const search = async (as: string, query: string) =>
    (await api(server, `/api/v1/audit/events?${query}`, who[as]!.token)).body.events.map(
      (e: any) => e.event.statement,
    )

  beforeAll(async () => {
    const users = TEST_CONFIG.dev.users.map((u) =>
      u.username === 'bob' ? {...u, email: 'Bob.Builder@example.com'} : u,
    )
    server = await startTestServer({dev: {users}})
    await uploads('alice', ['select 1 from orders', 'select 2 from orders'])
    await uploads('bob', ['select 3 from orders'])
    await uploads('carol', [])
  })
  afterAll(async () => {
    await server.stop()
  })

  it('finds each user by email (any case) and by subject, and nobody else', async () => {
    const byEmail = await search('carol', `user=${encodeURIComponent('alice@example.com')}`)
    expect(byEmail.sort()).toEqual(['select 1 from orders', 'select 2 from orders'])
    expect(await search('carol', `user=${encodeURIComponent('bob.builder@EXAMPLE.com')}`)).toEqual([
      'select 3 from orders',
    ])
    expect(await search('carol', `user=${encodeURIComponent(who.bob!.sub)}`)).toEqual([
      'select 3 from orders',
    ])
    expect(await search('carol', `user=${encodeURIComponent('nobody@example.com')}`)).toEqual([])
    // A user who is not an auditor still sees only their own events, whatever email they ask for.
    expect(await search('bob', `user=${encodeURIComponent('alice@example.com')}`)).toEqual([])
    // The table filter (its own index rows) finds the same events.
    expect(await search('carol', 'table=public.orders')).toHaveLength(3)
  })

  it('verify names an event hidden from the table filter', async () => {
    expect((await api(server, '/api/v1/audit/verify', who.carol!.token)).body.ok).toBe(true)
    const db = new Database(join(server.dataDir, 'control-plane.db'))
    try {
      db.prepare(
        `DELETE FROM audit_event_tables WHERE server_seq =
           (SELECT server_seq FROM audit_events WHERE device_id = ? AND seq = 2)`,
      ).run(who.alice!.device)
    } finally {
      db.close()
    }
    expect(await search('carol', 'table=public.orders')).toHaveLength(2)
    const report = (await api(server, '/api/v1/audit/verify', who.carol!.token)).body
    expect(report.ok).toBe(false)
    expect(report.problems).toEqual([
      `device ${who.alice!.device}: altered seq 2 (indexed columns differ from the event)`,
    ])
  })
})
