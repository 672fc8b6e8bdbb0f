import {generateKeyPairSync, randomUUID} from 'node:crypto'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {HashChain} from '../../src/audit/chain.js'
import {DurableSpool} from '../../src/audit/durable-spool.js'
import type {AuditEventBody} from '../../src/audit/event.js'
import {keyIdOf, rawPublicKey, signBatch} from '../../src/audit/signing.js'
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

beforeAll(async () => {
  server = await startDevServer(CONFIG)
  ciToken = await machineToken('ci-a', 'eng')
  auditorToken = await machineToken('audit-bot', 'security')
  const anonymous = new ControlClient({baseUrl: server.url})
  const tokens = await exchangeMachineToken(anonymous, await anonymous.discover(), ciToken)
  const client = anonymous.withAccessToken(tokens.access_token)
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
})
