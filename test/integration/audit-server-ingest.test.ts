/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import {generateKeyPairSync, randomUUID} from 'node:crypto'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {HashChain} from '../../src/audit/chain.js'
import type {AuditEventBody, ChainedEvent} from '../../src/audit/event.js'
import {keyIdOf, rawPublicKey, signBatch, type SigningKey} from '../../src/audit/signing.js'
import {api, loginAs, startTestServer, type TestServer} from './server-harness.js'

// The control plane's side of the signed trail: registration, ingest, search limits, and tamper tests
// against the SQLite store itself, each named by `GET /api/v1/audit/verify`.

function device(): {key: SigningKey; publicKey: string} {
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  const deviceId = `dev-${randomUUID()}`
  return {
    key: {deviceId, keyId: keyIdOf(publicKey), privateKey},
    publicKey: rawPublicKey(publicKey).toString('base64url'),
  }
}

function body(identity: string, statement: string, over: Partial<AuditEventBody> = {}): AuditEventBody {
  return {
    id: randomUUID(),
    type: 'statement',
    time: new Date().toISOString(),
    session_id: 's1',
    identity,
    groups: ['eng'],
    actor: 'human',
    agent: null,
    process: {found: true, pid: 42, exe: '/usr/bin/psql', cmdline: ['psql'], parents: []},
    target: 'pg-test',
    protocol: 'postgres',
    database: 'test',
    db_user: 'u',
    statement,
    fingerprint: null,
    kinds: ['select'],
    tables: ['public.users'],
    decision: 'allow',
    rule: null,
    approval_id: null,
    masked_columns: ['users.ssn'],
    rows: 1,
    duration_ms: 1,
    error: null,
    policy_version: null,
    client_version: 'test',
    application_name: null,
    ...over,
  }
}

describe('audit ingest, search and verify', () => {
  let server: TestServer
  let alice: {token: string; sub: string}
  let bob: {token: string; sub: string}
  let carol: {token: string; sub: string}

  const login = async (username: string, password: string) => {
    const t = await loginAs(server, {username, password})
    return {token: t.access_token as string, sub: t.identity.sub as string}
  }
  const upload = (who: {token: string}, events: readonly ChainedEvent[], key: SigningKey) =>
    api(server, '/api/v1/audit/batches', who.token, {method: 'POST', body: signBatch(key, events)})
  const verify = async () => (await api(server, '/api/v1/audit/verify', carol.token)).body
  const sql = () => new Database(join(server.dataDir, 'control-plane.db'))

  beforeAll(async () => {
    server = await startTestServer()
    alice = await login('alice', 'alice-pw')
    bob = await login('bob', 'bob-pw')
    carol = await login('carol', 'carol-pw')
  })
  afterAll(async () => {
    await server.stop()
  })

  it('registers a device idempotently and refuses another key for it', async () => {
    const d = device()
    const reg = {device_id: d.key.deviceId, public_key: d.publicKey}
    const first = await api(server, '/api/v1/audit/devices', alice.token, {method: 'POST', body: reg})
    expect(first).toMatchObject({status: 200, body: {key_id: d.key.keyId, last_seq: 0}})
    expect(
      (await api(server, '/api/v1/audit/devices', alice.token, {method: 'POST', body: reg})).status,
    ).toBe(200)
    const other = {...reg, public_key: device().publicKey}
    expect(
      (await api(server, '/api/v1/audit/devices', alice.token, {method: 'POST', body: other})).status,
    ).toBe(409)
    expect((await api(server, '/api/v1/audit/devices', bob.token, {method: 'POST', body: reg})).status).toBe(
      403,
    )
  })

  it('stores batches once, refuses conflicts, foreign devices, other identities and forged signatures; verify names each', async () => {
    const d = device()
    await api(server, '/api/v1/audit/devices', alice.token, {
      method: 'POST',
      body: {device_id: d.key.deviceId, public_key: d.publicKey},
    })
    const chain = new HashChain()
    const ev = Array.from(
      {length: 8},
      (_, i) => chain.append(body(alice.sub, `select ${i} from users`)).event,
    )
    expect((await upload(alice, ev.slice(0, 4), d.key)).body).toEqual({acked_seq: 4, stored: 4, gap: null})
    // A retry of the same batch is stored once.
    expect((await upload(alice, ev.slice(0, 4), d.key)).body).toEqual({acked_seq: 4, stored: 0, gap: null})
    expect((await upload(alice, ev.slice(4, 6), d.key)).body).toMatchObject({acked_seq: 6, stored: 2})
    expect((await api(server, '/api/v1/audit/verify', carol.token)).body).toMatchObject({
      ok: true,
      verified: 6,
    })
    expect((await api(server, '/api/v1/audit/verify', alice.token)).status).toBe(403)

    // Replay of an old batch: accepted as a no-op, recorded.
    expect((await upload(alice, ev.slice(0, 4), d.key)).status).toBe(200)
    // Same seq, other content (a fork signed by the real key): 409, recorded.
    const fork = new HashChain({lastSeq: 4, lastHash: ev[3]!.prev_hash})
    const forked = [fork.append(body(alice.sub, 'drop table users')).event]
    const forkedSeq5 = forked.map((e) => ({...e, seq: 5, prev_hash: ev[4]!.prev_hash}))
    expect((await upload(alice, forkedSeq5, d.key)).status).toBe(409)
    // Forged with another key: 403, recorded.
    const forger = device()
    expect((await upload(alice, ev.slice(6, 8), {...forger.key, deviceId: d.key.deviceId})).status).toBe(403)
    // Bob uploading to alice's device, and an event for someone else.
    expect((await upload(bob, ev.slice(6, 8), d.key)).status).toBe(403)
    const c2 = new HashChain({lastSeq: 6, lastHash: ev[6]!.prev_hash})
    expect((await upload(alice, [c2.append(body(bob.sub, 'select 1')).event], d.key)).status).toBe(403)

    const report = await verify()
    expect(report.ok).toBe(false)
    const lines = report.problems.join('\n')
    expect(lines).toMatch(`device ${d.key.deviceId}: replayed batch 1-4`)
    expect(lines).toMatch(`device ${d.key.deviceId}: conflicting upload 5`)
    expect(lines).toMatch(`device ${d.key.deviceId}: forged batch 7-8 refused`)
    expect(lines).toMatch(`device ${d.key.deviceId}: upload 7-8 by another identity refused`)

    // A gap: seqs 7-8 never arrive, 9 does.
    const rest = [chain.append(body(alice.sub, 'select 9')).event]
    expect((await upload(alice, rest, d.key)).body).toMatchObject({acked_seq: 9, gap: {from: 7, to: 8}})
    expect((await verify()).problems).toEqual(
      expect.arrayContaining([
        `device ${d.key.deviceId}: gap seq 7-8 (never received)`,
        `device ${d.key.deviceId}: missing seq 7-8`,
      ]),
    )
  })

  it('names an edited, a deleted and two swapped events in the store', async () => {
    const d = device()
    await api(server, '/api/v1/audit/devices', bob.token, {
      method: 'POST',
      body: {device_id: d.key.deviceId, public_key: d.publicKey},
    })
    const chain = new HashChain()
    const ev = Array.from(
      {length: 10},
      (_, i) => chain.append(body(bob.sub, `select ${i} from orders`)).event,
    )
    expect((await upload(bob, ev, d.key)).status).toBe(200)
    const db = sql()
    try {
      const id = d.key.deviceId
      db.prepare(`UPDATE audit_events SET statement = 'select 1' WHERE device_id = ? AND seq = 2`).run(id)
      const row = db
        .prepare(`SELECT event_json FROM audit_events WHERE device_id = ? AND seq = 3`)
        .get(id) as {event_json: string}
      const edited = JSON.stringify({...JSON.parse(row.event_json), statement: 'select nothing'})
      db.prepare(`UPDATE audit_events SET event_json = ? WHERE device_id = ? AND seq = 3`).run(edited, id)
      db.prepare(`DELETE FROM audit_events WHERE device_id = ? AND seq = 5`).run(id)
      const s = db
        .prepare(`SELECT seq, server_seq FROM audit_events WHERE device_id = ? AND seq IN (7, 8)`)
        .all(id) as {seq: number; server_seq: number}[]
      const [a, b] = [s.find((r) => r.seq === 7)!, s.find((r) => r.seq === 8)!]
      db.prepare(`UPDATE audit_events SET server_seq = -1 WHERE device_id = ? AND seq = 7`).run(id)
      db.prepare(`UPDATE audit_events SET server_seq = ? WHERE device_id = ? AND seq = 8`).run(
        a.server_seq,
        id,
      )
      db.prepare(`UPDATE audit_events SET server_seq = ? WHERE device_id = ? AND seq = 7`).run(
        b.server_seq,
        id,
      )
    } finally {
      db.close()
    }
    const lines = (await verify()).problems as string[]
    const mine = lines.filter((l) => l.startsWith(`device ${d.key.deviceId}:`))
    expect(mine).toEqual(
      expect.arrayContaining([
        `device ${d.key.deviceId}: altered seq 2 (indexed columns differ from the event)`,
        `device ${d.key.deviceId}: altered seq 3 (hash mismatch)`,
        `device ${d.key.deviceId}: missing seq 5`,
        `device ${d.key.deviceId}: out of order: seq 7 after 8`,
      ]),
    )
    expect(lines.some((l) => l.startsWith('server chain: missing server_seq'))).toBe(true)
    expect(lines.some((l) => l.startsWith('server chain: break at server_seq'))).toBe(true)
  })

  it('search: users see their own events only, admins see all; filters and paging', async () => {
    const mine = await api(server, '/api/v1/audit/events?limit=500', alice.token)
    expect(mine.status).toBe(200)
    expect(mine.body.events.length).toBeGreaterThan(0)
    expect(mine.body.events.every((e: any) => e.event.identity === alice.sub)).toBe(true)
    const asBob = await api(server, `/api/v1/audit/events?user=${encodeURIComponent(alice.sub)}`, bob.token)
    expect(asBob.body.events).toEqual([])
    const all = await api(server, '/api/v1/audit/events?limit=500', carol.token)
    const who = new Set(all.body.events.map((e: any) => e.event.identity))
    expect(who).toEqual(new Set([alice.sub, bob.sub]))
    const text = await api(server, '/api/v1/audit/events?text=users', carol.token)
    expect(text.body.events.length).toBeGreaterThan(0)
    expect(text.body.events.every((e: any) => String(e.event.statement).includes('users'))).toBe(true)
    expect(text.body.events[0].event.process.exe).toBe('/usr/bin/psql')
    expect(text.body.events[0].event.masked_columns).toEqual(['users.ssn'])
    const none = await api(server, '/api/v1/audit/events?decision=deny', carol.token)
    expect(none.body.events).toEqual([])
    const page1 = await api(server, '/api/v1/audit/events?limit=3', carol.token)
    const page2 = await api(
      server,
      `/api/v1/audit/events?limit=3&cursor=${page1.body.next_cursor}`,
      carol.token,
    )
    const ids1 = page1.body.events.map((e: any) => e.server_seq)
    const ids2 = page2.body.events.map((e: any) => e.server_seq)
    expect(ids1).toHaveLength(3)
    expect(ids2.filter((x: number) => ids1.includes(x))).toEqual([])
  })
})
