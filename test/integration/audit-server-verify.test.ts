import {generateKeyPairSync} from 'node:crypto'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {HashChain} from '../../src/audit/chain.js'
import type {ChainedEvent} from '../../src/audit/event.js'
import {keyIdOf, rawPublicKey, signBatch, type SigningKey} from '../../src/audit/signing.js'
import {body} from '../unit/audit-helpers.js'
import {api, loginAs, startTestServer, type TestServer} from './server-harness.js'

// `GET /api/v1/audit/verify` reads the store a page at a time (100 batches), and `since` bounds what it checks.

describe('audit verify over a long trail', () => {
  let server: TestServer
  let alice: {token: string; sub: string}
  let carol: {token: string}
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  const key: SigningKey = {deviceId: 'dev-verify-pages', keyId: keyIdOf(publicKey), privateKey}
  const events: ChainedEvent[] = []
  const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + i * 60_000).toISOString()
  const verify = async (since?: string) =>
    (
      await api(
        server,
        `/api/v1/audit/verify${since === undefined ? '' : `?since=${encodeURIComponent(since)}`}`,
        carol.token,
      )
    ).body as {ok: boolean; verified: number; problems: string[]}
  const edit = (seq: number) => {
    const db = new Database(join(server.dataDir, 'control-plane.db'))
    try {
      const row = db
        .prepare(`SELECT event_json FROM audit_events WHERE device_id = ? AND seq = ?`)
        .get(key.deviceId, seq) as {event_json: string}
      const edited = JSON.stringify({...(JSON.parse(row.event_json) as object), rows: 999})
      db.prepare(`UPDATE audit_events SET event_json = ? WHERE device_id = ? AND seq = ?`).run(
        edited,
        key.deviceId,
        seq,
      )
    } finally {
      db.close()
    }
  }

  beforeAll(async () => {
    server = await startTestServer()
    const a = await loginAs(server, {username: 'alice', password: 'alice-pw'})
    alice = {token: a.access_token as string, sub: a.identity.sub as string}
    carol = {token: (await loginAs(server, {username: 'carol', password: 'carol-pw'})).access_token as string}
    await api(server, '/api/v1/audit/devices', alice.token, {
      method: 'POST',
      body: {device_id: key.deviceId, public_key: rawPublicKey(publicKey).toString('base64url')},
    })
    // 250 batches of two events, one minute apart: three pages of batch headers.
    const chain = new HashChain()
    for (let i = 0; i < 500; i++) events.push(chain.append(body(i, {identity: alice.sub, time: at(i)})).event)
    for (let i = 0; i < 500; i += 2) {
      const r = await api(server, '/api/v1/audit/batches', alice.token, {
        method: 'POST',
        body: signBatch(key, events.slice(i, i + 2)),
      })
      expect(r.status).toBe(200)
    }
  }, 120_000)
  afterAll(async () => {
    await server.stop()
  })

  it('checks every page, names an edit in a late page, and --since bounds the range checked', async () => {
    expect(await verify()).toMatchObject({ok: true, verified: 500, problems: []})
    edit(10)
    edit(451)
    const all = await verify()
    expect(all.problems).toEqual([
      `device ${key.deviceId}: altered seq 10 (hash mismatch)`,
      `device ${key.deviceId}: altered seq 451 (hash mismatch)`,
    ])
    // Since the event of seq 301 (index 300): seqs 301-500 are checked, chained to the signed hash of 300.
    const later = await verify(at(300))
    expect(later.verified).toBe(199)
    expect(later.problems).toEqual([`device ${key.deviceId}: altered seq 451 (hash mismatch)`])
    // Since a time after every event: nothing to check.
    expect(await verify(at(1000))).toMatchObject({ok: true, verified: 0})
  })
})
