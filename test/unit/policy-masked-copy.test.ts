/**
 * Copies of masked columns into tables other sessions read: the write effects lineage reports (which
 * stored column gets what) and `maskedCopy`'s verdict on them, for every way Postgres stores rows.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {
  CHECKED,
  CONDITION,
  FAILS,
  ORDER,
  DELAY,
  expressionColumns,
  maskedCopy,
  type CatalogView,
  type MaskingRule,
  type StoredWrite,
} from '../../src/policy/index.js'
import {lineagePostgres} from '../../src/policy/lineage/postgres.js'
import {loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {MysqlCatalog} from '../../src/proxy/mysql/mask-catalog.js'
import {catalog} from './policy-lineage-fixture.js'

const RULES: MaskingRule[] = [
  {name: 'mask-email', columns: ['*.users.email'], style: 'partial'},
  {name: 'mask-ssn', columns: ['*.users.ssn'], style: 'redact'},
  {name: 'mask-card', columns: ['public.orders.card'], style: 'redact'},
]

beforeAll(async () => {
  await loadPostgresParser()
})

function writes(sql: string): StoredWrite[] {
  const r = lineagePostgres(sql, catalog, {defaultSchema: 'public'})
  if (!r.ok) throw new Error(r.error)
  return r.effects.flat().filter((e): e is StoredWrite => e.kind === 'write')
}

/** The writes that store rows in a table (not what decides rows or failures: CHECKED). */
function stores(sql: string): StoredWrite[] {
  return writes(sql).filter((w) => w.table !== CHECKED)
}

/** The first copy of a masked column a query's persistent writes make, as the proxy judges it. */
function copy(sql: string, rules: readonly MaskingRule[] = RULES): unknown {
  for (const w of writes(sql)) {
    if (w.temporary) continue
    const c = maskedCopy(w, rules)
    if (c !== undefined) return c
  }
  return undefined
}

describe("a session's own taints", () => {
  it('mask what it copies from, never guard where it copies to', () => {
    const [write] = writes('INSERT INTO notes SELECT id, email FROM users')
    const taint: MaskingRule = {name: 'mask-email', columns: ['*.notes.*'], style: 'redact'}
    // As a policy rule, masking notes.note as strictly, it covers the copy.
    expect(maskedCopy(write!, [...RULES, taint])).toBeUndefined()
    // As the session's taint, other sessions do not apply it: the copy escapes.
    expect(maskedCopy(write!, [...RULES, taint], undefined, new Set([taint]))).toMatchObject({
      target: 'public.notes.note',
      source: 'public.users.email',
    })
    // What a taint masks (a table the session filled with masked values) is masked where it is copied from.
    const tainted: MaskingRule = {name: 'mask-email', columns: ['*.orders.*'], style: 'partial'}
    const [fromOrders] = writes('INSERT INTO notes SELECT 1, user_id::text FROM orders')
    expect(maskedCopy(fromOrders!, RULES)).toBeUndefined()
    expect(maskedCopy(fromOrders!, [...RULES, tainted], undefined, new Set([tainted]))).toMatchObject({
      target: 'public.notes.note',
      source: 'public.orders.user_id',
      rule: 'mask-email',
    })
  })
})

describe('a write that stores a masked column where no rule masks it as strictly is a copy', () => {
  it.each([
    ['CREATE TABLE x AS SELECT id, email FROM users', 'public.x.email', 'public.users.email'],
    ['SELECT email INTO x FROM users', 'public.x.email', 'public.users.email'],
    ['CREATE TABLE x (e) AS SELECT lower(email) FROM users', 'public.x.e', 'public.users.email'],
    ['INSERT INTO notes SELECT id, email FROM users', 'public.notes.note', 'public.users.email'],
    ['INSERT INTO notes (note) SELECT ssn FROM users', 'public.notes.note', 'public.users.ssn'],
    ['INSERT INTO notes SELECT id, card FROM orders WHERE false', 'public.notes.note', 'public.orders.card'],
    [
      'INSERT INTO notes VALUES (1, (SELECT email FROM users LIMIT 1))',
      'public.notes.note',
      'public.users.email',
    ],
    ['INSERT INTO notes SELECT id, email FROM v_users', 'public.notes.note', 'public.users.email'],
    [
      'INSERT INTO notes SELECT * FROM (SELECT id, ssn FROM users) s',
      'public.notes.note',
      'public.users.ssn',
    ],
    [
      'INSERT INTO notes SELECT id, name FROM users ON CONFLICT (id) DO UPDATE SET note = (SELECT email FROM users LIMIT 1)',
      'public.notes.note',
      'public.users.email',
    ],
    [
      'UPDATE notes SET note = u.email FROM users u WHERE u.id = notes.id',
      'public.notes.note',
      'public.users.email',
    ],
    ['UPDATE users SET name = email', 'public.users.name', 'public.users.email'],
    [
      "UPDATE users SET name = CASE WHEN email LIKE 'a%' THEN 'a' END",
      'public.users.name',
      'public.users.email',
    ],
    [
      'MERGE INTO notes n USING users u ON n.id = u.id WHEN MATCHED THEN UPDATE SET note = u.email',
      'public.notes.note',
      'public.users.email',
    ],
    [
      'MERGE INTO notes n USING users u ON n.id = u.id WHEN NOT MATCHED THEN INSERT VALUES (u.id, u.ssn)',
      'public.notes.note',
      'public.users.ssn',
    ],
    [
      'WITH w AS (UPDATE notes SET note = u.email FROM users u RETURNING 1) SELECT count(*) FROM w',
      'public.notes.note',
      'public.users.email',
    ],
    [
      'EXPLAIN ANALYZE INSERT INTO notes SELECT id, email FROM users',
      'public.notes.note',
      'public.users.email',
    ],
    ['PREPARE p AS INSERT INTO notes SELECT id, email FROM users', 'public.notes.note', 'public.users.email'],
    ['ALTER TABLE users RENAME TO people', 'public.people.email', 'public.users.email'],
    ['ALTER TABLE users RENAME COLUMN email TO contact', 'public.users.contact', 'public.users.email'],
    // A column the catalog does not list: which values move is unknown, so every masked column read counts.
    ['ALTER TABLE users RENAME COLUMN mystery TO contact', 'public.users', 'public.users.email'],
    [
      'ALTER TABLE users ADD COLUMN e2 text GENERATED ALWAYS AS (lower(email)) STORED',
      'public.users.e2',
      'public.users.email',
    ],
    ['ALTER TABLE users ALTER COLUMN name TYPE text USING email', 'public.users.name', 'public.users.email'],
    // The card rule names the public schema: moved elsewhere, the column would be read unmasked.
    ['ALTER TABLE orders SET SCHEMA archive', 'archive.orders.card', 'public.orders.card'],
    // Rows written to a file (or program) of the server's, where any session can read them back.
    [
      "COPY (SELECT id, email FROM users) TO '/tmp/x.csv'",
      '\u0000server file /tmp/x.csv.email',
      'public.users.email',
    ],
    // A program can read any table itself: whatever COPY gives it, it may store anything.
    ["COPY users (ssn) TO PROGRAM 'cat'", '\u0000shared by a program COPY runs on the server', undefined],
    ["COPY (SELECT 1) TO PROGRAM 'cat'", '\u0000shared by a program COPY runs on the server', undefined],
    // Built-ins that keep a value for other sessions (a sequence, listeners): everything read counts.
    ["SELECT setval('seq', ascii(email)) FROM users", '\u0000shared by setval()', 'public.users.email'],
    ["SELECT pg_notify('chan', u.ssn) FROM users u", '\u0000shared by pg_notify()', 'public.users.email'],
    // An advisory lock's key, which pg_locks shows every session.
    [
      'SELECT pg_try_advisory_lock(ascii(ssn)) FROM users',
      '\u0000shared by pg_try_advisory_lock()',
      'public.users.email',
    ],
    // The statements of a DO block, read from its body.
    ['DO $$ BEGIN CREATE TABLE x AS SELECT * FROM users; END $$', 'public.x.email', 'public.users.email'],
    // A target the catalog does not know: which column gets what is unknown, so every column read counts.
    ['INSERT INTO fresh SELECT id, email FROM users', 'public.fresh', 'public.users.email'],
  ])('%s', (sql, target, source) => {
    expect(copy(sql)).toMatchObject({target, source})
  })

  it('names the rule it would escape, and a relation it cannot see as an unknown source', () => {
    expect(copy('INSERT INTO notes (note) SELECT ssn FROM users')).toEqual({
      target: 'public.notes.note',
      source: 'public.users.ssn',
      rule: 'mask-ssn',
    })
    // A file of the server's may hold anything (what an earlier COPY TO stored there).
    expect(copy("COPY notes FROM '/tmp/x.csv'")).toEqual({
      target: 'public.notes',
      source: undefined,
      rule: 'mask-ssn',
    })
    // Unknown reads fail closed with the strictest column rule.
    expect(copy('INSERT INTO notes SELECT * FROM nowhere')).toEqual({
      target: 'public.notes.id',
      source: undefined,
      rule: 'mask-ssn',
    })
  })

  it('a target masked less strictly than its source is a copy; as strictly, it is not', () => {
    const weak: MaskingRule[] = [
      ...RULES,
      {name: 'notes-partial', columns: ['*.notes.note'], style: 'partial'},
    ]
    expect(copy('INSERT INTO notes (note) SELECT ssn FROM users', weak)).toMatchObject({rule: 'mask-ssn'})
    expect(copy('INSERT INTO notes (note) SELECT email FROM users', weak)).toBeUndefined()
  })
})

describe('writes that store no masked column where it escapes its rule', () => {
  it.each([
    "INSERT INTO notes SELECT id, name FROM users WHERE email = 'a@x.com' OR ssn IN ($1, $2)",
    "SELECT name FROM users WHERE email IS NOT NULL AND email <> '' AND id > 2",
    "SELECT u.name FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email IS DISTINCT FROM 'x'",
    "SELECT * FROM v_names WHERE name LIKE 'a%'",
    'SELECT u1.id FROM users u1 JOIN users u2 USING (email)',
    'SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM users v WHERE v.ssn = u.ssn)',
    'SELECT id FROM users WHERE email IN (SELECT email FROM users WHERE id = 1)',
    'INSERT INTO users (id, name, email, ssn) SELECT id + 10, name, email, ssn FROM users',
    "INSERT INTO notes VALUES (1, 'x')",
    "COPY (SELECT id, name FROM users) TO '/tmp/x.csv'",
    'COPY notes FROM STDIN',
    "SELECT pg_notify('chan', 'hello')",
    "DO $$ BEGIN INSERT INTO notes VALUES (1, 'x'); DELETE FROM notes WHERE id = 1; END $$",
    "SELECT setval('seq', max(id)) FROM notes",
    'CREATE MATERIALIZED VIEW mv AS SELECT email FROM users',
    'CREATE TABLE x AS SELECT * FROM users WITH NO DATA',
    'CREATE VIEW v AS SELECT email FROM users',
    'ALTER TABLE users SET SCHEMA archive',
    'ALTER TABLE users RENAME COLUMN name TO full_name',
    'ALTER TABLE users ALTER COLUMN id TYPE bigint USING id::bigint',
    'ALTER TABLE v_users RENAME TO v_people',
    'ALTER TABLE users RENAME CONSTRAINT users_pkey TO users_pk',
    'ALTER INDEX users_email_idx RENAME TO users_mail_idx',
    'ALTER TABLE users ALTER COLUMN email SET NOT NULL',
    'UPDATE notes SET note = upper(note)',
  ])('%s', (sql) => {
    expect(copy(sql)).toBeUndefined()
  })
})

describe('conditions that compute from a masked column choose rows by its values', () => {
  it.each([
    ["SELECT id FROM users WHERE email LIKE '%x'", 'public.users.email'],
    ["SELECT id FROM users WHERE substr(ssn, 1, 1) = '1'", 'public.users.ssn'],
    ["SELECT id FROM users WHERE ssn::char(1) = '1'", 'public.users.ssn'],
    ['SELECT id FROM users u, generate_series(1, 200) g WHERE g = ascii(u.email)', 'public.users.email'],
    ['SELECT id FROM users u JOIN generate_series(1, 200) g ON g <= length(u.ssn)', 'public.users.ssn'],
    [
      'SELECT id FROM orders o WHERE o.user_id IN (SELECT id FROM users WHERE email > $1)',
      'public.users.email',
    ],
    ['SELECT 1 WHERE EXISTS (SELECT 1 FROM users WHERE ssn < $1)', 'public.users.ssn'],
    ['SELECT count(CASE WHEN ascii(email) > 100 THEN 1 END) FROM users', 'public.users.email'],
    ['SELECT count(*) FILTER (WHERE ascii(email) > 100) FROM users', 'public.users.email'],
    ['SELECT max(id) FROM users GROUP BY name HAVING max(email) > $1', 'public.users.email'],
    ['SELECT id FROM users INTERSECT SELECT ascii(ssn) FROM users', 'public.users.ssn'],
    ["DELETE FROM notes WHERE note IN (SELECT email FROM users WHERE email LIKE 'a%')", 'public.users.email'],
    [
      'UPDATE notes SET note = note FROM users u WHERE u.id = notes.id AND length(u.email) > 9',
      'public.users.email',
    ],
    ["EXPLAIN ANALYZE SELECT * FROM users WHERE email > 'b'", 'public.users.email'],
    ["SELECT * FROM v_names WHERE id IN (SELECT id FROM users WHERE ssn LIKE '1%')", 'public.users.ssn'],
  ])('%s', (sql, source) => {
    expect(copy(sql)).toMatchObject({target: CONDITION, source})
  })

  it.each([
    ['SELECT count(*) FROM (SELECT ascii(email) AS a FROM users) t WHERE a = 97', 'public.users.email'],
    [
      'WITH t AS (SELECT substr(ssn, 1, 1) AS d FROM users) SELECT count(*) FROM t WHERE d = $1',
      'public.users.ssn',
    ],
    ['SELECT count(*) FROM (SELECT max(email) AS m FROM users) t WHERE m IS NULL', 'public.users.email'],
    // A CASE shows which way it went when a branch fails (division by zero).
    ['SELECT CASE WHEN ascii(email) > 100 THEN 1/0 END FROM users', 'public.users.email'],
    ["SELECT CASE substr(ssn, 1, 1) WHEN '1' THEN 1 END FROM users", 'public.users.ssn'],
  ])('a lookup of a computed value or a CASE: %s', (sql, source) => {
    expect(copy(sql)).toMatchObject({target: CONDITION, source})
  })

  it.each([
    // Whether it fails answers a question about the value: a binary search reads it a character at a time.
    ['SELECT id, make_date(2000, ascii(email) - 96, 1) FROM users', 'public.users.email'],
    ['SELECT ascii(email) * 30000000 FROM users WHERE id = 1', 'public.users.email'],
    ['SELECT 1 / (ascii(email) - 97) FROM users', 'public.users.email'],
    ['SELECT 100 / length(ssn) FROM users', 'public.users.ssn'],
    ['SELECT mod(1, length(ssn)) FROM users', 'public.users.ssn'],
    ['SELECT substr(ssn, 1, 1)::int FROM users', 'public.users.ssn'],
    ['SELECT CAST(email AS date) FROM users', 'public.users.email'],
    ['SELECT email::text[] FROM users', 'public.users.email'],
    ['SELECT chr(ascii(email) * 10000) FROM users', 'public.users.email'],
    ["SELECT 'x' ~ email FROM users", 'public.users.email'],
    ["SELECT 'x' LIKE ssn FROM users", 'public.users.ssn'],
    ['SELECT repeat(email, 100000000) FROM users', 'public.users.email'],
    ["SELECT substr('abc', length(email)) FROM users", 'public.users.email'],
    ['SELECT format(email, 1) FROM users', 'public.users.email'],
    // %I fails on NULL, a width taken from an argument unless it is an integer.
    ["SELECT format('%I', nullif(substr(email, 1, 1), 'a')) FROM users", 'public.users.email'],
    ["SELECT format('%*s', substr(email, 1, 1), '') FROM users", 'public.users.email'],
    // A JSON key must not be NULL.
    ["SELECT jsonb_build_object(nullif(substr(email, 1, 1), 'a'), 1) FROM users", 'public.users.email'],
    ["SELECT json_object_agg(nullif(ssn, 'x'), 1) FROM users", 'public.users.ssn'],
    // Arrays of different dimensions do not combine.
    ["SELECT ARRAY[string_to_array(substr(email, 1, 1), 'a'), ARRAY['q']] FROM users", 'public.users.email'],
    ["SELECT ARRAY[['q']] || string_to_array(email, 'a') FROM users", 'public.users.email'],
    ["SELECT array_agg(regexp_split_to_array(ssn, '-')) FROM users", 'public.users.ssn'],
    ['SELECT xmlparse(content email) FROM users', 'public.users.email'],
    ['SELECT to_number(ssn, $1) FROM users', 'public.users.ssn'],
    ['SELECT t.x FROM users, XMLTABLE($1 PASSING email COLUMNS x int PATH $2) t', 'public.users.email'],
    ['INSERT INTO pg_temp.t SELECT ascii(email) + 2147483600 FROM users', 'public.users.email'],
    // DDL that checks stored rows: a unique key, a type change, a constraint validated.
    ['CREATE UNIQUE INDEX ON users (email)', 'public.users.email'],
    ['CREATE UNIQUE INDEX ON users ((substr(ssn, 1, 1)))', 'public.users.ssn'],
    ['ALTER TABLE users ADD CONSTRAINT u UNIQUE (ssn)', 'public.users.ssn'],
    ['ALTER TABLE users ADD PRIMARY KEY (email)', 'public.users.email'],
    ['ALTER TABLE users ALTER COLUMN ssn TYPE varchar(100)', 'public.users.ssn'],
    ['ALTER TABLE users VALIDATE CONSTRAINT k', 'public.users.email'],
    ['SELECT id, pg_catalog.stash(email) FROM users', 'public.users.email'],
  ])('a computation that fails for some inputs: %s', (sql, source) => {
    expect(copy(sql)).toMatchObject({target: FAILS, source})
  })

  it.each([
    // The session's own table may refuse some values (a type, CHECK, UNIQUE key or domain).
    ['INSERT INTO pg_temp.t SELECT substr(email, 1, 1) FROM users', 'public.users.email'],
    ['INSERT INTO pg_temp.t SELECT email FROM users', 'public.users.email'],
    // So may a stored table's column: `email || repeat('x', 25)` fails when too long for varchar(40).
    ["UPDATE users SET email = email || repeat('x', 25)", 'public.users.email'],
    ['UPDATE users SET email = lower(email)', 'public.users.email'],
    ['UPDATE users SET ssn = email', 'public.users.email'],
    ['INSERT INTO users (id, email) SELECT id + 10, upper(email) FROM users', 'public.users.email'],
    ['INSERT INTO users (id, ssn) SELECT id + 10, email FROM users', 'public.users.email'],
    ['UPDATE users u SET ssn = v.email FROM users v WHERE v.id = u.id + 1', 'public.users.email'],
    [
      'MERGE INTO users u USING users v ON u.id = v.id WHEN NOT MATCHED THEN INSERT (id, email) VALUES (v.id, lower(v.email))',
      'public.users.email',
    ],
  ])('a write whose target may refuse what it stores: %s', (sql, source) => {
    expect(copy(sql)).toMatchObject({target: CHECKED, source})
  })

  it.each([
    // A column's own value stored back whole passed its checks already.
    'UPDATE users SET email = email, ssn = ssn WHERE id = 1',
    'UPDATE users u SET email = v.email FROM users v WHERE v.id = u.id + 1',
    'INSERT INTO users (id, name, email, ssn) SELECT id + 10, name, email, ssn FROM users',
    // A column that takes any value checks nothing (notes.note as strictly masked: not a copy either).
    "INSERT INTO notes (note) SELECT email || repeat('x', 25) FROM users",
    'UPDATE notes SET note = upper(note)',
  ])('a write whose target checks nothing it could refuse: %s', (sql) => {
    const strict: MaskingRule[] = [...RULES, {name: 'notes', columns: ['*.notes.note'], style: 'redact'}]
    expect(copy(sql, strict)).toBeUndefined()
  })

  it.each([
    // SQL a built-in runs from text decides the rows it returns, and may fail.
    [
      "SELECT count(*) FROM ts_stat('SELECT to_tsvector(''x'') FROM users WHERE email LIKE ''a%''')",
      CONDITION,
      'public.users.email',
    ],
    [
      "SELECT query_to_xml('SELECT 1 / (ascii(ssn) - 50) FROM users', true, false, '')",
      FAILS,
      'public.users.ssn',
    ],
    ["SELECT * FROM dblink('SELECT id FROM users ORDER BY email') AS t(id int)", ORDER, 'public.users.email'],
  ])('SQL run from text is judged as a statement: %s', (sql, target, source) => {
    expect(copy(sql)).toMatchObject({target, source})
  })

  it.each([
    // Relations and code that read what lineage cannot follow, later, in any session.
    "CREATE FOREIGN TABLE ft (line text) SERVER fs OPTIONS (program 'psql -c ''select email from users''')",
    "CREATE SERVER ls FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'rt')",
    "CREATE TRIGGER tr BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION tsvector_update_trigger(tsv, 'pg_catalog.simple', email)",
    'ALTER TABLE users INHERIT par',
    'ALTER TABLE pp ATTACH PARTITION users FOR VALUES FROM (0) TO (100)',
  ])('DDL whose rows or code lineage cannot follow may store anything: %s', (sql) => {
    expect(copy(sql)).toMatchObject({source: undefined})
  })

  it('CREATE TABLE AS EXECUTE stores the prepared rows', () => {
    expect(copy('PREPARE p AS SELECT id, email FROM users; CREATE TABLE xx AS EXECUTE p')).toMatchObject({
      target: 'public.xx.email',
      source: 'public.users.email',
    })
    expect(copy('PREPARE p AS SELECT id FROM users; CREATE TABLE xx AS EXECUTE p')).toBeUndefined()
  })

  it('a RETURN body decides by what its expression computes', () => {
    expect(
      copy(
        "CREATE FUNCTION f2() RETURNS int LANGUAGE sql RETURN (SELECT 1 / (count(*)::int - 1) FROM users WHERE email LIKE 'a%')",
      ),
    ).toMatchObject({target: CONDITION, source: 'public.users.email'})
  })

  it('SQL run from text that only looks up runs', () => {
    expect(
      copy("SELECT query_to_xml('SELECT id FROM users WHERE email = ''x''', true, false, '')"),
    ).toBeUndefined()
  })

  it.each([
    ['CREATE INDEX ON users ((1)) WHERE ascii(email) > 97', 'public.users.email'],
    ['ALTER TABLE users ADD CONSTRAINT k CHECK (length(ssn) < 20) NOT VALID', 'public.users.ssn'],
  ])('DDL that chooses rows by a condition: %s', (sql, source) => {
    expect(copy(sql)).toMatchObject({target: CONDITION, source})
  })

  it.each([
    'CREATE INDEX ON users (lower(email))',
    'CREATE INDEX ON users (id) WHERE id > 0',
    'CREATE UNIQUE INDEX ON users (id)',
    'ALTER TABLE users ADD CONSTRAINT ik CHECK (id > 0)',
    'ALTER TABLE users ADD COLUMN qty int CHECK (qty > 0) UNIQUE',
    'CREATE TEMP TABLE t AS SELECT email FROM users',
  ])('DDL that checks no masked column: %s', (sql) => {
    expect(copy(sql)).toBeUndefined()
  })

  it.each([
    'SELECT lower(email), upper(ssn), initcap(email), length(email), md5(ssn), ascii(email) FROM users',
    "SELECT substr(email, 2, 3), left(ssn, 3), right(ssn, -4), lpad(ssn, 20, '*'), split_part(email, '@', 2) FROM users",
    "SELECT email || '!', concat(email, ssn), concat_ws(' ', email, ssn), format('%s <%s>', id, email) FROM users",
    "SELECT email::text, ssn::varchar(4), CAST(email AS char(3)), regexp_replace(email, '(.).*', '\\1') FROM users",
    "SELECT coalesce(email, 'x'), nullif(ssn, 'a'), greatest(email, 'm'), email IS NULL, email > 'm' FROM users",
    "SELECT row_to_json(u), to_jsonb(u), json_build_object('e', email), u.email ~~ 'a%' FROM users u",
    "SELECT format('<%s> %1$L %-5s %%', email, ssn), ARRAY[email, ssn] FROM users",
    "SELECT string_agg(email, ',' ORDER BY id), array_agg(ssn), count(email), max(id) FROM users",
    "SELECT id FROM users WHERE email = 'a@x.com' OR ssn IN ($1, $2)",
  ])('computations that cannot fail are not judged: %s', (sql) => {
    expect(copy(sql)).toBeUndefined()
  })

  it.each([
    "SELECT count(*) FROM (SELECT email AS e FROM users) t WHERE e = 'x'",
    "WITH t AS (SELECT * FROM users) SELECT id FROM t WHERE ssn IN ($1, 'x')",
    "SELECT id FROM (SELECT email FROM users UNION ALL SELECT 'x') t WHERE email = 'x'",
    'SELECT id FROM users ORDER BY id',
    'SELECT name, count(*) FROM users GROUP BY name',
    "SELECT email FROM users UNION ALL SELECT 'x'",
    "SELECT CASE email WHEN 'x' THEN 1 END, CASE WHEN id > 1 THEN email END, 1 / id FROM users",
  ])('a lookup of a stored value, and sorts by other columns, run: %s', (sql) => {
    expect(copy(sql)).toBeUndefined()
  })

  it.each([
    ['SELECT id FROM users ORDER BY email', 'public.users.email'],
    ['SELECT id, ssn AS s FROM users ORDER BY s', 'public.users.ssn'],
    ['SELECT id, email FROM users ORDER BY 2 DESC', 'public.users.email'],
    ['SELECT min(id) FROM users GROUP BY ROLLUP (substr(ssn, 1, 1))', 'public.users.ssn'],
    ['SELECT DISTINCT ON (email) id FROM users', 'public.users.email'],
    ['SELECT DISTINCT email FROM users', 'public.users.email'],
    ["SELECT email FROM users UNION SELECT 'x'", 'public.users.email'],
    ["SELECT email FROM users UNION ALL SELECT 'x' ORDER BY 1", 'public.users.email'],
    ['SELECT rank() OVER (ORDER BY email) FROM users', 'public.users.email'],
    ['SELECT count(*) OVER w FROM users WINDOW w AS (PARTITION BY ssn)', 'public.users.ssn'],
    ['SELECT id FROM (SELECT id FROM users ORDER BY email LIMIT 1) t', 'public.users.email'],
  ])('sorting rows by a masked column shows how its values compare: %s', (sql, source) => {
    expect(copy(sql)).toMatchObject({target: ORDER, source})
  })

  it('a statement too deep to walk has conditions of unknown sources', () => {
    const deep = `SELECT count(*) FROM users WHERE ${'NOT '.repeat(2000)}ascii(email) > 100`
    expect(copy(deep)).toMatchObject({target: CONDITION, source: undefined})
  })

  it('a delay may show anything the statement reads', () => {
    expect(copy('SELECT CASE WHEN ascii(email) > 100 THEN pg_sleep(1) END FROM users')).toMatchObject({
      target: `${DELAY}pg_sleep()`,
      source: 'public.users.email',
    })
    expect(copy("SELECT id, pg_sleep_for('1s') FROM orders")).toMatchObject({source: 'public.orders.card'})
    expect(copy('SELECT pg_sleep(1)')).toBeUndefined()
    expect(copy('SELECT pg_sleep(1), note FROM notes')).toBeUndefined()
  })

  it('a view expanded in the statement keeps its own conditions out of the judgement', () => {
    const withView = catalog.viewDefinition?.('public', 'v_names')
    expect(withView).toBeDefined()
    expect(copy('SELECT name FROM v_names')).toBeUndefined()
  })
})

describe('what the proxy needs to judge a write before it runs', () => {
  it('marks writes into temporary relations, which only the session reads', () => {
    // (What an insert into an existing table stores is also judged as CHECKED: its constraints check it.)
    const temporary = (sql: string): boolean[] =>
      writes(sql)
        .filter((w) => w.table !== CHECKED)
        .map((w) => w.temporary)
    expect(temporary('CREATE TEMP TABLE x AS SELECT email FROM users')).toEqual([true])
    expect(temporary('SELECT email INTO TEMP x FROM users')).toEqual([true])
    expect(temporary('INSERT INTO pg_temp.notes SELECT id, email FROM users')).toEqual([true])
    expect(temporary('CREATE TEMP TABLE x (e text); INSERT INTO x SELECT email FROM users')).toEqual([true])
    expect(temporary('CREATE TEMP TABLE x (e text); INSERT INTO public.x SELECT email FROM users')).toEqual([
      false,
    ])
    expect(temporary('INSERT INTO notes SELECT id, email FROM users')).toEqual([false])
  })

  it('a DO body that cannot be read may store anything; one with DDL makes all its writes stale', () => {
    expect(copy("DO $$ BEGIN EXECUTE 'insert into notes ' || 'select 1'; END $$")).toMatchObject({
      target: '\u0000shared by DO',
      source: undefined,
    })
    const body =
      'DO $$ BEGIN INSERT INTO notes SELECT id, name FROM users; ALTER TABLE users RENAME COLUMN name TO n; END $$'
    expect(stores(body).map((w) => w.afterDdl)).toEqual([true, true])
  })

  it('PL/pgSQL variables: each write of a body may store anything the body read', () => {
    const into =
      'DECLARE v text; BEGIN SELECT email INTO v FROM users LIMIT 1; INSERT INTO notes VALUES (1, v); END'
    expect(copy(`DO $$ ${into} $$`)).toMatchObject({
      target: 'public.notes.note',
      source: 'public.users.email',
    })
    // A LANGUAGE sql body has no variables: its writes are exactly what they store.
    expect(
      copy("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ INSERT INTO notes VALUES (1, 'x') $$"),
    ).toBe(undefined)
    expect(
      copy(
        'CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ INSERT INTO notes SELECT id, ssn FROM users $$',
      ),
    ).toMatchObject({target: 'public.notes.note', source: 'public.users.ssn'})
    expect(copy(`CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ ${into} $$`)).toMatchObject({
      source: 'public.users.email',
    })
    // Constants are constants, in a body too; an unmasked table's values may go anywhere.
    expect(
      copy(
        "DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM notes; INSERT INTO notes VALUES (n, 'x'); END $$",
      ),
    ).toBe(undefined)
    // A trigger function's NEW and OLD are rows of whatever table it is attached to: unknown.
    const trigger = (value: string): unknown =>
      copy(
        `CREATE FUNCTION t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO notes VALUES (1, ${value}); RETURN NEW; END $$`,
      )
    expect(trigger('NEW.email')).toMatchObject({target: 'public.notes.note', source: undefined})
    expect(trigger("'x'")).toBeUndefined()
  })

  it("a user's function given columns may keep them: what its arguments name is stored in what it keeps", () => {
    const code = (names: string[]): CatalogView => ({
      ...catalog,
      code: (kind, name) => (kind === 'function' ? names.includes(name) : false),
    })
    const copyWith = (sql: string, view: CatalogView): unknown => {
      const r = lineagePostgres(sql, view, {defaultSchema: 'public'})
      if (!r.ok) throw new Error(r.error)
      for (const w of r.effects.flat()) if (w.kind === 'write' && !w.temporary) return maskedCopy(w, RULES)
      return undefined
    }
    const user = code(['stash'])
    expect(copyWith('SELECT stash(email) FROM users', user)).toMatchObject({
      target: '\u0000shared by stash()',
      source: 'public.users.email',
    })
    expect(copyWith('SELECT id FROM users u WHERE stash(u.ssn) IS NULL', user)).toMatchObject({
      source: 'public.users.ssn',
    })
    // A whole row carries every column; a subquery, every column of the relations it reads.
    expect(copyWith('SELECT stash(u::text) FROM users u', user)).toMatchObject({source: 'public.users.email'})
    expect(copyWith('SELECT stash((SELECT max(ssn) FROM users))', user)).toMatchObject({
      source: 'public.users.email',
    })
    expect(copyWith('SELECT public.other(email) FROM users', code([]))).toMatchObject({
      target: '\u0000shared by public.other()',
    })
    // Columns no rule masks, constants, built-ins (by the catalog) and pg_catalog's functions keep nothing masked.
    expect(copyWith('SELECT stash(name) FROM users', user)).toBeUndefined()
    expect(copyWith("SELECT stash('x')", user)).toBeUndefined()
    expect(copyWith('SELECT lower(email) FROM users', user)).toBeUndefined()
    // pg_catalog's stash is no copy; it is not known to succeed for every value either (fallible.ts).
    expect(copyWith('SELECT pg_catalog.stash(email) FROM users', user)).toMatchObject({target: FAILS})
    // Not known yet: it may be a user's, and the answer is not cached.
    const unknown: CatalogView = {...catalog, code: () => undefined}
    expect(copyWith('SELECT lower(email) FROM users', unknown)).toMatchObject({source: 'public.users.email'})
    const r = lineagePostgres('SELECT lower(email) FROM users', unknown, {defaultSchema: 'public'})
    expect(r.ok && r.sessionDependent).toBe(true)
  })

  it('marks writes that follow DDL in the same query (the catalog they read may be stale)', () => {
    const after = (sql: string): boolean[] => stores(sql).map((w) => w.afterDdl)
    expect(after('CREATE TABLE x (e text); INSERT INTO x SELECT name FROM users')).toEqual([true])
    expect(after('BEGIN; INSERT INTO notes SELECT id, name FROM users; COMMIT')).toEqual([false])
    expect(after('INSERT INTO notes SELECT id, name FROM users; DROP TABLE x')).toEqual([false])
  })
})

describe('generated columns carry what their expression reads', () => {
  it('expressionColumns reads the columns of an expression as pg_get_expr prints it', () => {
    expect(expressionColumns('lower(TRIM(BOTH FROM email))')).toEqual(['email'])
    expect(expressionColumns("((first || ' '::text) || last)")).toEqual(['first', 'last'])
    expect(expressionColumns("'fixed'::text")).toEqual([])
    expect(expressionColumns('1); DROP TABLE users; SELECT (1')).toBeNull()
    expect(expressionColumns('(')).toBeNull()
  })

  it('Postgres lineage: a generated column is computed from the columns it names, and a copy of it is one', () => {
    const generated: CatalogView = {
      ...catalog,
      generatedFrom: (schema, table, column) =>
        table === 'users' && column === 'name'
          ? ['email']
          : table === 'users' && column === 'ssn'
            ? null
            : undefined,
    }
    const r = lineagePostgres('SELECT name, ssn, id FROM users', generated, {defaultSchema: 'public'})
    expect(r.ok && r.statements[0]?.columns).toEqual([
      {name: 'name', sources: ['public.users.email', 'public.users.name'], opaque: false},
      {name: 'ssn', sources: ['public.users.ssn'], opaque: true},
      {name: 'id', sources: ['public.users.id'], opaque: false, whole: true},
    ])
    const w = lineagePostgres('INSERT INTO notes SELECT id, name FROM users', generated, {
      defaultSchema: 'public',
    })
    const write = w.ok ? w.effects.flat().find((e): e is StoredWrite => e.kind === 'write') : undefined
    expect(write && maskedCopy(write, RULES)).toMatchObject({source: 'public.users.email'})
  })

  it("Postgres lineage: a partition or inheritance child carries its ancestors' columns of the same name", () => {
    const partitioned: CatalogView = {
      ...catalog,
      columns: (schema, table) => (table === 'users_p1' ? ['id', 'email'] : catalog.columns(schema, table)),
      ancestors: (_schema, table) =>
        table === 'users_p1' ? ['public.users_all', 'public.users'] : undefined,
    }
    const r = lineagePostgres('SELECT id, email FROM users_p1', partitioned, {defaultSchema: 'public'})
    expect(r.ok && r.statements[0]?.columns?.map((c) => c.sources)).toEqual([
      ['public.users.id', 'public.users_all.id', 'public.users_p1.id'],
      ['public.users.email', 'public.users_all.email', 'public.users_p1.email'],
    ]) // Rows moved into a partition stay under the parent's rules: not a copy.
    const into = (sql: string): unknown => {
      const w = lineagePostgres(sql, partitioned, {defaultSchema: 'public'})
      const write = w.ok ? w.effects.flat().find((e): e is StoredWrite => e.kind === 'write') : undefined
      return write && maskedCopy(write, RULES)
    }
    expect(into('INSERT INTO users_p1 SELECT id, email FROM users')).toBeUndefined()
    expect(into('INSERT INTO notes SELECT id, email FROM users_p1')).toMatchObject({
      source: 'public.users.email',
    })
  })

  it('MySQL catalog: a generated column names the table columns its expression reads', () => {
    const c = new MysqlCatalog()
    // As the catalog lookup returns them: a generated column's expression after a NUL.
    c.setColumns('app.users', ['id', 'Name', 'email', 'e2\0concat(`name`,lcase(`email`))'])
    expect(c.columns('app', 'users')).toEqual(['id', 'Name', 'email', 'e2'])
    expect(c.generatedFrom('app', 'users', 'E2')).toEqual(['Name', 'email'])
    expect(c.generatedFrom('app', 'users', 'id')).toBeUndefined()
    c.setColumns('app.users', ['id', 'Name', 'email', "e2\0concat('unterminated"])
    expect(c.generatedFrom('app', 'users', 'e2')).toBeNull()
  })
})
