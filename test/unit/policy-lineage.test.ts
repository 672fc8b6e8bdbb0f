import {beforeAll, describe, expect, it} from 'vitest'

import {LineageCache} from '../../src/policy/lineage/cache.js'
import {applyLineageEffects, lineagePostgres} from '../../src/policy/lineage/postgres.js'
import type {
  CursorLineage,
  LineageContext,
  LineageResult,
  StatementLineage,
} from '../../src/policy/lineage/types.js'
import {loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {catalog} from './policy-lineage-fixture.js'

const ctx: LineageContext = {defaultSchema: 'public'}

function result(sql: string, c: LineageContext = ctx): Extract<LineageResult, {ok: true}> {
  const r = lineagePostgres(sql, catalog, c)
  if (!r.ok) throw new Error(r.error)
  return r
}

/** The lineage of the query's last statement. */
function last(sql: string, c: LineageContext = ctx): StatementLineage {
  const s = result(sql, c).statements.at(-1)
  if (!s) throw new Error('no statement')
  return s
}

/** Each output column as the tables write it: its sources without `public.`, then ` ?` when opaque. */
function show(l: StatementLineage): string[] | null {
  return (
    l.columns?.map(
      (c) => c.sources.map((s) => s.replace(/^public\./, '')).join(' ') + (c.opaque ? ' ?' : ''),
    ) ?? null
  )
}

beforeAll(async () => {
  await loadPostgresParser()
})

const ALL_USERS = 'users.email users.id users.name users.ssn'

/** Derived forms: each output column's sources, in order. */
const DERIVED: [string, string[]][] = [
  ["SELECT id FROM users WHERE email LIKE '%x'", ['users.id']],
  ['SELECT email FROM users', ['users.email']],
  ['SELECT lower(email) FROM users', ['users.email']],
  ["SELECT email || '' FROM users", ['users.email']],
  ['SELECT id, email::text, CAST(ssn AS varchar(20)) FROM users', ['users.id', 'users.email', 'users.ssn']],
  ['SELECT email COLLATE "C" FROM users', ['users.email']],
  ["SELECT encode(convert_to(email, 'UTF8'), 'base64') FROM users", ['users.email']],
  [
    "SELECT reverse(email), translate(email, 'abc', 'xyz'), regexp_replace(email, '@.*', '') FROM users",
    ['users.email', 'users.email', 'users.email'],
  ],
  ["SELECT md5(email), sha256(convert_to(ssn, 'UTF8')) FROM users", ['users.email', 'users.ssn']],
  [
    "SELECT substring(email from 1 for 3), position('@' in email), trim(both from name) FROM users",
    ['users.email', 'users.email', 'users.name'],
  ],
  [
    "SELECT format('%s', email), concat_ws(',', name, ssn) FROM users",
    ['users.email', 'users.name users.ssn'],
  ],
  ['SELECT id::text || ssn FROM users', ['users.id users.ssn']],
  // CASE: conditions leak as much as results.
  ["SELECT CASE WHEN email LIKE 'a%' THEN 1 ELSE 0 END FROM users", ['users.email']],
  ["SELECT CASE id WHEN 1 THEN name ELSE 'x' END FROM users", ['users.id users.name']],
  [
    'SELECT COALESCE(email, name), NULLIF(id, 0), GREATEST(id, 1) FROM users',
    ['users.email users.name', 'users.id', 'users.id'],
  ],
  ['SELECT email IS NULL, id > 3 FROM users', ['users.email', 'users.id']],
  // arrays and subqueries
  ['SELECT ARRAY[email, name] FROM users', ['users.email users.name']],
  ['SELECT ARRAY(SELECT email FROM users)', ['users.email']],
  ['SELECT (SELECT email FROM users LIMIT 1) AS e', ['users.email']],
  ["SELECT 'a@b.c' = ANY (SELECT email FROM users)", ['users.email']],
  [
    'SELECT id, (SELECT card FROM orders o WHERE o.user_id = u.id LIMIT 1) FROM users u',
    ['users.id', 'orders.card'],
  ],
  ['SELECT (SELECT max(o.card) FROM orders o) FROM users', ['orders.card']],
  // aggregates and window functions
  ["SELECT string_agg(email, ',') FROM users", ['users.email']],
  // An aggregate's ORDER BY decides where each value lands in its result.
  ['SELECT array_agg(ssn ORDER BY email) FROM users', ['users.email users.ssn']],
  ['SELECT count(*), count(email), max(id) FROM users', ['', '', 'users.id']],
  ['SELECT mode() WITHIN GROUP (ORDER BY ssn) FROM users', ['users.ssn']],
  [
    'SELECT id, lag(email) OVER (ORDER BY id), row_number() OVER (PARTITION BY email) FROM users',
    ['users.id', 'users.email', ''],
  ],
  // JSON and whole-row references
  ['SELECT json_agg(u) FROM users u', [ALL_USERS]],
  ['SELECT row_to_json(u) FROM users u', [ALL_USERS]],
  ['SELECT row_to_json(u.*) FROM users u', [ALL_USERS]],
  ["SELECT to_jsonb(u)->>'email' FROM users u", [ALL_USERS]],
  ["SELECT json_build_object('e', email) FROM users", ['users.email']],
  ['SELECT u FROM users u', [ALL_USERS]],
  ['SELECT users FROM users', [ALL_USERS]],
  ['SELECT t FROM (SELECT * FROM users) t', [ALL_USERS]],
  ['SELECT (u).email, (u).id FROM users u', ['users.email', 'users.id']],
  ['SELECT * FROM jsonb_each(to_jsonb((SELECT u FROM users u LIMIT 1)))', [ALL_USERS, ALL_USERS]],
  ['SELECT (array_agg(email))[1] FROM users', ['users.email']],
  ['SELECT ROW(u.*)::text FROM users u', [ALL_USERS]],
  ["SELECT JSON_OBJECT('e': email), JSON_ARRAYAGG(ssn) FROM users", ['users.email', 'users.ssn']],
  ["SELECT JSON_QUERY(to_jsonb(u), '$.email') FROM users u", [ALL_USERS]],
  ['SELECT xmlelement(name e, email) FROM users', ['users.email']],
  ["SELECT overlay(email placing 'x' from 1) FROM users", ['users.email']],
  ['SELECT * FROM unnest((SELECT array_agg(email) FROM users))', ['users.email']],
  // setval stores a column's value in a sequence read later: the statement is opaque, as user code.
  ["SELECT nextval('s'), setval('s', id) FROM users", [' ?', 'users.id ?']],
  // constants
  ['SELECT 1, now(), current_user, version()', ['', '', '', '']],
  ['VALUES (1, $1), (2, $2)', ['', '']],
]

/** Filters, grouping and ordering choose rows: they do not make an output column sensitive. */
const FILTERS: [string, string[]][] = [
  ["SELECT name, count(*) FROM users GROUP BY name, email HAVING max(ssn) > '1'", ['users.name', '']],
  ['SELECT email FROM users GROUP BY email', ['users.email']],
  ['SELECT id FROM users ORDER BY email LIMIT 1', ['users.id']],
  ['SELECT DISTINCT ON (email) id FROM users', ['users.id']],
  ["SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM users", ['']],
  [
    "SELECT id, EXISTS (SELECT 1 FROM orders o WHERE o.user_id = users.id AND o.card LIKE '4%') FROM users",
    ['users.id', ''],
  ],
  ['SELECT id FROM users u WHERE EXISTS (SELECT email FROM users)', ['users.id']],
  ['SELECT u.id FROM users u JOIN orders o ON o.card = u.ssn', ['users.id']],
]

/** `*`, joins, subqueries, CTEs, set operations, LATERAL, VALUES. */
const SHAPES: [string, string[]][] = [
  ['SELECT * FROM users', ['users.id', 'users.name', 'users.email', 'users.ssn']],
  ['TABLE users', ['users.id', 'users.name', 'users.email', 'users.ssn']],
  ['SELECT u.* FROM users u', ['users.id', 'users.name', 'users.email', 'users.ssn']],
  [
    'SELECT o.*, u.name FROM orders o JOIN users u ON u.id = o.user_id',
    ['orders.id', 'orders.user_id', 'orders.card', 'users.name'],
  ],
  [
    'SELECT * FROM users JOIN orders USING (id)',
    ['orders.id users.id', 'users.name', 'users.email', 'users.ssn', 'orders.user_id', 'orders.card'],
  ],
  ['SELECT id FROM users JOIN orders USING (id)', ['orders.id users.id']],
  [
    'SELECT * FROM users NATURAL JOIN orders',
    ['orders.id users.id', 'users.name', 'users.email', 'users.ssn', 'orders.user_id', 'orders.card'],
  ],
  ['SELECT users.email, orders.card FROM users, orders', ['users.email', 'orders.card']],
  ['SELECT public.users.email FROM public.users', ['users.email']],
  ['SELECT x.e FROM (SELECT email AS e, id FROM users) x', ['users.email']],
  ['SELECT * FROM (SELECT email, id FROM users) AS x(a, b)', ['users.email', 'users.id']],
  ['SELECT j.card FROM (orders o JOIN users u ON o.user_id = u.id) AS j(a, b, card)', ['orders.card']],
  ['WITH e AS (SELECT email FROM users) SELECT * FROM e', ['users.email']],
  ['WITH a AS (SELECT id, ssn FROM users), b AS (SELECT ssn AS s FROM a) SELECT s FROM b', ['users.ssn']],
  [
    'WITH RECURSIVE r(n, e) AS (SELECT 1, email FROM users UNION ALL SELECT n + 1, e FROM r WHERE n < 3) SELECT n, e FROM r',
    ['', 'users.email'],
  ],
  [
    'WITH RECURSIVE r(a, b) AS (SELECT id, 1 FROM users UNION ALL SELECT b, email FROM r, users) SELECT b FROM r',
    ['users.email'],
  ],
  ['WITH d AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT email FROM d', ['users.email']],
  ['SELECT id FROM users UNION SELECT id FROM orders', ['orders.id users.id']],
  ['SELECT name FROM users UNION ALL SELECT card FROM orders', ['orders.card users.name']],
  [
    'SELECT id, name FROM users INTERSECT SELECT user_id, card FROM orders',
    ['orders.user_id users.id', 'orders.card users.name'],
  ],
  ['SELECT id FROM users EXCEPT SELECT 1', ['users.id']],
  ["SELECT * FROM (VALUES (1, 'a')) AS v(n, s)", ['', '']],
  [
    'SELECT * FROM (VALUES (1), (2)) v(n), users u WHERE u.id = v.n',
    ['', 'users.id', 'users.name', 'users.email', 'users.ssn'],
  ],
  ['SELECT u.id, l.c FROM users u, LATERAL (SELECT u.email AS c) l', ['users.id', 'users.email']],
  [
    'SELECT u.id, x FROM users u CROSS JOIN LATERAL unnest(ARRAY[u.ssn, u.name]) AS x',
    ['users.id', 'users.name users.ssn'],
  ],
  ['SELECT * FROM generate_series(1, 3)', ['']],
  ['SELECT * FROM generate_series(1, 3) WITH ORDINALITY', ['', '']],
  ['SELECT id FROM ONLY users TABLESAMPLE SYSTEM (10)', ['users.id']],
  [
    'SELECT u.id, x.* FROM users u, LATERAL (SELECT u.*) x',
    ['users.id', 'users.id', 'users.name', 'users.email', 'users.ssn'],
  ],
  [
    'SELECT * FROM users u JOIN LATERAL (SELECT email) e ON true',
    ['users.id', 'users.name', 'users.email', 'users.ssn', 'users.email'],
  ],
  ['SELECT c FROM users AS t(a, b, c)', ['users.email']],
  ['SELECT s FROM (SELECT email FROM users) s', ['users.email']],
  ['SELECT id FROM (SELECT * FROM users) a FULL JOIN orders b USING (id)', ['orders.id users.id']],
  // A CTE shadows the table of its name.
  ['WITH users AS (SELECT 1 AS email) SELECT email FROM users', ['']],
  [
    'WITH x AS (SELECT ssn FROM users) INSERT INTO orders (card) SELECT ssn FROM x RETURNING card',
    ['orders.card users.ssn'],
  ],
]

/** Views resolve through their definition; the view's own column is a source too. */
const VIEWS: [string, string[]][] = [
  ['SELECT * FROM v_users', ['users.id v_users.id', 'users.name v_users.name', 'users.email v_users.email']],
  ['SELECT email FROM v_users', ['users.email v_users.email']],
  ['SELECT v FROM v_users v', ['users.email users.id users.name v_users.email v_users.id v_users.name']],
  ['SELECT * FROM v_names', ['users.id v_names.id', 'users.name v_names.name']],
  ['SELECT contact FROM v_deep', ['users.email v_deep.contact v_users.email']],
  ['SELECT x FROM v_loop', ['v_loop.x ?']],
  ['SELECT a FROM v_wrong', ['users.id users.ssn v_wrong.a ?']],
]

/** Statements other than SELECT. */
const STATEMENTS: [string, string[]][] = [
  ["INSERT INTO users (id, email) VALUES (1, 'x') RETURNING id, email", ['users.id', 'users.email']],
  ['INSERT INTO orders (id, card) SELECT id, email FROM users RETURNING card', ['orders.card users.email']],
  [
    'INSERT INTO orders SELECT id, id, ssn FROM users RETURNING *',
    ['orders.id users.id', 'orders.user_id users.id', 'orders.card users.ssn'],
  ],
  [
    'INSERT INTO orders (id, card) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET card = (SELECT email FROM users LIMIT 1) RETURNING card',
    ['orders.card users.email'],
  ],
  [
    'UPDATE orders o SET card = u.ssn FROM users u WHERE u.id = o.user_id RETURNING o.id, o.card',
    ['orders.id', 'orders.card users.ssn'],
  ],
  ['UPDATE orders SET card = $1 RETURNING old.card, new.card', ['orders.card', 'orders.card']],
  ['DELETE FROM users WHERE id = 1 RETURNING id, email', ['users.id', 'users.email']],
  ['DELETE FROM orders o USING users u WHERE u.id = o.user_id RETURNING u.ssn', ['users.ssn']],
  ['DELETE FROM users WHERE id = 1', []],
  ["UPDATE users SET name = 'x'", []],
  ['COPY (SELECT email FROM users) TO STDOUT', ['users.email']],
  ['COPY (DELETE FROM users RETURNING ssn) TO STDOUT', ['users.ssn']],
  ['COPY users TO STDOUT', ['users.id', 'users.name', 'users.email', 'users.ssn']],
  ['COPY users (id, ssn) TO STDOUT WITH (FORMAT csv)', ['users.id', 'users.ssn']],
  ['COPY users FROM STDIN', []],
  ["COPY users TO '/tmp/x'", []],
  ['EXPLAIN SELECT email FROM users', ['']],
  ['EXPLAIN ANALYZE SELECT email FROM users', ['']],
  ['SHOW transaction_isolation', ['']],
  ['SHOW TRANSACTION ISOLATION LEVEL', ['']],
  ['CREATE TABLE t AS SELECT email FROM users', []],
  ['SELECT email INTO t2 FROM users', []],
  ['BEGIN', []],
]

function rows(table: [string, string[]][]): void {
  it.each(table)('%s', (sql, expected) => {
    expect(show(last(sql))).toEqual(expected)
  })
}

describe('lineage of derived columns', () => rows(DERIVED))
describe('predicates that only filter', () => rows(FILTERS))
describe('star expansion, joins, subqueries, CTEs, set operations', () => rows(SHAPES))
describe('views', () => rows(VIEWS))
describe('statements that return rows', () => rows(STATEMENTS))

describe('opaque lineage fails closed', () => {
  const OPAQUE: [string, string[] | null, boolean][] = [
    // [query, columns, readsUnknown]
    ['SELECT my_function(id) FROM users', ['users.id ?'], true],
    ['SELECT public.lower(email) FROM users', ['users.email ?'], true],
    ["SELECT query_to_xml('select email from users', true, false, '')", [' ?'], true],
    ['SELECT id FROM users, my_srf() f', ['users.id ?'], true],
    ['SELECT * FROM my_srf() AS f(a int, b text)', [' ?', ' ?'], true],
    ['SELECT * FROM my_srf()', null, true],
    ['SELECT * FROM unknown_table', null, true],
    ['SELECT id FROM unknown_table', [' ?'], true],
    ['SELECT id, email FROM users, unknown_table', ['users.id ?', 'users.email ?'], true],
    // Qualified references to known relations stay certain next to an unknown one.
    ['SELECT u.id FROM users u, unknown_table t', ['users.id'], true],
    ['SELECT t FROM unknown_table t', [' ?'], true],
    // A column the catalog does not list: the statement still reads only known tables.
    ['SELECT nosuch FROM users', [' ?'], false],
    ['SELECT u.nosuch FROM users u', [`${ALL_USERS} ?`], false],
    // Ambiguous: both candidates, uncertain.
    ['SELECT id FROM users u1, users u2', ['users.id ?'], false],
    ['SELECT (u).* FROM users u', null, true],
    ['CALL my_proc()', null, true],
    ["SELECT * FROM json_populate_record(null::users, '{}')", null, true],
    ['SELECT users.email FROM users u', [' ?'], false],
    ['SELECT "EMAIL" FROM users', [' ?'], false],
    ['FETCH 10 FROM nowhere', null, true],
    // Settings and planner statistics can hold any column's values.
    ["SELECT current_setting('my.x')", [' ?'], true],
    ['SHOW my.x', null, true],
    ['SHOW ALL', null, true],
    ["SELECT most_common_vals FROM pg_stats WHERE tablename = 'users'", [' ?'], true],
    ['EXECUTE nowhere', null, true],
  ]
  it.each(OPAQUE)('%s', (sql, expected, unknown) => {
    const l = last(sql)
    expect(show(l)).toEqual(expected)
    expect(l.readsUnknown).toBe(unknown)
  })

  it('lists every column of every relation the statement reads', () => {
    // Also the relations its conditions read.
    expect(last('SELECT o.id FROM orders o WHERE o.user_id IN (SELECT id FROM users)').reads).toEqual([
      'public.orders.card',
      'public.orders.id',
      'public.orders.user_id',
      'public.users.email',
      'public.users.id',
      'public.users.name',
      'public.users.ssn',
    ])
    expect(last('SELECT * FROM v_names').reads).toEqual([
      'public.users.email',
      'public.users.id',
      'public.users.name',
      'public.users.ssn',
      'public.v_names.id',
      'public.v_names.name',
    ])
  })

  it('refuses unreadable SQL (the caller treats lineage as unknown)', () => {
    expect(lineagePostgres('SELEC email FROM users', catalog, ctx).ok).toBe(false)
    expect(lineagePostgres('SELECT 1\0; SELECT email FROM users', catalog, ctx).ok).toBe(false)
  })

  it('makes a statement nested deeper than the stack unknown instead of throwing', () => {
    for (const n of [1000, 3000]) {
      const deep = `SELECT ${'lower('.repeat(n)}email${')'.repeat(n)} FROM users`
      const r = lineagePostgres(deep, catalog, ctx)
      const s = r.ok ? r.statements[0] : undefined
      // Either refused, or unknown, or traced to the column: never a result that lost the source.
      if (s) expect(s.columns === null || s.columns[0]?.sources.includes('public.users.email')).toBe(true)
    }
  })
})

describe('schemas', () => {
  it('resolves unqualified names in the default schema and pg_* names in pg_catalog', () => {
    const seen: string[] = []
    const spy = {columns: (s: string, t: string) => (seen.push(`${s}.${t}`), undefined)}
    lineagePostgres('SELECT * FROM users, pg_class, other.t', spy, {defaultSchema: 'app'})
    expect(seen).toEqual(['app.users', 'pg_catalog.pg_class', 'other.t'])
  })

  it('resolves unqualified names where the catalog view says the search_path finds them', () => {
    const seen: string[] = []
    const spy = {
      columns: (s: string, t: string) => (seen.push(`${s}.${t}`), undefined),
      schemaOf: (name: string) => (name === 'users' ? 's_pii' : undefined),
    }
    lineagePostgres('SELECT * FROM users, pg_class, other.t, unknown_yet', spy, {defaultSchema: 'app'})
    // A name the path cannot place yet is no relation lineage knows: its columns are unknown.
    expect(seen).toEqual(['s_pii.users', 'pg_catalog.pg_class', 'other.t', '\u0000unresolved.unknown_yet'])
  })

  it('reports search_path changes and how transactions end', () => {
    const effects = (sql: string) => result(sql).effects.flat()
    expect(effects('SET search_path = s_pii, "Odd""Name", public')).toEqual([
      {kind: 'search-path', value: '"s_pii", "Odd""Name", "public"', local: false},
    ])
    expect(effects("SET LOCAL search_path TO '$user'")).toEqual([
      {kind: 'search-path', value: '"$user"', local: true},
    ])
    expect(effects('RESET search_path; SET search_path TO DEFAULT; RESET ALL; DISCARD ALL')).toEqual(
      expect.arrayContaining([{kind: 'search-path', value: null, local: false}]),
    )
    expect(effects('SET ROLE other')).toEqual([{kind: 'search-path', value: undefined, local: false}])
    expect(effects('SET work_mem = 1000')).toEqual([])
    expect(
      effects('BEGIN; COMMIT; ROLLBACK; ROLLBACK TO SAVEPOINT s').filter((e) => e.kind === 'transaction-end'),
    ).toEqual([
      {kind: 'transaction-end', how: 'commit'},
      {kind: 'transaction-end', how: 'rollback'},
      {kind: 'transaction-end', how: 'partial'},
    ])
  })
})

describe('multi-statement queries', () => {
  it('gives one lineage per statement, in order', () => {
    const r = result('SELECT id FROM users; UPDATE users SET name = $1; SELECT ssn FROM users')
    expect(r.statements.map(show)).toEqual([['users.id'], [], ['users.ssn']])
  })
})

describe('cursors', () => {
  it('remembers a DECLAREd cursor and FETCHes its lineage', () => {
    const r = result('BEGIN; DECLARE c CURSOR FOR SELECT id, lower(email) FROM users; FETCH 10 FROM c')
    expect(r.statements.map(show)).toEqual([[], [], ['users.id', 'users.email']])
    expect(r.effects[1]).toEqual([
      {kind: 'declare', name: 'c', cursor: {lineage: r.statements[2], holdable: false}},
    ])
    expect(r.sessionDependent).toBe(true)
  })

  it('uses the session map across queries, and forgets closed cursors', () => {
    const cursors = new Map<string, CursorLineage>()
    const prepared = new Map<string, StatementLineage>()
    const session = {cursors, prepared}
    const declared = result('DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM users')
    declared.effects.forEach((e) => applyLineageEffects(session, e))
    expect(show(last('FETCH ALL IN c', {defaultSchema: 'public', cursors}))).toEqual(['users.ssn'])
    expect(show(last('MOVE 1 IN c', {defaultSchema: 'public', cursors}))).toEqual([])
    // COMMIT ends the transaction: a holdable cursor survives it.
    result('COMMIT').effects.forEach((e) => applyLineageEffects(session, e))
    expect(cursors.has('c')).toBe(true)
    expect(show(last('CLOSE c; FETCH c', {defaultSchema: 'public', cursors}))).toBeNull()
    result('CLOSE c').effects.forEach((e) => applyLineageEffects(session, e))
    expect(cursors.size).toBe(0)
  })

  it('drops non-holdable cursors at the end of the transaction', () => {
    const session = {cursors: new Map<string, CursorLineage>(), prepared: new Map<string, StatementLineage>()}
    for (const e of result('BEGIN; DECLARE a CURSOR FOR SELECT 1; DECLARE b CURSOR WITH HOLD FOR SELECT 2')
      .effects)
      applyLineageEffects(session, e)
    for (const e of result('ROLLBACK').effects) applyLineageEffects(session, e)
    expect([...session.cursors.keys()]).toEqual(['b'])
  })

  it('forgets every cursor and prepared statement after code it cannot see (a function, DO, CALL)', () => {
    for (const sql of [
      'SELECT reopen_cursor()',
      'DO $$ BEGIN PERFORM 1; END $$',
      'CALL p()',
      'SELECT id FROM users WHERE f(id)',
    ]) {
      const session = {
        cursors: new Map<string, CursorLineage>([
          ['c', {lineage: last('SELECT id FROM users'), holdable: true}],
        ]),
        prepared: new Map<string, StatementLineage>([['p', last('SELECT id FROM users')]]),
      }
      const r = result(sql)
      r.effects.forEach((e) => applyLineageEffects(session, e))
      expect([session.cursors.size, session.prepared.size]).toEqual([0, 0])
    }
  })
})

describe('prepared statements', () => {
  it('stores PREPARE and resolves EXECUTE, in the same query or later', () => {
    const r = result('PREPARE p(int) AS SELECT email FROM users WHERE id = $1; EXECUTE p(1)')
    expect(show(r.statements[1] ?? last('SELECT 1'))).toEqual(['users.email'])
    const prepared = new Map<string, StatementLineage>()
    r.effects.forEach((e) => applyLineageEffects({cursors: new Map(), prepared}, e))
    expect(show(last('EXECUTE p(2)', {defaultSchema: 'public', prepared}))).toEqual(['users.email'])
    expect(show(last('DEALLOCATE p; EXECUTE p(2)', {defaultSchema: 'public', prepared}))).toBeNull()
    expect(show(last('DEALLOCATE ALL; EXECUTE p(2)', {defaultSchema: 'public', prepared}))).toBeNull()
    expect(show(last('DISCARD ALL; EXECUTE p(2)', {defaultSchema: 'public', prepared}))).toBeNull()
  })
})

describe('LineageCache', () => {
  it('shares lineage between statements that differ only in literals', () => {
    const cache = new LineageCache(catalog)
    const a = cache.lineage("SELECT lower(email) FROM users WHERE id = 1 AND name = 'a'", ctx)
    const b = cache.lineage("SELECT lower(email) FROM users WHERE id = 2 AND name = 'b'", ctx)
    expect(b).toBe(a)
    expect(cache.size).toBe(1)
    cache.clear()
    expect(cache.size).toBe(0)
  })

  it('never caches results that depend on session state or read something unknown', () => {
    const cache = new LineageCache(catalog)
    cache.lineage('FETCH 1 FROM c', ctx)
    cache.lineage('DECLARE c CURSOR FOR SELECT 1', ctx)
    cache.lineage('SELECT * FROM not_loaded_yet', ctx)
    expect(cache.size).toBe(0)
  })

  it('keys by the default schema', () => {
    const cache = new LineageCache(catalog)
    const pub = cache.lineage('SELECT email FROM users', ctx)
    const other = cache.lineage('SELECT email FROM users', {defaultSchema: 'other'})
    expect(pub.ok && other.ok && other.statements[0]?.readsUnknown).toBe(true)
  })
})
