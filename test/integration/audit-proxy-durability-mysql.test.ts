/**
 * The durability rule on the MySQL engine, against the real MariaDB, as for Postgres
 * (audit-proxy-durability.test.ts): a statement's result is released only once its audit event is
 * durable; when events cannot be recorded, statements that write fail closed and reads go on.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import mysql from 'mysql2/promise'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {AuditSpoolUnavailableError} from '../../src/audit/errors.js'
import {AuditTrail} from '../../src/audit/trail.js'
import type {AuditSink} from '../../src/audit/types.js'
import {verifyChain} from '../../src/audit/verify.js'
import {readSpoolDir} from '../support/audit-spool.js'
import {GatedSink} from '../support/gated-sink.js'
import {
  MARIADB,
  mysqlScratch,
  mysqlTestPolicy,
  startMysqlTestProxy,
  type MysqlScratch,
  type MysqlTestProxy,
} from '../support/mysql-proxy.js'

let db: MysqlScratch
const cleanup: (() => Promise<void>)[] = []
const dirs: string[] = []

beforeAll(async () => {
  db = await mysqlScratch('audit_dur')
  await db.admin(`CREATE TABLE \`${db.name}\`.t (id INT)`)
})
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined)
  await db.admin(`DELETE FROM \`${db.name}\`.t`)
})
afterAll(async () => {
  await db?.drop()
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

const url = (): string => `mysql://root@127.0.0.1:3306/${db.name}?ssl-mode=disabled`

async function proxyWith(sink: AuditSink): Promise<MysqlTestProxy> {
  const proxy = await startMysqlTestProxy(url(), mysqlTestPolicy(db.name), {sink})
  cleanup.push(() => proxy.close())
  return proxy
}

async function client(proxy: MysqlTestProxy): Promise<mysql.Connection> {
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'root',
    database: db.name,
  })
  c.on('error', () => undefined)
  cleanup.push(() => c.end())
  return c
}

/** Rows of t, read directly from MariaDB. */
async function countDirect(): Promise<number> {
  const c = await mysql.createConnection({...MARIADB, database: db.name})
  try {
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM t')
    return Number((rows as {n: number}[])[0]?.n)
  } finally {
    await c.end()
  }
}

/** The bytes of the largest event a session of this process records. */
async function eventBytes(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-size-my-'))
  dirs.push(dir)
  const trail = await AuditTrail.open({stateDir: dir})
  try {
    const proxy = await startMysqlTestProxy(url(), mysqlTestPolicy(db.name), {sink: trail})
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'root',
      database: db.name,
    })
    try {
      await c.query('SELECT COUNT(*) FROM t')
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

describe('the durability rule (mysql)', () => {
  it("holds a statement's result until its event is durable", async () => {
    const sink = new GatedSink()
    const c = await client(await proxyWith(sink))
    let settled = false
    const result = c.query("SELECT 'held' AS v").finally(() => (settled = true))
    await sink.next()
    expect(sink.waiting[0]?.event).toMatchObject({statement: "SELECT 'held' AS v", protocol: 'mysql'})
    await tick(300)
    expect(settled).toBe(false)
    sink.waiting[0]?.release()
    expect((await result)[0]).toEqual([{v: 'held'}])
  })

  it("holds a denial's ERR until its event is durable", async () => {
    const sink = new GatedSink()
    const c = await client(await proxyWith(sink))
    let settled = false
    const denied = c.query('DROP TABLE t').then(
      () => undefined,
      (e: unknown) => e as Error & {errno?: number},
    )
    void denied.finally(() => (settled = true))
    await sink.next()
    expect(sink.waiting[0]?.event).toMatchObject({statement: 'DROP TABLE t', decision: 'deny'})
    await tick(300)
    expect(settled).toBe(false)
    sink.waiting[0]?.release()
    expect((await denied)?.errno).toBe(1142)
  })

  it('ends the session when the event of a statement that wrote cannot be recorded; its transaction rolls back', async () => {
    const failing: AuditSink = {
      write: (e) =>
        (e.statement ?? '').startsWith('INSERT')
          ? Promise.reject(new AuditSpoolUnavailableError('/spool', 'EIO: i/o error, write'))
          : Promise.resolve(),
      close: () => Promise.resolve(),
    }
    const c = await client(await proxyWith(failing))
    await c.query('BEGIN')
    const err = await c.query('INSERT INTO t VALUES (1)').then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err?.message).toMatch(/audit event of a statement that writes could not be recorded/)
    expect(err?.message).toContain('E_AUDIT_SPOOL_UNAVAILABLE')
    expect(await countDirect()).toBe(0)
  })
})

describe('a full spool (mysql)', () => {
  it('refuses INSERT with an ERR naming why, lets SELECT run, and refuses new sessions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-full-my-'))
    dirs.push(dir)
    // 64 KiB of headroom is kept below the bound: this leaves room for four events.
    const trail = await AuditTrail.open({stateDir: dir, maxBytes: 64 * 1024 + 4 * (await eventBytes())})
    cleanup.push(() => trail.close())
    const proxy = await proxyWith(trail)
    const c = await client(proxy)
    await c.query('INSERT INTO t VALUES (1)')
    for (let i = 0; i < 5; i++) await c.query('SELECT COUNT(*) FROM t')
    const denied = await c.query('INSERT INTO t VALUES (2)').then(
      () => undefined,
      (e: unknown) => e as Error & {errno?: number; sqlState?: string},
    )
    expect(denied?.errno).toBe(1142)
    expect(denied?.sqlState).toBe('42000')
    expect(denied?.message).toContain('dbgate-audit-trail')
    expect(denied?.message).toContain('E_AUDIT_SPOOL_FULL')
    expect(denied?.message).toContain(
      'Statements that write are refused until the audit trail can record them',
    )
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM t')
    expect(rows).toEqual([{n: 1}])
    expect(await countDirect()).toBe(1)
    const refused = await mysql
      .createConnection({host: '127.0.0.1', port: proxy.port, user: 'root', database: db.name})
      .then(
        async (late) => {
          await late.end()
          return undefined
        },
        (e: unknown) => e as Error,
      )
    expect(refused?.message).toMatch(/cannot record this session in the audit trail: E_AUDIT_SPOOL_FULL/)
    const events = readSpoolDir(trail.spool.dir)
    expect(events.filter((e) => e.type === 'statement').length).toBeGreaterThanOrEqual(6)
    expect(events.every((e) => e.protocol === 'mysql')).toBe(true)
    expect(verifyChain(events).ok).toBe(true)
  })
})
