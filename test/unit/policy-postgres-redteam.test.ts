/**
 * Red-team lineage cases: writes nested where the top-level statement does not show them, and values
 * a built-in stores where a later statement reads them back.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {lineagePostgres} from '../../src/policy/lineage/postgres.js'
import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {catalog} from './policy-lineage-fixture.js'

const ctx = {defaultSchema: 'public'}

beforeAll(async () => {
  await loadPostgresParser()
})

/** `table<-reads` for every write effect of a query. */
function writes(sql: string): string[] {
  const r = lineagePostgres(sql, catalog, ctx)
  if (!r.ok) throw new Error(r.error)
  return r.effects.flat().flatMap((e) => (e.kind === 'write' ? [`${e.table}<-${e.reads.join(',')}`] : []))
}

describe('writes nested below the top-level statement', () => {
  it.each([
    'with w as (update orders set card = u.email from users u where u.id = orders.user_id returning 1) select * from w',
    'with w as (insert into orders (card) select email from users returning 1) select 1',
    'explain analyze update orders set card = u.email from users u where u.id = orders.user_id',
    'prepare p as insert into orders (card) select email from users',
    'select * from (with w as (update orders set card = (select email from users limit 1) where id = 1 returning id) select id from w) x',
    'with m as (merge into orders o using users u on o.user_id = u.id when matched then update set card = u.email returning 1) select 1',
  ])('%s taints orders', (sql) => {
    expect(writes(sql).some((w) => w.startsWith('public.orders<-') && w.includes('public.users.email'))).toBe(
      true,
    )
  })

  it('does not taint a table a nested write fills from constants only', () => {
    expect(writes("with w as (insert into orders (card) values ('x') returning 1) select 1")).toEqual([])
  })
})

describe('values stored by built-ins', () => {
  it.each([
    "select setval('s', ascii(substr(email, 1, 1))) from users",
    "select set_config('application_name', email, false) from users",
    "select pg_catalog.set_config('x.y', (select email from users limit 1), false)",
  ])('%s makes the session opaque', (sql) => {
    const r = lineagePostgres(sql, catalog, ctx)
    expect(r.ok && r.statements[0]?.runsCode).toBe(true)
  })

  it.each(["select setval('s', 42)", "select set_config('application_name', 'psql', false)"])(
    '%s with constants does not',
    (sql) => {
      const r = lineagePostgres(sql, catalog, ctx)
      expect(r.ok && r.statements[0]?.runsCode).not.toBe(true)
    },
  )

  it.each(["select currval('s')", 'select lastval()'])('%s is of unknown lineage', (sql) => {
    const r = lineagePostgres(sql, catalog, ctx)
    expect(r.ok && r.statements[0]?.readsUnknown).toBe(true)
  })
})

/** `kind:table,table[fn,fn]` per operation. */
function ops(sql: string): string {
  const a = analyzePostgres(sql, ctx)
  if (!a.ok) return `error: ${a.error}`
  return a.operations.map((o) => `${o.kind}:${o.tables.join(',')}[${o.functions.join(',')}]`).join(' ')
}

describe('statements hidden in code bodies', () => {
  it.each([
    ["do $$ begin perform pg_read_file('/etc/passwd'); end $$", 'pg_read_file'],
    [
      "do $x$ declare n int; begin n := length(pg_catalog.pg_read_file('/x')); end $x$",
      'pg_catalog.pg_read_file',
    ],
    ["do $$ begin if exists (select pg_read_file('/x')) then null; end if; end $$", 'pg_read_file'],
    ["do language plpgsql 'begin execute ''select pg_read_file(''''/x'''')''; end'", 'pg_read_file'],
    [
      "create function f() returns text language sql as $$ select pg_read_file('/etc/passwd') $$",
      'pg_read_file',
    ],
    [
      'create function f(p text) returns text language plpgsql as $$ begin return pg_read_file(p); end $$',
      'pg_read_file',
    ],
    [
      "create function t() returns trigger language plpgsql as $$ begin new.x := pg_read_file('/x'); return new; end $$",
      'pg_read_file',
    ],
    ["do $$ begin execute 'do $i$ begin perform pg_read_file($q$/x$q$); end $i$'; end $$", 'pg_read_file'],
  ])('%s calls %s', (sql, fn) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok && a.operations.some((o) => o.functions.includes(fn))).toBe(true)
  })

  it.each([
    ['do $$ begin drop table users; end $$', 'drop:public.users'],
    ["do $$ begin execute 'drop table users'; end $$", 'drop:public.users'],
    ['do $$ begin delete from users; end $$', 'delete:public.users'],
    ['create function f() returns void language sql as $$ truncate users $$', 'truncate:public.users'],
    [
      'do $$ declare r record; begin for r in select * from secrets loop end loop; end $$',
      'select:public.secrets',
    ],
  ])('%s runs %s', (sql, op) => {
    expect(ops(sql)).toContain(op)
  })

  it.each([
    ["do $$ begin execute 'drop table ' || 'users'; end $$", 'computed at run time'],
    ["do $$ begin execute format('drop table %I', 'users'); end $$", 'computed at run time'],
    ["do $$ declare c refcursor; begin open c for execute 'sel' || 'ect 1'; end $$", 'computed at run time'],
    ["do language plperl $$ system('rm -rf /') $$", 'LANGUAGE plperl'],
    ["create function f() returns text language internal as 'pg_read_file_off_len'", 'LANGUAGE internal'],
    ['do $$ begin x := 1; end $$', 'cannot read'],
  ])('refuses %s', (sql, why) => {
    expect(ops(sql)).toMatch(new RegExp(`^error: .*${why}`))
  })

  it('leaves ordinary bodies readable', () => {
    expect(ops("do $$ begin raise notice 'hi'; end $$")).toBe('do:[]')
    expect(ops('create function g(a int) returns int language sql immutable as $$ select a + 1 $$')).toBe(
      'create:[] select:[]',
    )
  })
})

describe('MERGE updates and deletes the target', () => {
  it.each([
    ['merge into users u using orders s on true when matched then delete', 'delete:public.users[]absent'],
    [
      'with x as (select 1) merge into users u using x on 1 = 1 when matched then update set name = $1',
      'update:public.users[]absent',
    ],
    [
      'merge into users u using orders s on u.id = s.id when not matched by source then delete',
      'delete:public.users[]absent',
    ],
    [
      'merge into users u using orders s on u.id = s.user_id when matched then update set name = 1',
      'update:public.users[]present',
    ],
    [
      'merge into users u using orders s on true when matched and u.id = 1 then delete',
      'delete:public.users[]present',
    ],
  ])('%s', (sql, op) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok && a.operations.map((o) => `${o.kind}:${o.tables.join(',')}[]${o.where ?? ''}`)).toContain(op)
  })

  it('an insert-only MERGE updates and deletes nothing', () => {
    expect(
      ops('merge into users u using orders s on u.id = s.id when not matched then insert values (1)'),
    ).toBe('merge:public.users,public.orders[]')
  })
})

describe('function signatures the PL/pgSQL parser needs', () => {
  it.each([
    "create function f() returns table (a text) language plpgsql as $$ begin return query select pg_read_file('/x'); end $$",
    "create function f(out a int, out b text) language plpgsql as $$ begin a := 1; b := pg_read_file('/x'); end $$",
    "create function f(variadic a text[]) returns text language plpgsql as $$ begin return a[1] || pg_read_file('/x'); end $$",
    "create function f() returns setof text language plpgsql as $$ begin return next pg_read_file('/x'); end $$",
  ])('%s', (sql) => {
    const a = analyzePostgres(sql, ctx)
    expect(
      a.ok && a.operations.some((o) => o.kind === 'select' && o.functions.includes('pg_read_file')),
    ).toBe(true)
  })
})

describe('DDL that moves values to a name no rule covers', () => {
  it.each([
    ['alter table users rename to people', 'public.people<-'],
    ['alter table public.users set schema archive', 'archive.users<-'],
    ['alter table users rename column email to contact', 'public.users<-'],
    ['alter table users add column e2 text generated always as (lower(email)) stored', 'public.users<-'],
    ['alter table users alter column id type text using email', 'public.users<-'],
  ])('%s writes %s', (sql, target) => {
    expect(writes(sql).some((w) => w.startsWith(target) && w.includes('public.users.email'))).toBe(true)
  })

  it('DDL that copies no value writes nothing', () => {
    expect(writes('alter table users add column note text')).toEqual([])
  })
})

describe('SQL-standard bodies (BEGIN ATOMIC, RETURN) are judged like string bodies', () => {
  it.each([
    // RETURN expr runs as SELECT expr: a rule on reading users meets it at CREATE.
    [
      "create function f1() returns text language sql return (select string_agg(email, ',') from users)",
      'select:public.users[string_agg]',
    ],
    ['create procedure wipe() language sql begin atomic delete from users; end', 'delete:public.users[]'],
    [
      "create function r() returns text language sql begin atomic select pg_read_file('/x'); end",
      'select:[pg_read_file]',
    ],
  ])('%s', (sql, op) => {
    expect(ops(sql)).toContain(op)
  })
})

/** `kind tables where` of every operation, or the error. */
function opsWithWhere(sql: string): string[] {
  const a = analyzePostgres(sql, ctx)
  return a.ok ? a.operations.map((o) => `${o.kind} ${o.tables.join(',')} ${o.where ?? ''}`.trim()) : [a.error]
}

describe('writes a statement makes besides its own', () => {
  it.each([
    // An upsert updates the rows it collides with: all of them when it writes the target whole into itself.
    ['insert into t select * from t on conflict (id) do update set v = null', 'update public.t absent'],
    [
      'insert into t select * from t where id < 5 on conflict (id) do update set v = null',
      'update public.t present',
    ],
    [
      'insert into t select * from t on conflict (id) do update set v = null where t.id = 3',
      'update public.t present',
    ],
    [
      "insert into t values (1, 'a') on conflict (id) do update set v = excluded.v",
      'update public.t present',
    ],
    ['insert into t select * from u on conflict (id) do update set v = null', 'update public.t present'],
    [
      'insert into t select * from t limit 1 on conflict (id) do update set v = null',
      'update public.t present',
    ],
    // A rule's actions run whenever its event does, under statements that do not name them: judged now.
    ['create rule r as on insert to t do also delete from u', 'delete public.u absent'],
    ['create rule r as on delete to t do also delete from u where u.id = old.id', 'delete public.u present'],
  ])('%s: %s', (sql, write) => {
    expect(opsWithWhere(sql)).toContain(write)
  })

  it('none where there is none', () => {
    expect(opsWithWhere('insert into t select * from t on conflict do nothing')).toEqual(['insert public.t'])
    expect(opsWithWhere('create rule r as on insert to t do instead nothing')).toEqual(['create public.t'])
  })
})

describe('built-ins that run SQL given as text', () => {
  /** `kind tables` of every operation, or the error. */
  function ops(sql: string): string[] | string {
    const a = analyzePostgres(sql, ctx)
    return a.ok ? a.operations.map((o) => `${o.kind} ${[...o.tables].sort().join(',')}`) : a.error
  }

  it.each([
    ["select query_to_xml('select * from secrets', true, true, '')", 'select public.secrets'],
    ["select pg_catalog.query_to_xml('delete from t', true, true, '')", 'delete public.t'],
    ["select table_to_xml('hr.salaries', true, false, '')", 'select hr.salaries'],
    ["select table_to_xml('secrets'::regclass, true, false, '')", 'select public.secrets'],
    ["select ts_stat('select to_tsvector(v) from secrets')", 'select public.secrets'],
    ["select ts_rewrite('a'::tsquery, 'select a, b from secrets')", 'select public.secrets'],
    [
      "select query_to_xml('select query_to_xml(''select 1 from secrets'', true, true, '''')', true, true, '')",
      'select public.secrets',
    ],
    // tablefunc and xml2, in whatever schema the extension was created.
    ["select * from crosstab('select * from secrets') as ct(a text)", 'select public.secrets'],
    [
      "select * from ext.crosstab('select 1, 2, 3', 'select k from secrets') as ct(a int, b int)",
      'select public.secrets',
    ],
    ["select * from crosstab3('select * from secrets')", 'select public.secrets'],
    ["select * from crosstab('select 1; delete from t') as ct(a int)", 'delete public.t'],
    [
      "select * from connectby('secrets', 'id', 'parent', '1', 0) as c(id int, p int, l int)",
      'select public.secrets',
    ],
    [
      "select * from connectby('hr.tree', 'id', 'parent', 'pos', '1', 0, '~') as c(id int, p int, l int, b text, o int)",
      'select hr.tree',
    ],
    [
      "select * from xpath_table('id', 'doc', 'secrets', '/a', 'true') as x(id int, a text)",
      'select public.secrets',
    ],
    [
      "select * from xpath_table('id', 'doc', 'docs', '/a', 'id in (select id from secrets)') as x(id int, a text)",
      'select public.docs,public.secrets',
    ],
    // pg_cron: the command runs later, outside any session.
    ["select cron.schedule('* * * * *', 'delete from t')", 'delete public.t'],
    ["select cron.schedule('nightly', '0 3 * * *', 'drop table t')", 'drop public.t'],
    [
      "select cron.schedule_in_database('j', '* * * * *', 'select * from secrets', 'db')",
      'select public.secrets',
    ],
    ["select cron.alter_job(7, null, 'truncate t')", 'truncate public.t'],
  ])('%s runs %s', (sql, expected) => {
    expect(ops(sql)).toContain(expected)
  })

  it.each([
    ["select query_to_xml($1, true, true, '')", /not a string constant/],
    ["select query_to_xml('select * from ' || 'secrets', true, true, '')", /not a string constant/],
    [
      "select table_to_xml(16384::oid::regclass, true, false, '')",
      /not a string constant|could not be parsed/,
    ],
    ["select schema_to_xml('public', true, false, '')", /every table of a schema or database/],
    ["select database_to_xml(true, false, '')", /every table of a schema or database/],
    ["select query_to_xml('select from where', true, true, '')", /could not be parsed/],
    [
      "select * from crosstab('select 1, 2, 3', $1) as ct(a int, b int)",
      /crosstab runs SQL that is not a string constant/,
    ],
    [
      "select * from connectby('(select * from secrets) s', 'id', 'parent', '1', 0) as c(id int, p int, l int)",
      /connectby pastes names that are not plain identifiers/,
    ],
    [
      "select * from xpath_table('id', 'doc', 'docs', '/a', $1) as x(id int, a text)",
      /xpath_table runs SQL that is not a string constant/,
    ],
    ["select cron.schedule('* * * * *', $1)", /cron\.schedule runs SQL that is not a string constant/],
  ])('%s is refused', (sql, reason) => {
    expect(ops(sql)).toMatch(reason)
  })

  it('leaves user functions of the same name and the three-argument ts_rewrite alone', () => {
    expect(ops("select app.query_to_xml('select * from secrets')")).toEqual(['select '])
    expect(ops("select ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)")).toEqual(['select '])
    // crosstab(source_sql, N): N is no query.
    expect(ops("select * from crosstab('select 1, 2, 3', 2) as ct(a int, b int, c int)")).toEqual([
      'select ',
      'select ',
    ])
  })

  it('makes the decision depend on the text (no cache sharing across literals)', () => {
    const a = analyzePostgres("select query_to_xml('select 1', true, true, '')", ctx)
    expect(a.ok && a.literalSensitive).toBe(true)
  })
})
