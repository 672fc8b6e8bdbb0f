/**
 * Which columns take any value (SessionCatalog.acceptsAny), read from the real catalog: storing a value
 * computed from a masked column there cannot fail, so its failure answers nothing (CHECKED). Every
 * column a type, constraint, index, generated column, trigger, partition or row security checks does not.
 */
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SessionCatalog} from '../../src/proxy/postgres/catalog.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const SETUP = `
create domain short_text as text check (length(value) < 10);
create table t (
  free text, unbounded varchar, bounded varchar(20), fixed char(3), num int,
  checked text check (checked <> ''), uniq text unique, keyed text primary key, indexed text,
  expr_indexed text, partial text, in_partial text, gen_src text, gen text generated always as (upper(gen_src)) stored,
  in_table_check text, other text, constraint pair check (in_table_check <> other)
);
create index on t (indexed);
create index on t ((lower(expr_indexed)));
create index on t (partial) where in_partial is not null;
create table with_domain (dom short_text, note text);
create table referenced (k text primary key, note text);
create table referencing (k text references referenced (k), note text);
create table with_trigger (note text);
create function noop() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger tr before insert on with_trigger for each row execute function noop();
create table secured (note text);
alter table secured enable row level security;
create table parted (k int, note text) partition by range (k);
create table parted_1 partition of parted for values from (0) to (10);
create view v as select free from t;
`

let db: ScratchDb
let client: pg.Client
let catalog: SessionCatalog

beforeAll(async () => {
  db = await createScratchDb('dbgate_accepts', SETUP)
  client = new pg.Client({connectionString: db.url})
  await client.connect()
  catalog = new SessionCatalog(async (sql) => {
    // As the proxy's side connection reads them: every value as the server's text.
    const text = {getTypeParser: () => (v: string) => v}
    const results = (await client.query({text: sql, rowMode: 'array', types: text})) as unknown
    const list = (Array.isArray(results) ? results : [results]) as pg.QueryResult<(string | null)[]>[]
    return list.at(-1)?.rows ?? []
  })
  await catalog.load(
    [],
    [
      'public.t',
      'public.with_domain',
      'public.referenced',
      'public.referencing',
      'public.with_trigger',
      'public.secured',
    ].concat(['public.parted', 'public.parted_1', 'public.v']),
  )
})

afterAll(async () => {
  await client?.end()
  await db?.drop()
})

describe('columns that take any value', () => {
  it('are text or unbounded varchar that nothing checks', () => {
    const accepts = (table: string, column: string): boolean | undefined =>
      catalog.acceptsAny('public', table, column)
    expect(['free', 'unbounded', 'other'].map((c) => accepts('t', c))).toEqual([true, true, false])
    expect(accepts('referencing', 'note')).toBe(true)
    expect(accepts('referenced', 'note')).toBe(true)
  })

  it.each([
    ['t', 'bounded'],
    ['t', 'fixed'],
    ['t', 'num'],
    ['with_domain', 'dom'],
    // A domain's check is an expression run on write, as a trigger is: the whole table is checked.
    ['with_domain', 'note'],
    ['t', 'checked'],
    ['t', 'uniq'],
    ['t', 'keyed'],
    ['t', 'indexed'],
    ['t', 'expr_indexed'],
    ['t', 'partial'],
    ['t', 'in_partial'],
    ['t', 'gen_src'],
    ['t', 'in_table_check'],
    ['referenced', 'k'],
    ['referencing', 'k'],
    ['with_trigger', 'note'],
    ['secured', 'note'],
    ['parted', 'note'],
    ['parted_1', 'note'],
    ['v', 'free'],
    ['missing', 'note'],
  ])('not %s.%s', (table, column) => {
    expect(catalog.acceptsAny('public', table, column)).not.toBe(true)
  })
})
