import {generateKeyPairSync, randomUUID} from 'node:crypto'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {HashChain} from '../../src/audit/chain.js'
import {DurableSpool} from '../../src/audit/durable-spool.js'
import type {AuditEventBody} from '../../src/audit/event.js'
import {keyIdOf, rawPublicKey, signBatch} from '../../src/audit/signing.js'
import {frame, scanFrames} from '../../src/audit/spool-frame.js'
import {laneSpoolDir} from '../../src/audit/trail.js'
import {exchangeMachineToken} from '../../src/auth/tokens.js'
import type {AuditBatchRequest} from '../../src/control/api-types.js'
import {registerAuditDevice, uploadAuditBatch} from '../../src/control/audit.js'
import {ControlClient} from '../../src/control/client.js'
import {cliHome, DEV_SERVER_CONFIG, runCli, startDevServer, type DevServer} from '../support/login-e2e.js'

// `dbgate audit search` and `dbgate audit verify` end to end: a CI identity uploads signed events, an
// auditor searches and verifies them, and an edit made directly in the store is named by `audit verify`.

const CONFIG = DEV_SERVER_CONFIG.replace('auditor: []', 'auditor: [security]')
let server: DevServer
const home = cliHome()

async function machineToken(name: string, groups: string): Promise<string> {
  const args = [
    'server',
    'tokens',
    'create',
    '--name',
    name,
    '--groups',
    groups,
    '--data',
    server.dataDir,
    '--json',
  ]
  const r = await runCli(args, {})
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as {token: string}).token
}

function body(identity: string, statement: string, decision: 'allow' | 'deny'): AuditEventBody {
  return {
    id: randomUUID(),
    type: 'statement',
    time: new Date().toISOString(),
    session_id: 's',
    identity,
    groups: ['eng'],
    actor: 'ci',
    agent: null,
    process: {
      found: true,
      pid: 77,
      exe: '/usr/bin/psql',
      cmdline: ['psql'],
      parents: [{pid: 1, exe: '/bin/bash', cmdline: ['bash']}],
    },
    target: 'eng-pg',
    protocol: 'postgres',
    database: 'test',
    db_user: 'u',
    statement,
    fingerprint: null,
    kinds: ['select'],
    tables: ['public.users'],
    decision,
    rule: null,
    approval_id: null,
    masked_columns: ['users.ssn'],
    rows: 1,
    duration_ms: 1,
    error: null,
    policy_version: null,
    client_version: 'e2e',
    application_name: null,
  }
}

let ciToken: string
let auditorToken: string
let ciSub: string

/** A client for the CI identity with a fresh access token (the dev server's live 30 s). */
async function ciClient(): Promise<ControlClient> {
  const anonymous = new ControlClient({baseUrl: server.url})
  const tokens = await exchangeMachineToken(anonymous, await anonymous.discover(), ciToken)
  return anonymous.withAccessToken(tokens.access_token)
}

beforeAll(async () => {
  server = await startDevServer(CONFIG)
  ciToken = await machineToken('ci-a', 'eng')
  auditorToken = await machineToken('audit-bot', 'security')
  const anonymous = new ControlClient({baseUrl: server.url})
  const tokens = await exchangeMachineToken(anonymous, await anonymous.discover(), ciToken)
  const client = anonymous.withAccessToken(tokens.access_token)
  ciSub = tokens.identity.sub
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  const key = {deviceId: 'e2e-device', keyId: keyIdOf(publicKey), privateKey}
  await registerAuditDevice(client, key.deviceId, rawPublicKey(publicKey).toString('base64url'))
  const chain = new HashChain()
  const sub = tokens.identity.sub
  const events = [
    chain.append(body(sub, 'select name from users', 'allow')).event,
    chain.append(body(sub, 'delete from users', 'deny')).event,
  ]
  await uploadAuditBatch(client, signBatch(key, events) as unknown as AuditBatchRequest)
}, 120_000)
afterAll(async () => {
  await server?.stop()
  home.remove()
})

describe('dbgate audit', {timeout: 120_000}, () => {
  it('search: filters, process and masked columns; a user without events sees none of others', async () => {
    const env = {...home.env, DBGATE_STATE_DIR: home.configDir, DBGATE_TOKEN: auditorToken}
    const denied = await runCli(
      ['audit', 'search', '--decision', 'deny', '--since', '1h', '--api', server.url],
      env,
    )
    expect(denied.code, denied.stderr).toBe(0)
    const lines = denied.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('delete from users')
    expect(lines[0]).toContain('psql (77) < bash')
    expect(lines[0]).toContain('users.ssn')
    const json = await runCli(['audit', 'search', '--text', 'name users', '--json', '--api', server.url], env)
    const found = JSON.parse(json.stdout) as {events: {event: {statement: string}}[]}
    expect(found.events.map((e) => e.event.statement)).toEqual(['select name from users'])
    const other = await machineToken('ci-b', 'eng')
    const mine = await runCli(['audit', 'search', '--json', '--api', server.url], {
      ...home.env,
      DBGATE_TOKEN: other,
    })
    expect(JSON.parse(mine.stdout)).toEqual({events: [], next_cursor: null})
    const bad = await runCli(['audit', 'search', '--since', 'yesterday', '--api', server.url], env)
    expect(bad.code).toBe(2)
  })

  it('verify: ok, then names an event edited in the store and a corrupt local spool; users may not verify', async () => {
    const env = {...home.env, DBGATE_STATE_DIR: home.configDir, DBGATE_TOKEN: auditorToken}
    const spool = DurableSpool.open(home.configDir)
    for (const s of ['select 1', 'select 2', 'select 3']) await spool.append(body('ci', s, 'allow'))
    await spool.close()
    const ok = await runCli(['audit', 'verify', '--json', '--api', server.url], env)
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      server: {verified: 2, devices: 1},
      local: {ok: true},
    })
    const db = new Database(join(server.dataDir, 'control-plane.db'))
    const row = db.prepare(`SELECT event_json FROM audit_events WHERE seq = 2`).get() as {event_json: string}
    const edited = JSON.stringify({...(JSON.parse(row.event_json) as object), statement: 'select 1'})
    db.prepare(`UPDATE audit_events SET event_json = ? WHERE seq = 2`).run(edited)
    db.close()
    const bad = await runCli(['audit', 'verify', '--api', server.url], env)
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain('device e2e-device: altered seq 2 (hash mismatch)')
    expect(bad.stdout).toContain('local spool: ok: 3 events')
    const spoolDir = join(home.configDir, 'audit', 'spool')
    const seg = join(
      spoolDir,
      readdirSync(spoolDir).find((f) => f.startsWith('seg-'))!,
    )
    const bytes = readFileSync(seg)
    bytes[bytes.indexOf('select 2') + 7] = '9'.charCodeAt(0)
    writeFileSync(seg, bytes)
    const local = await runCli(['audit', 'verify', '--json', '--api', server.url], env)
    const report = JSON.parse(local.stdout) as {local: {ok: boolean; problems: string[]}}
    expect(report.local.ok).toBe(false)
    expect(report.local.problems[0]).toMatch(
      /^spool seg-0+1\.log: unreadable from byte \d+ \(CRC mismatch\)$/,
    )
    const user = await runCli(['audit', 'verify', '--api', server.url], {
      ...home.env,
      DBGATE_STATE_DIR: home.configDir,
      DBGATE_TOKEN: ciToken,
    })
    expect(user.code).not.toBe(0)
    expect(user.stderr).toContain('auditor or admin')
  })

  it('verify names each kind of tampering in the store, in its lines and in --json', async () => {
    const env = {
      ...home.env,
      DBGATE_STATE_DIR: mkdtempSync(join(tmpdir(), 'dbgate-e2e-')),
      DBGATE_TOKEN: auditorToken,
    }
    const {privateKey, publicKey} = generateKeyPairSync('ed25519')
    const key = {deviceId: 'e2e-tamper', keyId: keyIdOf(publicKey), privateKey}
    const client = await ciClient()
    await registerAuditDevice(client, key.deviceId, rawPublicKey(publicKey).toString('base64url'))
    const chain = new HashChain()
    const ev = Array.from({length: 10}, (_, i) => chain.append(body(ciSub, `select ${i + 1}`, 'allow')).event)
    const send = (events: typeof ev, k = key) =>
      uploadAuditBatch(client, signBatch(k, events) as unknown as AuditBatchRequest)
    await send(ev.slice(0, 4))
    await send(ev.slice(4, 8))
    await send(ev.slice(0, 4)) // replayed
    const forger = generateKeyPairSync('ed25519')
    await expect(
      send(ev.slice(8, 10), {...key, keyId: keyIdOf(forger.publicKey), privateKey: forger.privateKey}),
    ).rejects.toMatchObject({status: 403}) // forged
    const db = new Database(join(server.dataDir, 'control-plane.db'))
    try {
      const at = (seq: number) =>
        db
          .prepare(`SELECT event_json, server_seq FROM audit_events WHERE device_id = ? AND seq = ?`)
          .get(key.deviceId, seq) as {
          event_json: string
          server_seq: number
        }
      const edited = JSON.stringify({...(JSON.parse(at(2).event_json) as object), statement: 'select 0'})
      db.prepare(`UPDATE audit_events SET event_json = ? WHERE device_id = ? AND seq = 2`).run(
        edited,
        key.deviceId,
      )
      db.prepare(`DELETE FROM audit_events WHERE device_id = ? AND seq = 5`).run(key.deviceId)
      const [a, b] = [at(7).server_seq, at(8).server_seq]
      const set = db.prepare(`UPDATE audit_events SET server_seq = ? WHERE device_id = ? AND seq = ?`)
      set.run(-1, key.deviceId, 7)
      set.run(a, key.deviceId, 8)
      set.run(b, key.deviceId, 7)
    } finally {
      db.close()
    }
    const lines = [
      'device e2e-tamper: altered seq 2 (hash mismatch)',
      'device e2e-tamper: missing seq 5',
      'device e2e-tamper: out of order: seq 7 after 8',
      'device e2e-tamper: replayed batch 1-4',
      'device e2e-tamper: forged batch 9-10 refused',
    ]
    const human = await runCli(['audit', 'verify', '--api', server.url], env)
    expect(human.code).toBe(1)
    for (const line of lines) expect(human.stdout).toContain(`\n  ${line}`)
    const json = await runCli(['audit', 'verify', '--json', '--api', server.url], env)
    const report = JSON.parse(json.stdout) as {ok: boolean; server: {problems: string[]}}
    expect(report.ok).toBe(false)
    for (const line of lines) expect(report.server.problems.some((p) => p.startsWith(line))).toBe(true)
  })

  it('verify --local names an edited, a deleted, a swapped and a replayed spool record, in its lines and in --json', async () => {
    const state = mkdtempSync(join(tmpdir(), 'dbgate-e2e-local-'))
    const env = {...home.env, DBGATE_STATE_DIR: state}
    const tamper: Record<number, (r: Buffer[]) => Buffer[]> = {
      0: (r) =>
        r.map((x, i) =>
          i === 2 ? frame(Buffer.from(x.subarray(8).toString().replace('select 3', 'select 0'))) : x,
        ),
      1: (r) => r.filter((_, i) => i !== 4),
      2: (r) => [...r.slice(0, 3), r[4]!, r[3]!, ...r.slice(5)],
      3: (r) => [...r.slice(0, 6), r[2]!, ...r.slice(6)],
    }
    for (const lane of [0, 1, 2, 3]) {
      const dir = laneSpoolDir(state, lane)
      const spool = DurableSpool.open(state, {dir})
      for (let i = 1; i <= 8; i++) await spool.append(body('me', `select ${i}`, 'allow'))
      await spool.close()
      const seg = join(
        dir,
        readdirSync(dir).find((f) => f.startsWith('seg-'))!,
      )
      const records = scanFrames(readFileSync(seg)).records.map((r) =>
        frame(Buffer.from(JSON.stringify(r.event))),
      )
      writeFileSync(seg, Buffer.concat(tamper[lane]!(records)))
    }
    const lines = [
      'altered seq 3 (hash mismatch)',
      'spool-1: missing seq 5',
      'spool-2: out of order: seq 4 after 5',
      'spool-3: replayed batch 3',
    ]
    const human = await runCli(['audit', 'verify', '--local'], env)
    expect(human.code).toBe(1)
    expect(human.stdout).toBe(`local spool: PROBLEMS: 32 events\n${lines.map((l) => `  ${l}\n`).join('')}`)
    const json = await runCli(['audit', 'verify', '--local', '--json'], env)
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      server: null,
      local: {ok: false, events: 32, problems: lines},
    })
    rmSync(state, {recursive: true, force: true})
  })
})
