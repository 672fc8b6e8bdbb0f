/** node-postgres through the guarded proxy against the real server. */
import {connect} from 'node:net'

import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cancelRequest} from '../../src/proxy/postgres/wire.js'
import type {Policy} from '../../src/policy/index.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {F, RawClient, errorMessage, types} from '../support/pg-raw.js'
import {TEST_POLICY, pgClient, startTestProxy, type TestProxy} from '../support/proxy.js'

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_pgc',
    `create table t(id int primary key, v text); insert into t values (1, 'a'), (2, 'b'); create table secrets(k text);`,
  )
  proxy = await startTestProxy(db.url)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

function client(p: TestProxy = proxy, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  return pgClient(p, extra)
}

describe('node-postgres through the proxy', () => {
  it('runs simple queries, extended queries with parameters and named prepared statements', async () => {
    const c = await client()
    expect((await c.query('select v from t order by id')).rows).toEqual([{v: 'a'}, {v: 'b'}])
    expect((await c.query('select v from t where id = $1', [2])).rows).toEqual([{v: 'b'}])
    for (const id of [1, 2, 1]) {
      const r = await c.query({name: 'by-id', text: 'select v from t where id = $1', values: [id]})
      expect(r.rows[0].v).toBe(id === 1 ? 'a' : 'b')
    }
    await c.end()
  })

  it('answers queued queries in order when one in the middle is denied', async () => {
    const c = await client()
    const results = await Promise.allSettled([
      c.query('select 1 as n'),
      c.query('select $1::int as n', [2]),
      c.query('drop table t'),
      c.query('select 4 as n'),
      c.query('delete from t'),
      c.query('select $1::int as n', [6]),
    ])
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ])
    const denied = results[2] as PromiseRejectedResult
    expect(denied.reason).toMatchObject({code: '42501', routine: 'dbgate_policy_deny'})
    expect(String(denied.reason.message)).toContain('no-drop')
    expect((results[4] as PromiseRejectedResult).reason.message).toContain('no-unbounded-delete')
    expect((results[5] as PromiseFulfilledResult<pg.QueryResult>).value.rows[0].n).toBe(6)
    await c.end()
  })

  it('answers review decisions with an approval-required error', async () => {
    const c = await client()
    const err = await c.query('select * from secrets').catch((e: unknown) => e)
    expect(err).toMatchObject({code: '42501', routine: 'dbgate_policy_review'})
    expect((err as Error).message).toContain('approval required by rule "secrets-need-review"')
    expect((await c.query('select 1 as ok')).rows[0].ok).toBe(1)
    await c.end()
  })

  it('passes server errors and notices through', async () => {
    const c = await client()
    const notices: string[] = []
    c.on('notice', (n) => notices.push(n.message ?? ''))
    await expect(c.query('select * from nope')).rejects.toMatchObject({code: '42P01'})
    await c.query(`do $$ begin raise notice 'hello from the server'; end $$`)
    expect(notices).toContain('hello from the server')
    await c.end()
  })

  it('cancels a running query with the proxy-issued cancel key', async () => {
    const c = await client()
    const running = c.query('select pg_sleep(30)')
    await new Promise((r) => setTimeout(r, 300))
    const {processID, secretKey} = c as unknown as {processID: number; secretKey: number}
    const s = connect({host: '127.0.0.1', port: proxy.port})
    s.on('connect', () => s.end(cancelRequest(processID, secretKey)))
    await expect(running).rejects.toMatchObject({code: '57014'})
    expect((await c.query('select 1 as ok')).rows[0].ok).toBe(1)
    await c.end()
  })

  it('treats statements with backslashes as unparseable while the server has standard_conforming_strings off', async () => {
    await adminQuery(`alter database ${db.name} set standard_conforming_strings = off`)
    try {
      const c = await client()
      await expect(c.query(`select 'a\\' as x`)).rejects.toMatchObject({
        code: '42501',
        routine: 'dbgate_policy_deny',
      })
      expect((await c.query(`select 'plain' as x`)).rows[0].x).toBe('plain')
      await c.end()
    } finally {
      await adminQuery(`alter database ${db.name} reset standard_conforming_strings`)
    }
    const c = await client()
    expect((await c.query(`select 'a\\' as x`)).rows[0].x).toBe('a\\')
    await c.end()
  })

  it('decides settings in the startup options like SET statements', async () => {
    const noSet: Policy = {...TEST_POLICY, rules: [{name: 'no-set', when: {kinds: ['set']}, action: 'deny'}]}
    const strict = await startTestProxy(db.url, noSet)
    try {
      await expect(client(strict, {options: '-c search_path=elsewhere'})).rejects.toThrow(/no-set/)
      const ok = await client(strict)
      expect((await ok.query('select 1 as n')).rows[0].n).toBe(1)
      await ok.end()
    } finally {
      await strict.close()
    }
    const c = await client(proxy, {options: '-c search_path=public -c statement_timeout=5000'})
    expect((await c.query('show statement_timeout')).rows[0].statement_timeout).toBe('5s')
    await c.end()
  })

  it('refuses a database other than the target and requires the local password when set', async () => {
    await expect(client(proxy, {database: 'postgres'})).rejects.toMatchObject({code: '3D000'})
    const locked = await startTestProxy(db.url, TEST_POLICY, {localPassword: 's3cret'})
    try {
      await expect(client(locked, {password: 'wrong'})).rejects.toMatchObject({code: '28P01'})
      const ok = await client(locked, {password: 's3cret'})
      expect((await ok.query('select 1 as n')).rows[0].n).toBe(1)
      await ok.end()
    } finally {
      await locked.close()
    }
  })

  it('denies fastpath function calls unless a rule allows the function', async () => {
    const oid = Number((await adminQuery(`select 'pg_catalog.int4abs'::regproc::oid as oid`)).rows[0].oid)
    const raw = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    raw.send(F.functionCall(oid, ['-5']))
    const denied = await raw.readUntil('Z')
    expect(types(denied)).toBe('EZ')
    expect(errorMessage(denied[0]!)).toContain('pg_catalog.int4abs')
    raw.end()
    const allowing: Policy = {
      ...TEST_POLICY,
      rules: [
        {name: 'abs-ok', when: {functions: ['pg_catalog.int4abs']}, action: 'allow'},
        ...TEST_POLICY.rules,
      ],
    }
    const p = await startTestProxy(db.url, allowing)
    try {
      const r = await RawClient.connect(p.port, {user: 'postgres', database: db.name})
      r.send(F.functionCall(oid, ['-5']))
      const ok = await r.readUntil('Z')
      expect(types(ok)).toBe('VZ')
      expect(ok[0]!.frame.subarray(9).toString()).toBe('5')
      r.end()
    } finally {
      await p.close()
    }
  })

  it('records audit events for session start/end and each statement with its decision', async () => {
    const before = proxy.audit.events.length
    const c = await client()
    await c.query('select v from t where id = 1')
    await c.query('drop table t').catch(() => undefined)
    await c.end()
    await new Promise((r) => setTimeout(r, 100))
    const events = proxy.audit.events.slice(before)
    expect(events.map((e) => e.type)).toEqual(['session_start', 'statement', 'statement', 'session_end'])
    expect(events[1]).toMatchObject({
      decision: 'allow',
      rows: 1,
      kinds: ['select'],
      tables: ['public.t'],
      protocol: 'postgres',
      db_user: 'postgres',
    })
    expect(events[2]).toMatchObject({decision: 'deny', rule: 'no-drop', statement: 'drop table t'})
    expect(new Set(events.map((e) => e.session_id)).size).toBe(1)
  })

  it('gives the client a clean error when the server connection dies mid-query, and keeps serving', async () => {
    const c = await client(proxy, {application_name: 'doomed'})
    c.on('error', () => undefined)
    const running = c.query('select pg_sleep(30)').then(
      () => null,
      (e: unknown) => e,
    )
    await new Promise((r) => setTimeout(r, 300))
    await adminQuery(
      `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'doomed'`,
    )
    expect(await running).toBeInstanceOf(Error)
    const again = await client()
    expect((await again.query('select 1 as n')).rows[0].n).toBe(1)
    await again.end()
  })
})
