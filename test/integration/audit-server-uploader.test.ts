import {generateKeyPairSync, randomUUID} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterAll, describe, expect, it} from 'vitest'

import {DurableSpool} from '../../src/audit/durable-spool.js'
import type {AuditEventBody} from '../../src/audit/event.js'
import {keyIdOf, rawPublicKey, type SignedBatch, type SigningKey} from '../../src/audit/signing.js'
import {backoffDelay, Uploader} from '../../src/audit/uploader.js'
import type {AuditBatchRequest} from '../../src/control/api-types.js'
import {ControlClient} from '../../src/control/client.js'
import {registerAuditDevice, uploadAuditBatch} from '../../src/control/audit.js'
import {loginAs, startTestServer, type TestServer} from './server-harness.js'

// The uploader against a real control plane that goes away and comes back on the same data directory.

function body(identity: string, i: number): AuditEventBody {
  return {
    id: randomUUID(),
    type: 'statement',
    time: new Date().toISOString(),
    session_id: 's',
    identity,
    groups: [],
    actor: 'human',
    agent: null,
    process: {found: false, reason: 'test'},
    target: 'pg-test',
    protocol: 'postgres',
    database: 'test',
    db_user: 'u',
    statement: `select ${i}`,
    fingerprint: null,
    kinds: ['select'],
    tables: [],
    decision: 'allow',
    rule: null,
    approval_id: null,
    masked_columns: [],
    rows: 1,
    duration_ms: 1,
    error: null,
    policy_version: null,
    client_version: 'test',
    application_name: null,
  }
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25))
  expect(cond()).toBe(true)
}

describe('audit uploader', () => {
  const serverDir = mkdtempSync(join(tmpdir(), 'dbgate-audit-srv-'))
  const stateDir = mkdtempSync(join(tmpdir(), 'dbgate-audit-cli-'))
  afterAll(() => {
    rmSync(serverDir, {recursive: true, force: true})
    rmSync(stateDir, {recursive: true, force: true})
  })

  it('uploads events written while the control plane was down, exactly once, and survives a lost answer', async () => {
    let server: TestServer = await startTestServer({}, serverDir)
    let tokens = await loginAs(server, {username: 'alice', password: 'alice-pw'})
    const sub = tokens.identity.sub as string
    const client = () =>
      new ControlClient({baseUrl: server.url, accessToken: tokens.access_token, timeoutMs: 2000})
    const {privateKey, publicKey} = generateKeyPairSync('ed25519')
    const key: SigningKey = {deviceId: `dev-${randomUUID()}`, keyId: keyIdOf(publicKey), privateKey}
    await registerAuditDevice(client(), key.deviceId, rawPublicKey(publicKey).toString('base64url'))

    const spool = DurableSpool.open(stateDir)
    let loseNextAnswer = true
    let sends = 0
    const errors: unknown[] = []
    const send = async (batch: SignedBatch) => {
      sends++
      const answer = await uploadAuditBatch(client(), batch as unknown as AuditBatchRequest)
      if (loseNextAnswer) {
        loseNextAnswer = false
        throw new Error('connection reset after the server stored the batch')
      }
      return answer
    }
    const uploader = new Uploader({
      source: spool,
      key,
      send,
      batchSize: 7,
      intervalMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      onError: (err) => errors.push(err),
    })
    uploader.start()
    for (let i = 1; i <= 10; i++) await spool.append(body(sub, i))
    uploader.poke()
    await until(() => spool.acknowledged === 10)
    expect(errors.length).toBeGreaterThanOrEqual(1)

    await server.close()
    for (let i = 11; i <= 40; i++) await spool.append(body(sub, i))
    uploader.poke()
    await until(() => uploader.consecutiveFailures >= 2)
    expect(spool.acknowledged).toBe(10)

    server = await startTestServer({}, serverDir)
    // The restarted server listens on another port, so its issuer changed: log in again, as the CLI would.
    tokens = await loginAs(server, {username: 'alice', password: 'alice-pw'})
    await until(() => spool.acknowledged === 40).catch((e: unknown) => {
      throw new Error(
        `${String(e)}; last errors: ${errors.slice(-2).map(String).join(' | ')}; acked ${spool.acknowledged}`,
      )
    })
    await uploader.stop()
    await spool.close()
    expect(sends).toBeGreaterThan(6)

    const db = new Database(join(serverDir, 'control-plane.db'), {readonly: true})
    const rows = db
      .prepare(`SELECT seq FROM audit_events WHERE device_id = ? ORDER BY seq`)
      .all(key.deviceId) as {seq: number}[]
    db.close()
    expect(rows.map((r) => r.seq)).toEqual(Array.from({length: 40}, (_, i) => i + 1))
    await server.stop()
  })

  it('backs off exponentially with jitter, bounded', () => {
    expect([1, 2, 3, 4, 10, 60].map((a) => backoffDelay(a, 100, 5000, () => 0.999999))).toEqual(
      [99, 199, 399, 799, 4999, 4999].map((d) => Math.max(100, d)),
    )
    expect(backoffDelay(5, 100, 5000, () => 0)).toBe(100)
  })
})
