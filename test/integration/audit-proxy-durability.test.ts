/**
 * The proxy's durability rule against the real server: a statement's result is released only once its
 * audit event is durable; when events cannot be recorded, statements that write fail closed.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import pg from 'pg'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {AuditSpoolUnavailableError} from '../../src/audit/errors.js'
import {AuditTrail} from '../../src/audit/trail.js'
import type {AuditSink} from '../../src/audit/types.js'
import {verifyChain} from '../../src/audit/verify.js'
import {readSpoolDir} from '../support/audit-spool.js'
import {GatedSink} from '../support/gated-sink.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {startTestProxy, type TestProxy} from '../support/proxy.js'

let db: ScratchDb
const cleanup: (() => Promise<void>)[] = []
const dirs: string[] = []

beforeAll(async () => {
  db = await createScratchDb('dbgate_audit_dur', 'create table t(id int);')
})
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined)
  await adminQuery('delete from t', db.name)
})
afterAll(async () => {
  await db?.drop()
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

async function proxyWith(sink: AuditSink): Promise<TestProxy> {
  const proxy = await startTestProxy(db.url, undefined, {sink})
  cleanup.push(() => proxy.close())
  return proxy
}

async function client(proxy: TestProxy): Promise<pg.Client> {
  const c = new pg.Client(proxy.clientConfig)
  c.on('error', () => undefined)
  await c.connect()
  cleanup.push(() => c.end())
  return c
}

/** The bytes of the larger of a session_start and a statement event recorded by a proxy in this process. */
async function eventBytes(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-size-'))
  dirs.push(dir)
  const trail = await AuditTrail.open({stateDir: dir})
  try {
    const proxy = await startTestProxy(db.url, undefined, {sink: trail})
    const c = new pg.Client(proxy.clientConfig)
    try {
      await c.connect()
      await c.query('select 1')
    } finally {
      await c.end()
      await proxy.close()
    }
    const sizes = readSpoolDir(trail.spool.dir).map((e) => Buffer.byteLength(JSON.stringify(e)) + 8)
    return Math.max(...sizes)
  } finally {
    await trail.close()
  }
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('the durability rule', () => {
  it("holds a statement's result until its event is durable", async () => {
    const sink = new GatedSink()
    const c = await client(await proxyWith(sink))
    let settled = false
    const result = c.query("select 'held' as v").finally(() => (settled = true))
    await sink.next()
    expect(sink.waiting[0]?.event.statement).toBe("select 'held' as v")
    await tick(300)
    expect(settled).toBe(false)
    sink.waiting[0]?.release()
    expect((await result).rows).toEqual([{v: 'held'}])
  })

  it('ends the session when the event of a statement that wrote cannot be recorded; its transaction rolls back', async () => {
    const failing: AuditSink = {
      write: (e) =>
        (e.statement ?? '').startsWith('insert')
          ? Promise.reject(new AuditSpoolUnavailableError('/spool', 'EIO: i/o error, write'))
          : Promise.resolve(),
      close: () => Promise.resolve(),
    }
    const c = await client(await proxyWith(failing))
    await c.query('begin')
    const err = await c.query('insert into t values (1)').then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err?.message).toMatch(/audit event of a statement that writes could not be recorded/)
    expect(err?.message).toContain('E_AUDIT_SPOOL_UNAVAILABLE')
    expect((await adminQuery('select count(*)::int as n from t', db.name)).rows[0]).toEqual({n: 0})
  })
})

describe('a full spool', () => {
  it('refuses statements that write with an error naming why, lets reads run, and refuses new sessions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-full-'))
    dirs.push(dir)
    // 64 KiB of headroom is kept below the bound: this leaves room for four events. Their size depends on
    // the peer process recorded in each (its parents' command lines), so it is measured first.
    const trail = await AuditTrail.open({stateDir: dir, maxBytes: 64 * 1024 + 4 * (await eventBytes())})
    cleanup.push(() => trail.close())
    const proxy = await proxyWith(trail)
    const c = await client(proxy)
    await c.query('insert into t values (1)')
    for (let i = 0; i < 5; i++) await c.query('select count(*) from t')
    const denied = await c.query('insert into t values (2)').then(
      () => undefined,
      (e: unknown) => e as Error & {code?: string},
    )
    expect(denied?.code).toBe('42501')
    expect(denied?.message).toContain('E_AUDIT_SPOOL_FULL')
    expect((await c.query('select count(*)::int as n from t')).rows).toEqual([{n: 1}])
    const late = new pg.Client(proxy.clientConfig)
    late.on('error', () => undefined)
    const refused = await late.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    await late.end().catch(() => undefined)
    expect(refused?.message).toMatch(/cannot record this session in the audit trail: E_AUDIT_SPOOL_FULL/)
    // What was recorded is one unbroken chain.
    const events = readSpoolDir(trail.spool.dir)
    expect(events.filter((e) => e.type === 'statement').length).toBeGreaterThanOrEqual(6)
    expect(verifyChain(events).ok).toBe(true)
  })
})

describe('a proxy killed with SIGKILL', () => {
  it.each(['written', 'synced'])(
    '%s durability: every statement whose result reached a client is in the spool',
    async (durability) => {
      const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-kill-'))
      dirs.push(dir)
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, 'audit-spool-child.ts'),
          'proxy',
          dir,
          db.url,
          durability,
        ],
        {stdio: ['ignore', 'pipe', 'inherit']},
      )
      const exited = new Promise((resolve) => child.once('exit', resolve))
      cleanup.push(() => {
        child.kill('SIGKILL')
        return Promise.resolve()
      })
      const port = await new Promise<number>((resolve, reject) => {
        let text = ''
        child.stdout.on('data', (d: Buffer) => {
          text += d.toString()
          const m = /port=(\d+)/.exec(text)
          if (m) resolve(Number(m[1]))
        })
        child.once('exit', () => reject(new Error(`the proxy child exited: ${text}`)))
      })
      const seen: string[] = []
      let killed = false
      const burst = async (worker: number): Promise<void> => {
        const c = new pg.Client({host: '127.0.0.1', port, user: 'postgres', database: db.name})
        c.on('error', () => undefined)
        await c.connect()
        for (let i = 0; !killed; i++) {
          const sql = `select ${worker * 100000 + i} as n`
          const ok = await c.query(sql).then(
            () => true,
            () => false,
          )
          if (!ok) break
          seen.push(sql)
          if (seen.length >= 400 && !killed) {
            killed = true
            child.kill('SIGKILL')
          }
        }
        await c.end().catch(() => undefined)
      }
      await Promise.all([1, 2, 3, 4].map((w) => burst(w)))
      await exited
      const events = readSpoolDir(join(dir, 'audit', 'spool'))
      const recorded = new Set(events.map((e) => e.statement))
      expect(seen.length).toBeGreaterThanOrEqual(400)
      expect(seen.filter((sql) => !recorded.has(sql))).toEqual([])
      expect(verifyChain(events).ok).toBe(true)
    },
  )
})
