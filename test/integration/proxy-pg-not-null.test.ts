/**
 * `where: absent` for a WHERE that only drops NULLs, through the Postgres proxy: `id is not null` bounds
 * nothing on a NOT NULL column (the proxy asks the catalog), and bounds a nullable one.
 */
import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {pgClient, startTestProxy, type TestProxy} from '../support/proxy.js'
import {psqlThrough} from '../support/psql.js'

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_notnull',
    `create table t(id int primary key, v text, deleted_at timestamptz);
     insert into t values (1, 'a', null), (2, 'b', now()), (3, 'c', null);
     create schema other;
     create table other.n(k int not null, m int);
     insert into other.n values (1, null), (2, 2);
     create table "it's" (id int not null, note text);
     insert into "it's" values (1, null), (2, 'x');`,
  )
  proxy = await startTestProxy(db.url)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

const client = (): Promise<pg.Client> => pgClient(proxy)

describe('a WHERE that only drops NULLs', () => {
  it('is no restriction on a NOT NULL column: denied, and nothing is deleted', async () => {
    const c = await client()
    const err = await c.query('delete from t where id is not null').catch((e: unknown) => e)
    expect(err).toMatchObject({code: '42501', routine: 'dbgate_policy_deny'})
    expect((err as Error).message).toContain('no-unbounded-delete')
    // Extended protocol, qualified name and alias: the same.
    const ext = await c
      .query('update public.t x set v = $1 where x.id is not null', ['z'])
      .catch((e: unknown) => e)
    expect(ext).toMatchObject({code: '42501'})
    const other = await c.query('delete from other.n where k is not null').catch((e: unknown) => e)
    expect(other).toMatchObject({code: '42501'})
    expect((await c.query('select count(*)::int as n from t')).rows[0].n).toBe(3)
    expect((await c.query("select count(*)::int as n from t where v = 'z'")).rows[0].n).toBe(0)
    await c.end()
  })

  it('bounds a nullable column: allowed, and only those rows change', async () => {
    const c = await client()
    await c.query('begin')
    expect((await c.query('delete from t where deleted_at is not null')).rowCount).toBe(1)
    expect((await c.query('update other.n set m = 0 where m is not null', [])).rowCount).toBe(1)
    await c.query('rollback')
    await c.end()
  })

  it('counts system columns as never NULL, and num_nulls as a NULL test: denied, and nothing changes', async () => {
    const c = await client()
    for (const sql of [
      'delete from t where ctid is not null',
      'delete from t where t.xmin is not null or id = 2',
      'update t set v = $1 where tableoid is not null',
      // num_nulls(id) = 0 is id IS NOT NULL: asked of the catalog like it.
      'delete from t where num_nulls(id) = 0',
    ]) {
      const err = await c.query(sql, sql.includes('$1') ? ['z'] : []).catch((e: unknown) => e)
      expect(err, sql).toMatchObject({code: '42501', routine: 'dbgate_policy_deny'})
    }
    expect((await c.query('select count(*)::int as n from t')).rows[0].n).toBe(3)
    expect((await c.query("select count(*)::int as n from t where v = 'z'")).rows[0].n).toBe(0)
    // A system column compared with a value still bounds the write.
    await c.query('begin')
    expect((await c.query("delete from t where ctid = '(0,1)'")).rowCount).toBe(1)
    await c.query('rollback')
    await c.end()
  })

  it('asks about a table whose name has a quote as about any other', async () => {
    const c = await client()
    const err = await c.query(`delete from "it's" where id is not null`).catch((e: unknown) => e)
    expect(err).toMatchObject({code: '42501'})
    await c.query('begin')
    expect((await c.query(`delete from "it's" where note is not null`)).rowCount).toBe(1)
    await c.query('rollback')
    await c.end()
  })

  it('answers pipelined queries in order while the catalog is asked', async () => {
    const c = await client()
    const results = await Promise.allSettled([
      c.query('select 1 as n'),
      c.query('delete from t where id is not null'),
      c.query('select $1::int as n', [3]),
      c.query('select v from t where deleted_at is not null'),
      c.query('update t set v = v where id is not null or v is null'),
      c.query('select 6 as n'),
    ])
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ])
    expect((results[2] as PromiseFulfilledResult<pg.QueryResult>).value.rows[0].n).toBe(3)
    expect((results[5] as PromiseFulfilledResult<pg.QueryResult>).value.rows[0].n).toBe(6)
    await c.end()
  })

  it('psql sees the denial and its session goes on', async () => {
    const r = await psqlThrough(proxy.port, db.name, {
      input: 'delete from t where id is not null;\nselect count(*) from t;\n',
    })
    expect(r.stderr).toContain('no-unbounded-delete')
    expect(r.stdout).toMatch(/count\s*\n-+\s*\n\s*3\s*\n/)
  })
})
