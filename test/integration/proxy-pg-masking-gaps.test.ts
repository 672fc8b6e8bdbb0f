/**
 * Masking lineage where Postgres resolves names or runs code the statement does not show: the
 * session's search_path (and its temporary schema, searched first), user-defined operators and casts,
 * domains, and triggers and rules on the tables a statement writes. No seeded value (nor its reverse,
 * base64 or hex) may reach the client; benign columns arrive unchanged. No detect rule runs here, so
 * only lineage can mask.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {dataRows, leaksIn, needlesOf, simpleQuery} from '../support/pg-leak.js'
import {RawClient, errorsOf, type RawMessage} from '../support/pg-raw.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {TEST_POLICY, startTestProxy, type TestProxy} from '../support/proxy.js'

const SENSITIVE = ['alice.hr@example.com', 'bob.hr@corp-mail.test', '219-09-9999', '078-05-1120']

const SETUP = `
create schema hr;
create table hr.users(id int primary key, name text, email text, ssn text);
insert into hr.users values (1, 'Alice HR', '${SENSITIVE[0]}', 'hr-ssn-1'), (2, 'Bob HR', '${SENSITIVE[1]}', 'hr-ssn-2');
create table public.users(id int primary key, name text, email text, ssn text);
insert into public.users values (1, 'Alice Pub', 'alice.pub@benign.test', '${SENSITIVE[2]}'),
  (2, 'Bob Pub', 'bob.pub@benign.test', '${SENSITIVE[3]}');
create table stash(v text);
create table orders(id int, user_id int);
insert into orders values (10, 1), (11, 2);
`

const POLICY: Policy = {
  ...TEST_POLICY,
  masking: [
    {name: 'hr-email', columns: ['hr.users.email'], style: 'redact'},
    {name: 'pub-ssn', columns: ['public.users.ssn'], style: 'redact'},
  ],
}

const NEEDLES = needlesOf(SENSITIVE)

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb('dbgate_gaps', SETUP)
  proxy = await startTestProxy(db.url, POLICY)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

/** Runs statements in one fresh session; returns every message of each. */
async function session(...sqls: string[]): Promise<RawMessage[][]> {
  const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
  try {
    const out: RawMessage[][] = []
    for (const sql of sqls) out.push(await simpleQuery(c, sql))
    return out
  } finally {
    c.end()
  }
}

/** Derived forms over built-ins: taint flows through every expression node, and nothing else is masked. */
const DERIVED = [
  'select row(email)::text from hr.users',
  'select to_json(row(id, email)) from hr.users',
  'select array[email] from hr.users',
  "select format('%s|%L', email, email) from hr.users",
  "select concat_ws(',', name, email) from hr.users",
  "select jsonb_build_object('e', email) from hr.users",
  'select xmlelement(name x, xmlattributes(email as a)) from hr.users',
  'select xmlforest(email) from hr.users',
  'select greatest(email, name) from hr.users',
  "select nullif(email, '') from hr.users",
  'select email collate "C" from hr.users',
  'select (email, id) from hr.users',
  'select u::text from hr.users u',
  'select pg_catalog.array_append(array[]::text[], email) from hr.users',
  'select pg_catalog.textanycat(email, 1) from hr.users',
  "select string_to_array(email, '@') from hr.users",
  'select (select json_agg(x) from (select email from hr.users) x)',
  'select txt from hr.users, lateral (select email as txt) s',
  "select overlay(email placing '' from 1 for 0) from hr.users",
  'select case when email is not null then email end from hr.users',
  'select email from hr.users where email is not null union all select name from hr.users',
]

/**
 * Derived forms that fail for some values (a cast to json or bytea, a JSON path, a conversion): whether
 * they fail answers a question about the value, so they are refused (fallible.ts), and nothing leaks.
 */
const FALLIBLE = [
  `select ('"' || email || '"')::json from hr.users`,
  "select jsonb_path_query_first(to_jsonb(u), '$.email') from hr.users u",
  "select convert_from(convert_to(email, 'UTF8'), 'UTF8') from hr.users",
  "select encode(email::bytea, 'escape') from hr.users",
  'select email::checked is not null from hr.users',
]

describe('expressions over masked columns', () => {
  it.each(FALLIBLE)('refuses %s', async (sql) => {
    const r = await session(sql, 'select id, name from hr.users order by id')
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringMatching(/computes from masked column hr\.users\.email with a cast/),
    ])
    expect(dataRows(r[1]!)).toEqual([
      ['1', 'Alice HR'],
      ['2', 'Bob HR'],
    ])
  })

  it.each(DERIVED)('%s', async (sql) => {
    const r = await session(sql, 'select id, name from hr.users order by id')
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[0]!).length).toBeGreaterThan(0)
    // Masked by lineage, not by giving up on the session: benign columns still arrive.
    expect(dataRows(r[1]!)).toEqual([
      ['1', 'Alice HR'],
      ['2', 'Bob HR'],
    ])
  })
})

describe('unqualified names resolve on the session search_path', () => {
  it('masks hr.users under SET search_path = hr, public, and leaves public and hr benign columns alone', async () => {
    const r = await session(
      'set search_path = hr, public',
      "select email, lower(email), email || '', (select email from users where id = 1) from users order by id",
      'select u from users u order by id',
      'select id, name, ssn, lower(ssn) from users order by id',
      'select name, email from public.users order by id',
    )
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[1]!)).toHaveLength(2)
    // A rule on public.users.ssn does not mask hr.users.ssn, and hr's names arrive as they are.
    expect(dataRows(r[3]!)).toEqual([
      ['1', 'Alice HR', 'hr-ssn-1', 'hr-ssn-1'],
      ['2', 'Bob HR', 'hr-ssn-2', 'hr-ssn-2'],
    ])
    // public.users.email has no rule.
    expect(dataRows(r[4]!)).toEqual([
      ['Alice Pub', 'alice.pub@benign.test'],
      ['Bob Pub', 'bob.pub@benign.test'],
    ])
  })

  it('resolves to public on the default path, where hr.users is only reached qualified', async () => {
    const r = await session(
      'select id, email, lower(ssn) from users order by id',
      'select lower(email) from hr.users',
    )
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[0]!).map((row) => row.slice(0, 2))).toEqual([
      ['1', 'alice.pub@benign.test'],
      ['2', 'bob.pub@benign.test'],
    ])
  })

  it('searches the temporary schema first: a temp view cannot shadow a masked table', async () => {
    const r = await session(
      'set search_path = hr, public',
      'create temp view users as select id, email as name, ssn as email from hr.users',
      'select name, lower(name) from users',
      'select * from users',
      'reset search_path',
      'select name from users',
      'create temp table orders as select id, ssn as user_id from public.users',
      "select user_id || '' from orders",
    )
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[2]!)).toHaveLength(2)
    expect(dataRows(r[7]!)).toHaveLength(2)
  })
})

describe('user code in operators, casts, domains, triggers and rules', () => {
  beforeAll(async () => {
    await adminQuery(
      `create function leak_op(int, int) returns text language sql as $$select email from hr.users where id = $1$$;
       create operator ### (leftarg = int, rightarg = int, function = leak_op);
       create type wrap as (v int);
       create function wrap_text(wrap) returns text language sql as $$select email from hr.users where id = ($1).v$$;
       create cast (wrap as text) with function wrap_text(wrap);
       create function stash_check(text) returns boolean language plpgsql as $$begin insert into stash values (reverse($1)); return true; end$$;
       create domain checked as text check (stash_check(value));
       create table t_before(id int, note text);
       create function fill_note() returns trigger language plpgsql as $$begin new.note := (select email from hr.users where id = new.id); return new; end$$;
       create trigger t_before_fill before insert on t_before for each row execute function fill_note();
       create table t_after(id int);
       create function copy_after() returns trigger language plpgsql as $$begin insert into stash select encode(convert_to(email, 'UTF8'), 'hex') from hr.users; return null; end$$;
       create trigger t_after_copy after insert on t_after for each row execute function copy_after();
       create table parent(id int primary key);
       create table child(pid int references parent on delete cascade);
       create function on_child_delete() returns trigger language plpgsql as $$begin insert into stash select email from hr.users; return old; end$$;
       create trigger child_del after delete on child for each row execute function on_child_delete();
       create table t_rule(id int);
       create rule t_rule_copy as on insert to t_rule do also insert into stash select encode(convert_to(email, 'UTF8'), 'base64') from hr.users`,
      db.name,
    )
  })

  it.each([
    'select 1 ### 1',
    'select id ### 1 from orders',
    'select row(1)::wrap::text',
    "select cast(row(2)::wrap as text) || ''",
  ])('masks what a user-defined operator or cast returns: %s', async (sql) => {
    const r = await session(sql, 'select name from hr.users order by id')
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[0]!).length).toBeGreaterThan(0)
  })

  it('never hands a domain check a masked value: the cast and the insert are refused', async () => {
    const r = await session(
      // A cast to the domain is refused (FALLIBLE above); an insert into a column of it checks it too.
      'create temp table d(c checked); insert into d select email from hr.users',
      'select v from stash',
    )
    await adminQuery('truncate stash', db.name)
    expect(errorsOf(r[0]!)).toEqual([
      expect.stringMatching(/stores a value computed from masked column hr\.users\.email in a column/),
    ])
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[1]!)).toEqual([])
  })

  it('masks RETURNING columns a trigger filled, and what triggers and rules copied into other tables', async () => {
    const r = await session(
      'insert into t_before(id) values (1) returning note',
      'insert into t_before(id) values (2) returning *',
      'insert into t_after values (1)',
      'insert into t_rule values (1)',
      'insert into parent values (1); insert into child values (1); delete from parent',
      'select v from stash',
      'select note from t_before',
    )
    await adminQuery('truncate stash, t_before, t_after, t_rule, child, parent', db.name)
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[0]!)).toHaveLength(1)
    expect(dataRows(r[5]!).length).toBeGreaterThan(0)
  })

  it('masks what a trigger reached through a foreign-key cascade copied elsewhere', async () => {
    await adminQuery('insert into parent values (1); insert into child values (1)', db.name)
    const r = await session('delete from parent where id = 1', 'select v from stash')
    await adminQuery('truncate stash, child, parent', db.name)
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[1]!)).toHaveLength(2)
  })

  it('does not over-mask a session that runs no user code', async () => {
    const r = await session(
      'select id, name from hr.users order by id',
      'select id + 1, id = 10, id between 1 and 10 from orders order by id',
      'select name from hr.users order by id',
    )
    expect(dataRows(r[0]!)).toEqual([
      ['1', 'Alice HR'],
      ['2', 'Bob HR'],
    ])
    expect(dataRows(r[1]!)).toEqual([
      ['11', 't', 't'],
      ['12', 'f', 'f'],
    ])
    expect(dataRows(r[2]!)).toEqual([['Alice HR'], ['Bob HR']])
  })
})
