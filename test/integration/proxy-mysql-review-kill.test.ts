/**
 * Ctrl-C while a MySQL statement waits for approval: the mysql client sends `KILL QUERY <id>` on another
 * connection. The held statement never reached the server, so the proxy ends the wait itself: the client
 * gets ERR 1317, its session goes on, and the request stays open.
 */
import {spawn} from 'node:child_process'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MARIADB, mysqlScratch, mysqlTestPolicy, startMysqlTestProxy} from '../support/mysql-proxy.js'
import type {MysqlScratch, MysqlTestProxy} from '../support/mysql-proxy.js'
import {heldHook} from '../support/review-hook.js'

let db: MysqlScratch
let proxy: MysqlTestProxy
const {hook, nextHeld} = heldHook('prod-my')

async function client(): Promise<mysql.Connection> {
  const c = await mysql.createConnection({...MARIADB, port: proxy.port, database: db.name})
  c.on('error', () => undefined)
  return c
}

beforeAll(async () => {
  db = await mysqlScratch('review_kill')
  await db.admin(
    `CREATE TABLE \`${db.name}\`.secrets (id INT); INSERT INTO \`${db.name}\`.secrets VALUES (1), (2);`,
  )
  proxy = await startMysqlTestProxy(`mysql://root@127.0.0.1:3306/${db.name}`, mysqlTestPolicy(db.name), {
    review: hook,
  })
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

describe('KILL QUERY of a statement held for approval', {timeout: 30_000}, () => {
  it('ends the wait with ERR 1317; the session goes on; a KILL of a session that holds nothing only reaches the server', async () => {
    const a = await client()
    const b = await client()
    const pending = a.query('SELECT COUNT(*) AS n FROM secrets').then(
      () => undefined,
      (err: {errno?: number; sqlState?: string; message: string}) => err,
    )
    const h = await nextHeld()
    await b.query(`KILL QUERY ${a.threadId}`)
    const err = await pending
    expect(err?.errno).toBe(1317)
    expect(err?.sqlState).toBe('70100')
    expect(err?.message).toContain('the request stays open')
    // The hook hears that nobody waits any more: approving later runs nothing.
    expect(h.request.active()).toBe(false)
    h.resolve({kind: 'run', approvalId: 'apr_test'})
    const [rows] = await a.query('SELECT 1 AS one')
    expect(rows).toEqual([{one: 1}])
    // Nothing held on b: its KILL QUERY goes to the server as usual (a does not run anything: no error).
    await b.query(`KILL QUERY ${a.threadId}`)
    const [again] = await a.query('SELECT 2 AS two')
    expect(again).toEqual([{two: 2}])
    await a.end()
    await b.end()
  })

  it('Ctrl-C in the mariadb client stops waiting and says the query was killed', async () => {
    const child = spawn('mariadb', [
      '-h127.0.0.1',
      `-P${proxy.port}`,
      '-uroot',
      db.name,
      '-e',
      'SELECT COUNT(*) FROM secrets',
    ])
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
    const h = await nextHeld()
    child.kill('SIGINT')
    const code = await closed
    expect(out).toContain('ERROR 1317 (70100)')
    expect(code).not.toBe(0)
    expect(h.request.active()).toBe(false)
    h.resolve({kind: 'refuse', message: 'late', approvalId: null})
  })
})
