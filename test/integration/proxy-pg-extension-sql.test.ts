/**
 * Extension functions that run SQL given as text, through the Postgres proxy against the real server with
 * tablefunc, xml2 and dblink created in their own schema: `crosstab`, `connectby` and `xpath_table` read
 * what their text names, and dblink runs its text over a connection (here, to this same database), so a
 * rule applies to that text as to the statement itself; text the guard cannot read before it runs is
 * refused. What the policy allows still runs and returns the server's rows.
 */
import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {pgClient, startTestProxy, type TestProxy} from '../support/proxy.js'

let db: ScratchDb
let proxy: TestProxy
let c: pg.Client

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_extsql',
    `create schema ext;
     create extension tablefunc schema ext;
     create extension xml2 schema ext;
     create extension dblink schema ext;
     create table secrets(id int, parent int, k text, v text);
     insert into secrets values (1, null, 'a', 'sealed'), (2, 1, 'b', 'sealed');
     create table tree(id int, parent int);
     insert into tree values (1, null), (2, 1), (3, 1);
     create table docs(id int, doc text);
     insert into docs values (1, '<a>one</a>'), (2, '<a>two</a>');
     create table t(id int primary key, v text);
     insert into t values (1, 'x'), (2, 'y');`,
  )
  proxy = await startTestProxy(db.url)
  c = await pgClient(proxy)
  await c.query('set search_path = public, ext')
})
afterAll(async () => {
  await c?.end()
  await proxy?.close()
  await db?.drop()
})

const refusal = (sql: string): Promise<unknown> =>
  c.query(sql).then(
    () => 'ran',
    (e: unknown) => e,
  )

describe('extension functions that run SQL given as text', () => {
  it.each([
    [
      "select * from crosstab('select k, k, v from secrets order by 1') as ct(k text, v text)",
      'secrets-need-review',
    ],
    [
      "select * from ext.crosstab('select 1, 1, 2', 'select k from secrets') as ct(a int, b int)",
      'secrets-need-review',
    ],
    ["select * from crosstab2('select k, k, v from secrets order by 1')", 'secrets-need-review'],
    [
      "select * from connectby('secrets', 'id', 'parent', '1', 0) as c(id int, p int, l int)",
      'secrets-need-review',
    ],
    [
      "select * from xpath_table('id', 'v', 'secrets', '/a', 'true') as x(id int, a text)",
      'secrets-need-review',
    ],
    [
      "select * from xpath_table('id', 'doc', 'docs', '/a', 'id in (select id from secrets)') as x(id int, a text)",
      'secrets-need-review',
    ],
    ["select * from crosstab('select 1, 1, 1; delete from t') as ct(a int, b int)", 'no-unbounded-delete'],
    [
      "select * from connectby('(select * from secrets) s', 'id', 'parent', '1', 0) as c(id int, p int, l int)",
      'not plain identifiers',
    ],
    [
      "select * from crosstab('select k, k, v from sec' || 'rets') as ct(k text, v text)",
      'not a string constant',
    ],
    // dblink to this same database: its text would run unjudged on another connection.
    ["select dblink_exec('dbname=' || current_database(), 'delete from t')", 'no-unbounded-delete'],
    ["select dblink_exec('dbname=' || current_database(), 'delete from t', true)", 'no-unbounded-delete'],
    [
      "select * from ext.dblink('dbname=' || current_database(), 'select v from secrets') as x(v text)",
      'secrets-need-review',
    ],
    ["select dblink_open('c', 'select v from secrets')", 'secrets-need-review'],
    [
      "select dblink_exec('dbname=' || current_database(), 'delete from t where id = ' || (select max(id) from t))",
      'not a string constant',
    ],
  ])('%s is refused (%s)', async (sql, reason) => {
    const err = await refusal(sql)
    expect(err).toMatchObject({code: '42501'})
    expect((err as Error).message).toContain(reason)
  })

  it('runs them on what the policy allows', async () => {
    const tree = await c.query(
      "select id from connectby('tree', 'id', 'parent', '1', 0) as c(id int, p int, l int) order by id",
    )
    expect(tree.rows.map((r: {id: number}) => r.id)).toEqual([1, 2, 3])
    const docs = await c.query(
      "select a from xpath_table('id', 'doc', 'docs', '/a', 'true') as x(id int, a text) order by id",
    )
    expect(docs.rows.map((r: {a: string}) => r.a)).toEqual(['one', 'two'])
    const ct = await c.query(
      "select * from crosstab('select 1, 1, 2 union all select 1, 2, 3', 2) as ct(r int, a int, b int)",
    )
    expect(ct.rows).toEqual([{r: 1, a: 2, b: 3}])
    const linked = await c.query(
      "select * from dblink('dbname=' || current_database(), 'select id from tree order by id') as x(id int)",
    )
    expect(linked.rows.map((r: {id: number}) => r.id)).toEqual([1, 2, 3])
  })

  it('changes nothing when refused, and the session goes on', async () => {
    expect((await c.query('select count(*)::int as n from t')).rows[0].n).toBe(2)
    const denied = proxy.audit.events.filter((e) => e.decision === 'deny' || e.decision === 'review')
    expect(denied.length).toBeGreaterThanOrEqual(14)
  })
})
