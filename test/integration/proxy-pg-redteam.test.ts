/**
 * Red-team exfiltration through the Postgres proxy: writes hidden below the top-level statement,
 * values a built-in stores and gives back later (sequences, settings reported to the client), and
 * numbers an error message echoes. No seeded value (nor its reverse, base64 or hex) may reach the
 * client, nor the character codes of one.
 */
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {dataRows, leaksIn, needlesOf, sessionQueries} from '../support/pg-leak.js'
import {errorsOf, type RawMessage} from '../support/pg-raw.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {TEST_POLICY, startTestProxy, type TestProxy} from '../support/proxy.js'

const SENSITIVE = ['alice.red@example.com', 'bob.red@corp-mail.test']

const SETUP = `
create table users(id int primary key, name text, email text);
insert into users values (1, 'Alice', '${SENSITIVE[0]}'), (2, 'Bob', '${SENSITIVE[1]}');
create table t_cte(id int, note text);
create table t_explain(id int, note text);
create table t_prepare(id int, note text);
create table t_merge(id int, note text);
create table t_alter(id int, note text);
insert into t_alter values (1, 'n1'), (2, 'n2');
insert into t_cte values (1, 'n1'), (2, 'n2');
insert into t_explain values (1, 'n1'), (2, 'n2');
insert into t_prepare values (1, 'n1'), (2, 'n2');
insert into t_merge values (1, 'n1'), (2, 'n2');
create table t_upsert(id int primary key, note text);
create table t_copy(id int, note text);
insert into t_copy values (1, 'n1');
insert into t_upsert values (1, 'n1'), (2, 'n2');
create sequence seq;
create table secrets(id int, v text);
insert into secrets values (1, 'top-secret-value');
-- Views a DBA made, outside dbgate: a statement that reads them names no table of theirs.
create view v_secrets as select * from secrets;
create view v_of_v as select v from v_secrets;
create materialized view mv_secrets as select * from secrets;
create schema rep;
create view rep.v_sec as select id, v from secrets;
create view v_plain as select id, note from t_cte;
`

const POLICY: Policy = {
  ...TEST_POLICY,
  rules: [
    ...TEST_POLICY.rules,
    {
      name: 't-copy-read-only',
      when: {tables: ['public.t_copy'], kinds: ['insert', 'update', 'delete']},
      action: 'deny',
    },
    {name: 'no-reading-t-copy', when: {tables: ['public.t_copy'], kinds: ['select']}, action: 'deny'},
  ],
  masking: [{name: 'email', columns: ['public.users.email'], style: 'redact'}],
}

const NEEDLES = needlesOf(SENSITIVE)

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb('dbgate_redteam', SETUP)
  proxy = await startTestProxy(db.url, POLICY)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

/** A node-postgres session through the proxy, connected. */
async function client(): Promise<pg.Client> {
  const c = new pg.Client({host: '127.0.0.1', port: proxy.port, user: 'postgres', database: db.name})
  await c.connect()
  return c
}

/** Runs statements in one fresh session; returns every message of each. */
function session(...sqls: string[]): Promise<RawMessage[][]> {
  return sessionQueries(proxy.port, db.name, sqls)
}

/** Character codes of the seeded values' first characters, as an error message would print them. */
const CODES = SENSITIVE.map((v) => String(v.codePointAt(0)))

describe('writes hidden below the top-level statement that copy a masked column are refused', () => {
  it.each([
    [
      't_cte',
      'with w as (update t_cte set note = u.email from users u where u.id = t_cte.id returning 1) select count(*) from w',
    ],
    [
      't_explain',
      'explain analyze update t_explain set note = u.email from users u where u.id = t_explain.id',
    ],
    [
      't_merge',
      'explain analyze merge into t_merge t using users u on t.id = u.id when matched then update set note = u.email',
    ],
  ])('%s', async (table, write) => {
    const r = await session(
      write,
      `select id, note from ${table} order by id`,
      `select note || '' from ${table}`,
    )
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringContaining(`copies masked column public.users.email into public.${table}.note`),
    ])
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[1]!)).toEqual([
      ['1', 'n1'],
      ['2', 'n2'],
    ])
  })

  it('a write prepared in SQL and executed later', async () => {
    const r = await session(
      'prepare p as update t_prepare set note = u.email from users u where u.id = t_prepare.id',
      'execute p',
      'select note from t_prepare order by id',
    )
    // Refused when prepared: there is nothing to execute.
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringContaining('copies masked column public.users.email into public.t_prepare.note'),
    ])
    expect(errorsOf(r[1]!)).toEqual([expect.stringContaining('has not seen')])
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[2]!)).toHaveLength(2)
  })
})

describe('DDL that moves values to a name no rule covers', () => {
  it('refuses a renamed table, a moved table and a generated column; a later session reads nothing', async () => {
    const s = await session(
      'create schema moved',
      'alter table users rename to people',
      'alter table users set schema moved',
      "alter table users add column e2 text generated always as ('<' || email || '>') stored",
      'alter table users rename column email to contact',
      'select id, name from users order by id',
    )
    const refused = s.slice(1, 5).map(errorsOf)
    expect(refused).toEqual([
      [expect.stringContaining('copies masked column public.users.email into public.people.email')],
      // The rule names the public schema: moved, the column would be read unmasked.
      [expect.stringContaining('copies masked column public.users.email into moved.users.email')],
      [expect.stringContaining('copies masked column public.users.email into public.users.e2')],
      [expect.stringContaining('copies masked column public.users.email into public.users.contact')],
    ])
    expect(dataRows(s[5]!)).toEqual([
      ['1', 'Alice'],
      ['2', 'Bob'],
    ])
    const later = await session('select * from users', 'select * from moved.users')
    expect(leaksIn([...s.flat(), ...later.flat()], NEEDLES)).toEqual([])
    expect(
      (
        await adminQuery(
          "select table_schema, table_name from information_schema.columns where column_name in ('e2', 'contact')",
          db.name,
        )
      ).rows,
    ).toEqual([])
    await adminQuery('drop schema moved', db.name)
  })
})

describe('an ALTER that destroys data meets the rules on what it does', () => {
  it.each([
    ['alter table t_alter drop column note', 'no-drop'],
    ['alter table t_alter add column extra int, drop note cascade', 'no-drop'],
    ["alter table t_alter alter column note type text using ''", 'no-unbounded-delete'],
    ['alter table t_alter alter column note type int using length(note)', 'no-unbounded-delete'],
  ])('%s', async (sql, rule) => {
    const r = await session(sql, 'select id, note from t_alter order by id')
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining(rule)])
    expect(dataRows(r[1]!)).toEqual([
      ['1', 'n1'],
      ['2', 'n2'],
    ])
  })

  it('runs a type change that keeps the values', async () => {
    const r = await session('alter table t_alter alter column id type bigint using id::bigint')
    expect(r[0]!.filter((m) => m.type === 'E')).toEqual([])
    const typed = await adminQuery('select pg_typeof(id)::text as t, note from t_alter order by id', db.name)
    expect(typed.rows).toEqual([
      {t: 'bigint', note: 'n1'},
      {t: 'bigint', note: 'n2'},
    ])
  })
})

describe('values a built-in stores come back masked', () => {
  it('a sequence set from a character code is refused: other sessions read the sequence', async () => {
    const r = await session(
      "select setval('seq', ascii(substr(email, 1, 1))) from users where id = 1",
      'select last_value from seq',
    )
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringContaining('copies masked column public.users.email into what setval() keeps'),
    ])
    const values = dataRows(r[1]!).flat()
    expect(values).toEqual(['1'])
    expect(values.filter((v) => v !== null && CODES.includes(v))).toEqual([])
  })

  it('a setting the server reports to the client (ParameterStatus) and shows again', async () => {
    // set_config fails for values a setting refuses (statement_timeout = 'abc'): refused before it runs.
    const r = await session(
      "select set_config('application_name', email, false) from users where id = 1",
      "select current_setting('application_name')",
      'show application_name',
      'select application_name from pg_stat_activity where pid = pg_backend_pid()',
    )
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringMatching(/computes from masked column public\.users\.email/),
    ])
    expect(r[0]!.some((m) => m.type === 'S')).toBe(false)
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
  })

  it('reports a setting made from a constant as it is', async () => {
    const r = await session("set application_name = 'red-team'")
    const status = r[0]!.find((m) => m.type === 'S')
    expect(status?.frame.toString('utf8')).toContain('red-team')
  })
})

describe('error messages echo no computed number', () => {
  it.each([
    'select make_date(ascii(substr(email, 1, 1)), 13, 1) from users where id = 1',
    'select chr(ascii(substr(email, 1, 1)) * 100000) from users where id = 1',
  ])('%s', async (sql) => {
    const r = await session(sql)
    const errors = errorsOf(r[0]!)
    // Refused before it runs: whether it fails answers a question about the value (fallible.ts).
    expect(errors).toEqual([
      expect.stringMatching(/computes from masked column public\.users\.email with a cast/),
    ])
    expect(CODES.filter((c) => errors[0]!.includes(c))).toEqual([])
  })
})

describe('built-ins that run SQL given as text meet the rules', () => {
  it.each([
    ["select table_to_xml('secrets', true, false, '')", 'secrets-need-review'],
    ["select table_to_xml('public.secrets'::regclass, true, false, '')", 'secrets-need-review'],
    ["select query_to_xml('select * from secrets', true, true, '')", 'secrets-need-review'],
    ["select ts_stat('select to_tsvector(v) from secrets')", 'secrets-need-review'],
    ["select query_to_xml('select pg_read_file(''/etc/hostname'')', true, true, '')", 'no-file-functions'],
    ["select query_to_xml('delete from t_cte', true, true, '')", 'no-unbounded-delete'],
    ["select query_to_xml('select * from sec' || 'rets', true, true, '')", 'not a string constant'],
    ["select schema_to_xml('public', true, false, '')", 'every table of a schema'],
  ])('%s', async (sql, reason) => {
    const r = await session(sql, 'select count(*) from t_cte')
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining(reason)])
    expect(dataRows(r[0]!)).toEqual([])
    expect(dataRows(r[1]!)).toEqual([['2']])
  })

  it('judges the SQL they run by the masking rules too: what decides its rows, and whether it fails', async () => {
    // Each returned a different count (or failed or not) by the masked value.
    const r = await session(
      "select count(*) from ts_stat('select to_tsvector(''simple'', ''x'') from users where email like ''a%''')",
      "select query_to_xml('select 1 / (ascii(email) - 97) from users', true, false, '')",
      "select query_to_xml('select id from users where email = ''nobody@example.com''', true, false, '')",
    )
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringContaining('by a condition computed from masked column public.users.email'),
    ])
    expect(errorsOf(r[1]!)).toEqual([
      expect.stringContaining('computes from masked column public.users.email'),
    ])
    // A lookup runs.
    expect(errorsOf(r[2]!)).toEqual([])
  })

  it('runs them on what the policy allows', async () => {
    const r = await session("select table_to_xml('t_cte', true, false, '')")
    expect(r[0]!.filter((m) => m.type === 'E')).toEqual([])
    // It runs; its value is masked here, as any call lineage cannot see through (this policy masks users.email).
    expect(dataRows(r[0]!)).toEqual([[null]])
  })
})

describe('COPY of a table is a read or a write of it', () => {
  it('meets rules on select, insert and program runs', async () => {
    const r = await session(
      'copy t_copy to stdout',
      "copy t_copy from program 'echo 3,n3' with (format csv)",
      'copy t_copy (id) from stdin',
      // Under masking, a program can read any table itself.
      "copy (select 1) to program 'cat > /dev/null'",
      'select count(*) from users',
    )
    expect(errorsOf(r[0]!)).toEqual([expect.stringContaining('no-reading-t-copy')])
    expect(errorsOf(r[1]!)).toEqual([expect.stringContaining('t-copy-read-only')])
    expect(errorsOf(r[2]!)).toEqual([expect.stringContaining('t-copy-read-only')])
    expect(errorsOf(r[3]!)).toEqual([expect.stringContaining('a program COPY runs on the server')])
    expect(dataRows(r[4]!)).toEqual([['2']])
    expect((await adminQuery('select count(*)::int as n from t_copy', db.name)).rows).toEqual([{n: 1}])
  })
})

describe('a WHERE that is true in every row is no WHERE', () => {
  it.each([
    'delete from t_cte where id is null or id is not null',
    'delete from t_cte where id = 1 or id <> 1',
    "update t_cte set note = 'x' where coalesce(note, '') = coalesce(note, '')",
    'delete from t_cte where not (id <> id)',
    // Built-ins over the row's columns, computed: true for every value.
    'delete from t_cte where abs(id) >= 0',
    'delete from t_cte where greatest(id, 0) >= 0 or id < 0',
    'delete from t_cte where num_nonnulls(id, note) >= 0',
  ])('%s', async (sql) => {
    const r = await session(sql, 'select count(*) from t_cte where note is distinct from $$x$$')
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining('no-unbounded-delete')])
    expect(dataRows(r[1]!)).toEqual([['2']])
  })

  it('an upsert of the table into itself updates every row: ON CONFLICT DO UPDATE is that update', async () => {
    const r = await session(
      "insert into t_upsert select * from t_upsert on conflict (id) do update set note = 'x'",
      "insert into t_upsert select id, note from public.t_upsert where true on conflict (id) do update set note = 'x' where true",
      "insert into t_upsert values (1, 'v') on conflict (id) do update set note = 'x'",
      "select count(*) from t_upsert where note = 'x'",
    )
    const errors = r.slice(0, 2).map(errorsOf)
    expect(errors).toEqual([
      [expect.stringContaining('no-unbounded-delete')],
      [expect.stringContaining('no-unbounded-delete')],
    ])
    // An upsert of given rows updates those it collides with: it runs.
    expect(r[2]!.filter((x) => x.type === 'E')).toEqual([])
    expect(dataRows(r[3]!)).toEqual([['1']])
  })

  it('runs a filter of the same shape', async () => {
    const r = await session(
      "insert into t_cte values (3, 'n3')",
      'delete from t_cte where id = 3 or id > 3',
      'select count(*) from t_cte',
    )
    expect(r.flatMap((m) => m.filter((x) => x.type === 'E'))).toEqual([])
    expect(dataRows(r[2]!)).toEqual([['2']])
  })
})

describe('statements hidden in code bodies meet the rules', () => {
  it.each([
    ["do $$ begin perform pg_read_file('/etc/hostname'); end $$", 'no-file-functions'],
    ["do $$ begin execute 'drop table t_cte'; end $$", 'no-drop'],
    ['do $$ begin delete from t_cte; end $$', 'no-unbounded-delete'],
    [
      "create function read_it() returns text language sql as $$ select pg_read_file('/etc/hostname') $$",
      'no-file-functions',
    ],
    [
      "create function read_pl() returns text language plpgsql as $$ begin return pg_catalog.pg_read_file('/etc/hostname'); end $$",
      'no-file-functions',
    ],
    ["do $$ begin execute 'drop table ' || 't_cte'; end $$", 'defaults.unparseable'],
    ['merge into t_cte t using users u on true when matched then delete', 'no-unbounded-delete'],
  ])('%s', async (sql, rule) => {
    const r = await session(
      sql,
      "select count(*) from pg_proc where proname in ('read_it', 'read_pl')",
      'select count(*) from t_cte',
    )
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining(rule)])
    expect(dataRows(r[1]!)).toEqual([['0']])
    expect(dataRows(r[2]!)).toEqual([['2']])
  })

  it.each([
    'create operator ### (rightarg = text, function = pg_read_file)',
    'create aggregate read_agg(text) (sfunc = textcat, stype = text, finalfunc = pg_catalog.pg_read_file)',
    'alter function pg_read_file(text) rename to harmless_read',
  ])('DDL that lets a later statement call a denied function unnamed: %s', async (sql) => {
    const r = await session(
      sql,
      "select count(*) from pg_operator where oprname = '###'",
      "select count(*) from pg_proc where proname in ('read_agg', 'harmless_read')",
    )
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining('no-file-functions')])
    expect(dataRows(r[1]!)).toEqual([['0']])
    expect(dataRows(r[2]!)).toEqual([['0']])
  })

  it.each([
    ['create rule wipe as on insert to users do also delete from t_cte', 'no-unbounded-delete'],
    [
      'create or replace rule wipe as on update to users do instead update t_cte set note = null',
      'no-unbounded-delete',
    ],
    ['create rule wipe as on insert to users do also select * from secrets', 'secrets-need-review'],
  ])("a rule's actions, which later statements run without naming them: %s", async (sql, rule) => {
    const r = await session(
      sql,
      "select count(*) from pg_rules where rulename = 'wipe'",
      'select count(*) from t_cte where note is not null',
    )
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining(rule)])
    expect(dataRows(r[1]!)).toEqual([['0']])
    expect(dataRows(r[2]!)).toEqual([['2']])
  })

  it('runs a body that breaks no rule', async () => {
    const r = await session(
      "do $$ begin insert into t_cte values (3, 'n3'); delete from t_cte where id = 3; end $$",
      'select count(*) from t_cte',
    )
    expect(r[0]!.filter((m) => m.type === 'E')).toEqual([])
    expect(dataRows(r[1]!)).toEqual([['2']])
  })
})

describe('a view over a table a rule names meets that rule', () => {
  it.each([
    'select * from v_secrets',
    'select v from v_of_v',
    'select * from mv_secrets',
    'select * from rep.v_sec',
    'select t.note from t_cte t join v_secrets s using (id)',
    'select 1; select * from v_of_v',
  ])('%s', async (sql) => {
    const r = await session(sql, 'select count(*) from v_plain')
    const errors = errorsOf(r[0]!)
    expect(errors).toEqual([expect.stringContaining('secrets-need-review')])
    expect(JSON.stringify(r)).not.toContain('top-secret-value')
    // The session goes on, and a view over tables no rule names runs.
    expect(dataRows(r[1]!)).toEqual([['2']])
  })

  it('after another session redefined the view over such a table', async () => {
    await adminQuery("create view v_later as select 'plain'::text as v", db.name)
    const c = await client()
    try {
      expect((await c.query('select v from v_later')).rows).toEqual([{v: 'plain'}])
      await adminQuery('create or replace view v_later as select v from secrets', db.name)
      await expect(c.query('select v from v_later')).rejects.toThrow(/secrets-need-review/)
    } finally {
      await c.end()
      await adminQuery('drop view v_later', db.name)
    }
  })

  it('through the extended protocol, and for a view the session itself creates', async () => {
    const c = await client()
    try {
      await expect(c.query('select v from v_secrets where id = $1', [1])).rejects.toThrow(
        /secrets-need-review/,
      )
      expect((await c.query('select note from v_plain where id = $1', [1])).rows).toEqual([{note: 'n1'}])
      // The name was a table when first looked up; after DDL the session asks again.
      await c.query('create table v_late (id int)')
      await c.query('select * from v_late')
      await adminQuery('drop table v_late; create view v_late as select * from secrets', db.name)
      await c.query('create table t_ddl (id int)')
      await expect(c.query('select * from v_late')).rejects.toThrow(/secrets-need-review/)
    } finally {
      await c.end()
    }
  })
})
