/**
 * Copies of masked columns into tables other sessions read are refused before they run: rules name
 * columns, so a copy under another name would be read unmasked by every later session. Checked with
 * node-postgres (simple and extended protocol), psql and raw pipelined frames against the real server:
 * the refused statement changes nothing, the session and its transaction go on, and a second session
 * reads no seeded value. Copies into temporary tables, and writes of unmasked columns, still run.
 */
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {dataRows, leaksIn, needlesOf, sessionQueries} from '../support/pg-leak.js'
import {errorCode, errorMessage, F, RawClient, type RawMessage, errorsOf} from '../support/pg-raw.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {TEST_POLICY, pgClient, startTestProxy, type TestProxy} from '../support/proxy.js'

const SENSITIVE = ['carol.copy@example.com', 'dave.copy@corp-mail.test', '123-45-6789']

const SETUP = `
create table users(id int primary key, name text, email text, ssn text);
insert into users values (1, 'Carol', '${SENSITIVE[0]}', '${SENSITIVE[2]}'), (2, 'Dave', '${SENSITIVE[1]}', null);
create table notes(id int primary key, note text);
insert into notes values (1, 'n1'), (2, 'n2');
`

const POLICY: Policy = {
  ...TEST_POLICY,
  masking: [
    {name: 'mask-email', columns: ['*.users.email'], style: 'partial'},
    {name: 'mask-ssn', columns: ['*.users.ssn'], style: 'redact'},
  ],
}

const NEEDLES = needlesOf(SENSITIVE)

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb('dbgate_copies', SETUP)
  proxy = await startTestProxy(db.url, POLICY)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

function session(...sqls: string[]): Promise<RawMessage[][]> {
  return sessionQueries(proxy.port, db.name, sqls)
}

/** What the database holds, read directly (not through the proxy). */
async function direct(sql: string): Promise<unknown[]> {
  return (await adminQuery(sql, db.name)).rows as unknown[]
}

describe('a copy of a masked column into a table other sessions read', () => {
  it.each([
    ['create table copied as select * from users', 'copied', 'public.users.email'],
    ['select id, ssn into copied from users', 'copied', 'public.users.ssn'],
    [
      'insert into notes select id, email from users on conflict (id) do update set note = excluded.note',
      'notes',
      'public.users.email',
    ],
    ['update notes set note = u.email from users u where u.id = notes.id', 'notes', 'public.users.email'],
    ['update users set name = email where id > 0', 'users', 'public.users.email'],
    [
      'with w as (update notes set note = u.ssn from users u where u.id = notes.id returning 1) select count(*) from w',
      'notes',
      'public.users.ssn',
    ],
    ['explain analyze insert into notes select id + 10, email from users', 'notes', 'public.users.email'],
    [
      'merge into notes n using users u on n.id = u.id when matched then update set note = u.email',
      'notes',
      'public.users.email',
    ],
    [
      'prepare p as update notes set note = u.email from users u where u.id = notes.id',
      'notes',
      'public.users.email',
    ],
    ['alter table users rename to people', 'people', 'public.users.email'],
    ['alter table users rename column email to contact', 'contact', 'public.users.email'],
    [
      "copy (select id, email from users) to '/tmp/dbgate-never-written.csv'",
      'the server file /tmp/dbgate-never-written.csv',
      'public.users.email',
    ],
    [
      "alter table users add column e2 text generated always as ('<' || email || '>') stored",
      'e2',
      'public.users.email',
    ],
    // CREATE TABLE AS EXECUTE stores the prepared statement's rows.
    [
      'prepare p as select id, email from users; create table copied as execute p',
      'copied',
      'public.users.email',
    ],
  ])('%s is refused and changes nothing', async (sql, target, source) => {
    const [refused, after] = await session(sql, 'select 1')
    const [error] = refused!.filter((m) => m.type === 'E')
    expect(error && errorCode(error)).toBe('42501')
    expect(errorMessage(error!)).toContain(`copies masked column ${source} into`)
    expect(errorMessage(error!)).toContain(target)
    expect(dataRows(after!)).toEqual([['1']])
    expect(await direct('select id, note from notes order by id')).toEqual([
      {id: 1, note: 'n1'},
      {id: 2, note: 'n2'},
    ])
    expect(await direct('select id, name from users order by id')).toEqual([
      {id: 1, name: 'Carol'},
      {id: 2, name: 'Dave'},
    ])
    expect(
      await direct("select count(*)::int as n from pg_class where relname in ('copied', 'people')"),
    ).toEqual([{n: 0}])
    const audit = proxy.audit.events.filter((e) => e.type === 'statement' && e.statement === sql)
    expect(audit.at(-1)).toMatchObject({decision: 'deny', rule: expect.stringMatching(/^mask-/)})
  })

  it('a session that ran code lineage cannot see still cannot copy: its own taints guard no table', async () => {
    await direct('create function nothing() returns int language plpgsql as $$ begin return 1; end $$')
    try {
      const [called, copy, plain] = await session(
        'select nothing()',
        'insert into notes select id + 10, email from users',
        "insert into notes values (9, 'constant')",
      )
      expect(errorsOf(called!)).toEqual([])
      expect(errorsOf(copy!)).toEqual([
        expect.stringContaining('copies masked column public.users.email into'),
      ])
      expect(errorsOf(plain!)).toEqual([])
      expect(await direct('select note from notes where id > 2 order by id')).toEqual([{note: 'constant'}])
    } finally {
      await direct('delete from notes where id > 2')
      await direct('drop function nothing()')
    }
  })

  it('a later session reads nothing through a copy that was tried, and the open transaction goes on', async () => {
    const first = await session(
      'begin',
      'insert into notes values (3, $$kept$$)',
      'insert into notes select id + 10, email from users',
      'commit',
    )
    expect(first.flat().filter((m) => m.type === 'E')).toHaveLength(1)
    const second = await session('select note from notes order by id', 'table notes')
    expect(leaksIn([...first.flat(), ...second.flat()], NEEDLES)).toEqual([])
    expect(dataRows(second[0]!)).toEqual([['n1'], ['n2'], ['kept']])
    await adminQuery('delete from notes where id = 3', db.name)
  })

  it('built-ins that keep a value for other sessions: a sequence, a notification', async () => {
    await adminQuery('create sequence copy_seq', db.name)
    const listener = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    try {
      listener.send(F.query('listen chan'))
      await listener.readUntil('Z')
      const [seq, notify, plain] = await session(
        "select setval('copy_seq', ascii(email)) from users where id = 1",
        "select pg_notify('chan', email) from users",
        "select pg_notify('chan', 'hello')",
      )
      expect(errorsOf(seq!)).toEqual([expect.stringContaining('into what setval() keeps')])
      expect(errorsOf(notify!)).toEqual([expect.stringContaining('into what pg_notify() keeps')])
      expect(errorsOf(plain!)).toEqual([])
      // The listener gets the plain notification only.
      listener.send(F.query('select 1'))
      const heard = await listener.readUntil('Z')
      expect(leaksIn(heard, NEEDLES)).toEqual([])
      expect(heard.filter((m) => m.type === 'A')).toHaveLength(1)
      expect(await direct('select last_value::int as v, is_called from copy_seq')).toEqual([
        {v: 1, is_called: false},
      ])
    } finally {
      listener.end()
      await adminQuery('drop sequence copy_seq', db.name)
    }
  })

  it("a DO block's statements are judged like the statements themselves", async () => {
    const [stores, plain, reads] = await session(
      'do $$ begin create table copied as select * from users; end $$',
      "do $$ begin insert into notes values (9, 'n9'); delete from notes where id = 9; end $$",
      'do $$ begin perform count(*) from users; end $$',
    )
    expect(errorsOf(stores!)).toEqual([
      expect.stringContaining('copies masked column public.users.email into public.copied.email'),
    ])
    expect(errorsOf(plain!)).toEqual([])
    expect(errorsOf(reads!)).toEqual([])
    expect(await direct("select count(*)::int as n from pg_class where relname = 'copied'")).toEqual([{n: 0}])
  })

  it("COPY FROM a file of the server's: it may hold what an earlier COPY TO stored there", async () => {
    const [r, after] = await session(
      "copy notes from '/tmp/dbgate-never-written.csv'",
      'select count(*) from notes',
    )
    expect(errorsOf(r!)).toEqual([
      expect.stringContaining('may store values of masked columns in public.notes'),
    ])
    expect(dataRows(after!)).toEqual([['2']])
  })

  it('node-postgres: refused at Parse in the extended protocol, with parameters', async () => {
    const c = await pgClient(proxy)
    try {
      await expect(
        c.query('insert into notes select id + $1::int, email from users', [20]),
      ).rejects.toMatchObject({code: '42501', message: expect.stringContaining('copies masked column')})
      await expect(
        c.query('insert into notes select id + $1::int, name from users', [20]),
      ).resolves.toMatchObject({
        rowCount: 2,
      })
      const r = await c.query('select note from notes where id > 20 order by id')
      expect(r.rows).toEqual([{note: 'Carol'}, {note: 'Dave'}])
    } finally {
      await c.end()
      await adminQuery('delete from notes where id > 20', db.name)
    }
  })

  it('psql: the refusal explains itself and the script goes on', async () => {
    const {stdout, stderr} = await promisify(execFile)(
      'psql',
      [
        '-X',
        '-A',
        '-t',
        '-h',
        '127.0.0.1',
        '-p',
        String(proxy.port),
        '-U',
        'postgres',
        '-d',
        db.name,
        '-c',
        'create table leak as select id, email from users',
        '-c',
        "select count(*) from pg_class where relname = 'leak'",
      ],
      {encoding: 'utf8'},
    )
    expect(stderr).toContain('copies masked column public.users.email into public.leak.email')
    expect(stderr).toContain('temporary table')
    expect(stdout.trim()).toBe('0')
  })
})

describe('code that would copy masked values: code bodies, and user functions given them', () => {
  beforeAll(async () => {
    await adminQuery(
      `create table kept(v text);
       create function stash(t text) returns text language sql as 'insert into kept values (t) returning t';
       create extension citext`,
      db.name,
    )
  })
  afterAll(async () => {
    await adminQuery('drop function stash(text); drop table kept; drop extension citext', db.name)
  })

  it.each([
    // PL/pgSQL variables carry what one statement read into the next one's write.
    [
      'do $$ declare v text; begin select email into v from users where id = 1; insert into notes values (3, v); end $$',
      'public.users.email',
    ],
    // What a body reads is whole relations: the first masked column of users is named.
    [
      'do $$ declare r record; begin for r in select ssn from users loop update notes set note = r.ssn where id = 1; end loop; end $$',
      'public.users.email',
    ],
    // A function or procedure is judged when it is created: it may run later in any session.
    [
      'create function keep_sql() returns void language sql as $$ insert into notes select id + 10, email from users $$',
      'public.users.email',
    ],
    [
      'create function keep_pl() returns void language plpgsql as $$ declare v text; begin select ssn into v from users limit 1; insert into notes values (9, v); end $$',
      'public.users.email',
    ],
    [
      "create procedure keep_proc() language plpgsql as $$ begin execute 'insert into notes select id + 10, email from users'; end $$",
      'public.users.email',
    ],
    // A user's function may store what it is given: anything of the relations the statement reads.
    ['select stash(email) from users', 'public.users.email'],
    ['select id from users where stash(ssn) is null', 'public.users.ssn'],
    ['select stash(u::text) from users u', 'public.users.email'],
    ['select s from users u, lateral stash(u.email) s', 'public.users.email'],
  ])('%s is refused and changes nothing', async (sql, source) => {
    const [refused, after] = await session(sql, 'select 1')
    const [error] = refused!.filter((m) => m.type === 'E')
    expect(error && errorCode(error)).toBe('42501')
    expect(errorMessage(error!)).toContain(`copies masked column ${source} into`)
    expect(dataRows(after!)).toEqual([['1']])
    expect(await direct('select id, note from notes order by id')).toEqual([
      {id: 1, note: 'n1'},
      {id: 2, note: 'n2'},
    ])
    expect(await direct("select count(*)::int as n from pg_proc where proname like 'keep%'")).toEqual([
      {n: 0},
    ])
    expect(await direct('select v from kept')).toEqual([])
  })

  it("a trigger function's NEW and OLD rows may be any table's: its writes of them are refused", async () => {
    const [stores, constant] = await session(
      'create function keep_new() returns trigger language plpgsql as $$ begin insert into notes values (new.id + 10, new.note); return new; end $$',
      "create function mark_new() returns trigger language plpgsql as $$ begin insert into notes values (50, 'changed') on conflict do nothing; return new; end $$",
    )
    expect(errorsOf(stores!)).toEqual([
      expect.stringMatching(/may store values of masked columns in public\.notes\.\w+ \(dbgate cannot tell/),
    ])
    expect(errorsOf(constant!)).toEqual([])
    expect(await direct("select proname from pg_proc where proname in ('keep_new', 'mark_new')")).toEqual([
      {proname: 'mark_new'},
    ])
    await adminQuery('drop function mark_new()', db.name)
  })

  it('code that copies nothing masked still runs: constants, columns no rule masks, unmasked tables', async () => {
    try {
      const [made, called, counted, unmasked] = await session(
        'create function shout(t text) returns text language plpgsql as $$ begin return upper(t); end $$',
        "select stash('constant'), shout(note) from notes where id = 1",
        // (Arithmetic on a variable is refused under masking rules: what the variable holds is untraced.)
        "do $$ begin insert into notes select count(*) + 200, 'count' from notes; end $$",
        'select stash(name) from users where id = 2',
      )
      expect([made, called, counted, unmasked].map((m) => errorsOf(m!)).flat()).toEqual([])
      // What a user's function returns is masked, as is everything after it in the session.
      expect(dataRows(called!)).toEqual([['[REDACTED]', '[REDACTED]']])
      expect(await direct('select v from kept order by v')).toEqual([{v: 'Dave'}, {v: 'constant'}])
      expect(await direct('select id, note from notes where id > 2')).toEqual([{id: 202, note: 'count'}])
    } finally {
      await adminQuery(
        'drop function if exists shout(text); delete from notes where id > 2; delete from kept',
        db.name,
      )
    }
  })

  it("an extension's operators and casts are not a user's code: they mask nothing more", async () => {
    // citext puts its operators and casts in public; they are installed code, like the server's own.
    const [eq, cast] = await session(
      "select name from users where name = 'Carol'",
      "select name::citext from users where name::citext = 'dave'",
    )
    expect(dataRows(eq!)).toEqual([['Carol']])
    expect(dataRows(cast!)).toEqual([['Dave']])
  })
})

describe('what still runs', () => {
  it('copies into temporary tables, masked for the rest of the session', async () => {
    const r = await session(
      'create temp table t1 as select id, email from users',
      'select email from t1',
      'select ssn into temp t2 from users',
      'select ssn from t2',
      'create temp table t3 (e text)',
      'insert into pg_temp.t3 select ssn from users',
    )
    expect(
      r
        .slice(0, 4)
        .flat()
        .filter((m) => m.type === 'E'),
    ).toEqual([])
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(dataRows(r[1]!)).toHaveLength(2)
    expect(dataRows(r[3]!)).toHaveLength(2)
    // An existing table's types and constraints check what is inserted: whether it fails shows the values.
    expect(errorsOf(r[5]!)).toEqual([
      expect.stringMatching(
        /stores a value computed from masked column public\.users\.\w+ in a column whose type/,
      ),
    ])
  })

  it('refuses conditions and sorts on temporary relations, whose columns it cannot trace', async () => {
    // A temporary view or copy may hold values computed from a masked column: `a = 97` would look one up.
    const r = await session(
      'create temp view tv as select ascii(email) as a from users',
      'select count(*) from tv where a = 97',
      'create temp table tt as select ascii(ssn) as a from users',
      'select count(*) from tt where a = 50',
      'select a from tt order by a',
    )
    expect(errorsOf(r[1]!)).toEqual([
      expect.stringMatching(/by a condition computed from values dbgate cannot trace/),
    ])
    expect(errorsOf(r[3]!)).toEqual([
      expect.stringMatching(/by a condition computed from values dbgate cannot trace/),
    ])
    expect(errorsOf(r[4]!)).toEqual([expect.stringMatching(/sorts rows by values dbgate cannot trace/)])
  })

  it('writes of unmasked columns, a masked column into itself, and moves the rules still cover', async () => {
    const r = await session(
      'create table names_copy as select id, name from users',
      'update users set email = lower(email) where id = 1',
      'create schema if not exists moved',
      'alter table users set schema moved',
      'alter table moved.users set schema public',
      'alter table users rename column name to full_name',
      'alter table users rename column full_name to name',
      "insert into notes select id + 30, name from users where email = 'carol.copy@example.com'",
      'select email from users where id = 1',
    )
    expect(
      r
        .flat()
        .filter((m) => m.type === 'E')
        .map(errorMessage),
    ).toEqual([])
    expect(leaksIn(r.flat(), NEEDLES)).toEqual([])
    expect(await direct('select id, name from names_copy order by id')).toEqual([
      {id: 1, name: 'Carol'},
      {id: 2, name: 'Dave'},
    ])
    expect(await direct('select note from notes where id > 30')).toEqual([{note: 'Carol'}])
    await adminQuery('drop table names_copy; drop schema moved; delete from notes where id > 30', db.name)
  })
})

describe('when the catalog the statement will see is not known, a write from other relations is refused', () => {
  it('after DDL earlier in the transaction, or in the same query', async () => {
    const r = await session(
      'begin',
      'create table fresh (e text)',
      'insert into fresh select name from users',
      'rollback',
      'create table fresh2 (e text); insert into fresh2 select name from users',
    )
    expect(errorsOf(r[2]!)).toEqual([
      expect.stringContaining('after DDL earlier in this transaction or query'),
    ])
    expect(errorsOf(r[4]!)).toEqual([
      expect.stringContaining('after DDL earlier in this transaction or query'),
    ])
    expect(await direct("select count(*)::int as n from pg_class where relname like 'fresh%'")).toEqual([
      {n: 0},
    ])
  })

  it('while earlier pipelined statements still run', async () => {
    const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    try {
      c.send(
        Buffer.concat([
          F.query('select pg_sleep(0.2)'),
          F.query('insert into notes select id + 40, name from users'),
        ]),
      )
      const first = await c.readUntil('Z')
      const second = await c.readUntil('Z')
      expect(errorsOf(first)).toEqual([])
      expect(errorsOf(second)).toEqual([
        expect.stringContaining('while earlier statements are still running'),
      ])
      c.send(F.query('insert into notes select id + 40, name from users'))
      expect(errorsOf(await c.readUntil('Z'))).toEqual([])
    } finally {
      c.end()
      await adminQuery('delete from notes where id > 40', db.name)
    }
  })
})

describe('generated columns are masked like the columns they are computed from', () => {
  it('reads, derived reads and copies of a generated column over a masked column', async () => {
    await adminQuery(
      `create table accounts(id int primary key, email text, name text,
         email_norm text generated always as (lower(trim(email))) stored,
         label text generated always as (upper(name)) stored);
       insert into accounts(id, email, name) values (1, 'Grace.Gen@Example.com', 'grace')`,
      db.name,
    )
    const masking: Policy['masking'] = [
      {name: 'mask-acct', columns: ['public.accounts.email'], style: 'redact'},
    ]
    const own = await startTestProxy(db.url, {...POLICY, masking})
    try {
      const r = await sessionQueries(own.port, db.name, [
        'select email_norm, label from accounts',
        'select * from accounts',
        "select email_norm || '' from accounts",
        'insert into notes select id + 50, email_norm from accounts',
      ])
      const all = r.flat()
      expect(
        Buffer.concat(all.map((m) => m.frame))
          .toString('latin1')
          .toLowerCase(),
      ).not.toContain('grace.gen@')
      expect(dataRows(r[0]!)).toEqual([['[REDACTED]', 'GRACE']])
      expect(dataRows(r[1]!)).toEqual([['1', '[REDACTED]', 'grace', '[REDACTED]', 'GRACE']])
      expect(errorsOf(r[3]!)).toEqual([
        expect.stringContaining('copies masked column public.accounts.email into public.notes.note'),
      ])
    } finally {
      await own.close()
      await adminQuery('drop table accounts', db.name)
    }
  })
})

describe('partitions and inheritance children are masked like the tables they belong to', () => {
  it('reads a partition (two levels down) and an inheritance child masked by the parent rule', async () => {
    await adminQuery(
      `create table people(id int, email text) partition by range (id);
       create table people_low partition of people for values from (0) to (100) partition by range (id);
       create table people_low_a partition of people_low for values from (0) to (50);
       insert into people values (1, 'henry.part@example.com');
       create table staff(id int, email text);
       create table staff_2024 () inherits (staff);
       insert into staff_2024 values (2, 'ivy.child@example.com')`,
      db.name,
    )
    const masking: Policy['masking'] = [
      {name: 'mask-people', columns: ['public.people.email'], style: 'redact'},
      {name: 'mask-staff', columns: ['public.staff.email'], style: 'redact'},
    ]
    const own = await startTestProxy(db.url, {...POLICY, masking})
    try {
      const r = await sessionQueries(own.port, db.name, [
        'select id, email from people_low_a',
        'select upper(email) from people_low',
        'select * from staff_2024',
        'select email from people',
      ])
      const text = Buffer.concat(r.flat().map((m) => m.frame))
        .toString('latin1')
        .toLowerCase()
      expect(text).not.toContain('henry.part@')
      expect(text).not.toContain('ivy.child@')
      expect(dataRows(r[0]!)).toEqual([['1', '[REDACTED]']])
      expect(dataRows(r[2]!)).toEqual([['2', '[REDACTED]']])
      expect(dataRows(r[3]!)).toEqual([['[REDACTED]']])
    } finally {
      await own.close()
      await adminQuery('drop table people; drop table staff cascade', db.name)
    }
  })
})
