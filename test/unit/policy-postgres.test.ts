import {beforeAll, describe, expect, it} from 'vitest'

import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import type {Kind, Operation, WhereState} from '../../src/policy/types.js'

const ctx = {defaultSchema: 'public'}

function op(
  kind: Kind,
  tables: string[] = [],
  functions: string[] = [],
  where: WhereState = null,
): Operation {
  return {kind, tables, functions, where}
}

/** The operations of `sql` (what names lacked a schema is asserted on its own, in 'names without a schema'). */
function operations(sql: string): readonly Operation[] {
  const a = analyzePostgres(sql, ctx)
  if (!a.ok) throw new Error(`unexpected parse failure: ${a.error}`)
  return a.operations.map(({unqualified: _, ...rest}) => rest)
}

describe('postgres analysis: names without a schema', () => {
  const unqualified = (sql: string): unknown[] => {
    const a = analyzePostgres(sql, ctx)
    if (!a.ok) throw new Error(`unexpected parse failure: ${a.error}`)
    return a.operations.map((o) => o.unqualified ?? [])
  }

  it('lists each table written without a schema, and whether it is also written with the default one', () => {
    expect(unqualified('select * from users')).toEqual([[['public.users', 'users', false]]])
    expect(unqualified('select * from hr.salaries')).toEqual([[]])
    expect(unqualified('select * from public.users u join users v using (id)')).toEqual([
      [['public.users', 'users', true]],
    ])
    expect(unqualified('select * from pg_class')).toEqual([[['pg_catalog.pg_class', 'pg_class', false]]])
    expect(unqualified('with s as (select 1) select * from s')).toEqual([[]])
  })

  it('carries them through nesting and through EXECUTE of a prepared statement', () => {
    expect(unqualified('with d as (delete from t where id = 1 returning *) select * from d')).toEqual([
      [['public.t', 't', false]],
      [['public.t', 't', false]],
    ])
    const a = analyzePostgres('prepare p as select * from salaries; execute p', ctx)
    expect(a.ok && a.operations.find((o) => o.kind === 'execute')?.unqualified).toEqual([
      ['public.salaries', 'salaries', false],
    ])
  })
})

beforeAll(async () => {
  await loadPostgresParser()
})

/** One row per statement kind: the statement and the operations it must yield. */
const KINDS: [string, Operation[]][] = [
  ['SELECT id FROM users', [op('select', ['public.users'])]],
  ['VALUES (1), (2)', [op('select')]],
  ['TABLE users', [op('select', ['public.users'])]],
  ['INSERT INTO users (email) VALUES (lower($1))', [op('insert', ['public.users'], ['lower'])]],
  ['UPDATE users SET email = $1 WHERE id = $2', [op('update', ['public.users'], [], 'present')]],
  ['DELETE FROM users WHERE id = 7', [op('delete', ['public.users'], [], 'present')]],
  [
    'MERGE INTO accounts a USING staging s ON a.id = s.id WHEN MATCHED THEN UPDATE SET balance = s.balance WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.balance)',
    // Its WHEN MATCHED THEN UPDATE is an update of the target (policy-postgres-redteam.test.ts).
    [op('merge', ['public.accounts', 'public.staging']), op('update', ['public.accounts'], [], 'present')],
  ],
  // COPY of a table reads it all, or adds rows to it: a select or an insert of it too.
  ['COPY users TO STDOUT', [op('copy', ['public.users']), op('select', ['public.users'])]],
  [
    "COPY users FROM '/tmp/x.csv' WITH (FORMAT csv)",
    [op('copy', ['public.users']), op('insert', ['public.users'])],
  ],
  ['CREATE TABLE t (id int)', [op('create', ['public.t'])]],
  [
    'CREATE INDEX CONCURRENTLY users_email ON users (lower(email))',
    [op('create', ['public.users'], ['lower'])],
  ],
  ['CREATE SEQUENCE s.seq', [op('create', ['s.seq'])]],
  ['CREATE EXTENSION IF NOT EXISTS pgcrypto', [op('create')]],
  ['CREATE ROLE bob LOGIN', [op('create')]],
  ['CREATE DATABASE scratch', [op('create')]],
  ["CREATE TYPE mood AS ENUM ('a', 'b')", [op('create')]],
  [
    'CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM orders',
    [op('create', ['public.mv', 'public.orders'], ['count']), op('select', ['public.orders'], ['count'])],
  ],
  ['ALTER TABLE users ADD COLUMN age int', [op('alter', ['public.users'])]],
  ['ALTER TABLE s.users RENAME TO people', [op('alter', ['s.users'])]],
  ['ALTER INDEX users_email RENAME TO e', [op('alter', ['public.users_email'])]],
  ['ALTER ROLE bob SET search_path = app', [op('alter')]],
  ['ALTER SYSTEM SET work_mem = 1', [op('alter')]],
  ["ALTER DATABASE scratch SET log_statement = 'all'", [op('alter')]],
  ['ALTER TABLE users OWNER TO bob', [op('alter', ['public.users'])]],
  ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob', [op('alter')]],
  ['REASSIGN OWNED BY bob TO alice', [op('alter')]],
  // An ALTER that drops something is a drop as well; rewriting a column from an expression is an update of every row.
  ['ALTER TABLE users DROP COLUMN email', [op('alter', ['public.users']), op('drop', ['public.users'])]],
  [
    'ALTER TABLE IF EXISTS ONLY s.users ADD c int, DROP a CASCADE, DROP CONSTRAINT k',
    [op('alter', ['s.users']), op('drop', ['s.users'])],
  ],
  ['ALTER TYPE mood_t DROP ATTRIBUTE a', [op('alter', ['public.mood_t']), op('drop', ['public.mood_t'])]],
  [
    "ALTER TABLE users ALTER COLUMN email TYPE text USING ''",
    [op('alter', ['public.users']), op('update', ['public.users'], [], 'absent')],
  ],
  [
    'ALTER TABLE users ALTER email TYPE int USING length(email)',
    [op('alter', ['public.users'], ['length']), op('update', ['public.users'], [], 'absent')],
  ],
  ['ALTER TABLE users ALTER COLUMN id TYPE bigint USING id::bigint', [op('alter', ['public.users'])]],
  ['ALTER TABLE users ALTER COLUMN id TYPE bigint USING users.id', [op('alter', ['public.users'])]],
  ['ALTER TABLE users ALTER COLUMN id TYPE bigint', [op('alter', ['public.users'])]],
  ['ALTER TABLE users ALTER COLUMN id DROP DEFAULT, ALTER c DROP NOT NULL', [op('alter', ['public.users'])]],
  ['DROP TABLE users', [op('drop', ['public.users'])]],
  ['DROP TABLE IF EXISTS a, s.b CASCADE', [op('drop', ['public.a', 's.b'])]],
  ['DROP VIEW v', [op('drop', ['public.v'])]],
  ['DROP TRIGGER tr ON s.orders', [op('drop', ['s.orders'])]],
  ['DROP POLICY p ON users', [op('drop', ['public.users'])]],
  ['DROP FUNCTION f(int)', [op('drop', [], ['f'])]],
  ['DROP ROLE bob', [op('drop')]],
  ['DROP DATABASE scratch', [op('drop')]],
  ['DROP SCHEMA app CASCADE', [op('drop')]],
  ['DROP OWNED BY bob', [op('drop')]],
  ['TRUNCATE users, s.orders RESTART IDENTITY', [op('truncate', ['public.users', 's.orders'])]],
  ['GRANT SELECT ON users, s.orders TO bob', [op('grant', ['public.users', 's.orders'])]],
  ['GRANT admin TO bob', [op('grant')]],
  ['REVOKE ALL ON users FROM PUBLIC', [op('revoke', ['public.users'])]],
  ['REVOKE admin FROM bob', [op('revoke')]],
  ["SET search_path = 'app'", [op('set')]],
  ['SET LOCAL statement_timeout = 0', [op('set')]],
  ['RESET ALL', [op('set')]],
  ['SET ROLE admin', [op('set')]],
  ['SET SESSION AUTHORIZATION bob', [op('set')]],
  ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', [op('set')]],
  ['SET CONSTRAINTS ALL DEFERRED', [op('set')]],
  ["SELECT set_config('search_path', '', false)", [op('select', [], ['set_config'])]],
  ['SHOW server_version', [op('show')]],
  ['SHOW ALL', [op('show')]],
  ['BEGIN', [op('transaction')]],
  ['START TRANSACTION READ ONLY', [op('transaction')]],
  ['COMMIT', [op('transaction')]],
  ['ROLLBACK TO SAVEPOINT a', [op('transaction')]],
  ['SAVEPOINT a', [op('transaction')]],
  ["PREPARE TRANSACTION 'x'", [op('transaction')]],
  ['EXPLAIN SELECT * FROM users', [op('explain', ['public.users'])]],
  [
    'PREPARE q AS SELECT * FROM users WHERE id = $1',
    [op('prepare', ['public.users']), op('select', ['public.users'])],
  ],
  ['DEALLOCATE q', [op('deallocate')]],
  ['DEALLOCATE ALL', [op('deallocate')]],
  ['CALL app.refresh(1)', [op('call', [], ['app.refresh'])]],
  // A DO block's statements are operations of their own (policy-postgres-redteam.test.ts).
  ['DO $$ BEGIN PERFORM 1; END $$', [op('do'), op('select')]],
  ['VACUUM users', [op('vacuum', ['public.users'])]],
  ['VACUUM (ANALYZE, VERBOSE) s.orders (total)', [op('vacuum', ['s.orders'])]],
  ['VACUUM FULL', [op('vacuum')]],
  ['ANALYZE users', [op('analyze', ['public.users'])]],
  ['LOCK TABLE users IN ACCESS EXCLUSIVE MODE', [op('lock', ['public.users'])]],
  ['LISTEN jobs', [op('listen')]],
  ['UNLISTEN *', [op('listen')]],
  ["NOTIFY jobs, 'payload'", [op('notify')]],
  ["SELECT pg_notify('jobs', 'x')", [op('select', [], ['pg_notify'])]],
  ["COMMENT ON TABLE users IS 'people'", [op('comment', ['public.users'])]],
  ["COMMENT ON COLUMN app.users.email IS 'pii'", [op('comment', ['app.users'])]],
  ["COMMENT ON SCHEMA app IS 'x'", [op('comment')]],
  ['DISCARD ALL', [op('other')]],
  ['CHECKPOINT', [op('other')]],
  ['CLUSTER users USING users_pkey', [op('other', ['public.users'])]],
  ['REINDEX TABLE users', [op('other', ['public.users'])]],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv', [op('other', ['public.mv'])]],
  ["LOAD 'auto_explain'", [op('other')]],
  ["SECURITY LABEL ON TABLE users IS 'secret'", [op('other', ['public.users'])]],
  ['FETCH 10 FROM c', [op('select')]],
  ['MOVE NEXT IN c', [op('other')]],
  ['CLOSE c', [op('other')]],
  ['CREATE PUBLICATION pub FOR TABLE users', [op('create', ['public.users'])]],
  ['CREATE STATISTICS st ON a, b FROM users', [op('create', ['public.users'])]],
]

describe('postgres analysis: every kind', () => {
  it.each(KINDS)('%s', (sql, expected) => {
    expect(operations(sql)).toEqual(expected)
  })
})

/** Statements that run other statements: each nested statement is an operation of its own. */
const NESTED: [string, Operation[]][] = [
  [
    'WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT count(*) FROM gone',
    [op('select', ['public.users'], ['count']), op('delete', ['public.users'], [], 'present')],
  ],
  [
    'WITH a AS (UPDATE t SET x = 1 RETURNING id), b AS (INSERT INTO log SELECT id FROM a RETURNING *) DELETE FROM q',
    [
      op('delete', ['public.t', 'public.log', 'public.q'], [], 'absent'),
      op('update', ['public.t'], [], 'absent'),
      op('insert', ['public.log']),
    ],
  ],
  [
    'WITH RECURSIVE tree AS (SELECT id FROM nodes WHERE id = 1 UNION ALL SELECT n.id FROM nodes n JOIN tree ON n.parent = tree.id) SELECT * FROM tree',
    [op('select', ['public.nodes'])],
  ],
  [
    'EXPLAIN ANALYZE DELETE FROM users',
    [op('explain', ['public.users']), op('delete', ['public.users'], [], 'absent')],
  ],
  [
    'EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1 WHERE id = 2',
    [op('explain', ['public.t']), op('update', ['public.t'], [], 'present')],
  ],
  ['EXPLAIN (ANALYZE true) SELECT f()', [op('explain', [], ['f']), op('select', [], ['f'])]],
  ['EXPLAIN (ANALYZE false) DELETE FROM users', [op('explain', ['public.users'])]],
  ['EXPLAIN (ANALYZE off) DELETE FROM users', [op('explain', ['public.users'])]],
  ['EXPLAIN (ANALYZE 0) DELETE FROM users', [op('explain', ['public.users'])]],
  [
    'EXPLAIN (ANALYZE 1) DELETE FROM users',
    [op('explain', ['public.users']), op('delete', ['public.users'], [], 'absent')],
  ],
  ['EXPLAIN (VERBOSE) DELETE FROM users', [op('explain', ['public.users'])]],
  [
    'EXPLAIN ANALYZE WITH d AS (DELETE FROM a RETURNING *) SELECT * FROM d',
    [op('explain', ['public.a']), op('select', ['public.a']), op('delete', ['public.a'], [], 'absent')],
  ],
  ['EXPLAIN WITH d AS (DELETE FROM a RETURNING *) SELECT * FROM d', [op('explain', ['public.a'])]],
  [
    'PREPARE wipe AS DELETE FROM users; EXECUTE wipe',
    [
      op('prepare', ['public.users']),
      op('delete', ['public.users'], [], 'absent'),
      op('execute', ['public.users']),
      op('delete', ['public.users'], [], 'absent'),
    ],
  ],
  [
    'CREATE TABLE copy AS SELECT * FROM users',
    [op('create', ['public.copy', 'public.users']), op('select', ['public.users'])],
  ],
  [
    'CREATE TEMP TABLE x AS WITH d AS (DELETE FROM a RETURNING *) SELECT * FROM d',
    [
      op('create', ['public.x', 'public.a']),
      op('select', ['public.a']),
      op('delete', ['public.a'], [], 'absent'),
    ],
  ],
  [
    'SELECT * INTO backup FROM users WHERE id > 1',
    [op('create', ['public.backup', 'public.users']), op('select', ['public.users'])],
  ],
  [
    'COPY (SELECT email FROM users) TO STDOUT',
    [op('copy', ['public.users']), op('select', ['public.users'])],
  ],
  [
    'COPY (DELETE FROM users RETURNING *) TO STDOUT',
    [op('copy', ['public.users']), op('delete', ['public.users'], [], 'absent')],
  ],
  ['DECLARE c CURSOR WITH HOLD FOR SELECT * FROM users', [op('select', ['public.users'])]],
  [
    'CREATE VIEW v AS SELECT u.id, f(u.x) FROM users u JOIN secrets s USING (id)',
    [op('create', ['public.v', 'public.users', 'public.secrets'], ['f'])],
  ],
  [
    // A rule's actions run whenever its event does, under statements that name only v: judged now.
    'CREATE RULE r AS ON INSERT TO v DO INSTEAD DELETE FROM users',
    [op('create', ['public.v', 'public.users']), op('delete', ['public.users'], [], 'absent')],
  ],
  [
    'CREATE FUNCTION wipe() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM users; END',
    [op('create', ['public.users']), op('delete', ['public.users'], [], 'absent')],
  ],
  // A body given as a string is judged when created: a later call names only the function.
  ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", [op('create'), op('select')]],
  [
    'CREATE PROCEDURE p() LANGUAGE sql AS $$ DELETE FROM users $$',
    [op('create', ['public.users']), op('delete', ['public.users'], [], 'absent')],
  ],
  [
    'CREATE SCHEMA app CREATE TABLE t (id int) CREATE VIEW v AS SELECT * FROM t GRANT SELECT ON t TO bob',
    [
      op('create', ['app.t', 'app.v']),
      op('create', ['app.t']),
      op('create', ['app.v', 'app.t']),
      op('grant', ['app.t']),
    ],
  ],
  ['CREATE POLICY p ON users USING (owner = current_user AND f())', [op('create', ['public.users'], ['f'])]],
  [
    'CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW WHEN (OLD.x IS DISTINCT FROM g(NEW.x)) EXECUTE FUNCTION trg()',
    [op('create', ['public.users'], ['trg', 'g'])],
  ],
]

describe('postgres analysis: nested statements', () => {
  it.each(NESTED)('%s', (sql, expected) => {
    expect(operations(sql)).toEqual(expected)
  })
})

/** Relations and functions wherever they appear. */
const REFERENCES: [string, string[], string[]][] = [
  [
    'SELECT * FROM a WHERE id IN (SELECT id FROM b WHERE EXISTS (SELECT 1 FROM c))',
    ['public.a', 'public.b', 'public.c'],
    [],
  ],
  ['SELECT (SELECT max(x) FROM a) FROM b', ['public.a', 'public.b'], ['max']],
  ['SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.id = a.id) l', ['public.a', 'public.b'], []],
  ['SELECT * FROM a, LATERAL f(a.x) g', ['public.a'], ['f']],
  ['SELECT * FROM ROWS FROM (generate_series(1, 2), app.g(3)) r', [], ['generate_series', 'app.g']],
  [
    'SELECT 1 UNION SELECT x FROM b INTERSECT SELECT y FROM c EXCEPT SELECT z FROM d',
    ['public.b', 'public.c', 'public.d'],
    [],
  ],
  ['SELECT * FROM a JOIN b USING (id) LEFT JOIN c ON c.id = a.id', ['public.a', 'public.b', 'public.c'], []],
  ['DELETE FROM a USING b WHERE a.id = b.id', ['public.a', 'public.b'], []],
  ['UPDATE a SET x = b.x FROM b WHERE a.id = b.id', ['public.a', 'public.b'], []],
  ['INSERT INTO a SELECT * FROM b', ['public.a', 'public.b'], []],
  [
    "INSERT INTO a VALUES (nextval('s'), crypt($1, gen_salt('bf')))",
    ['public.a'],
    ['nextval', 'crypt', 'gen_salt'],
  ],
  ['SELECT count(*) FILTER (WHERE f(x)) OVER (PARTITION BY g(y)) FROM t', ['public.t'], ['count', 'f', 'g']],
  ["SELECT string_agg(x, ',' ORDER BY lower(x)) FROM t", ['public.t'], ['string_agg', 'lower']],
  [
    'CREATE TABLE t (a int DEFAULT app.next_id(), b int CHECK (b > lim()))',
    ['public.t'],
    ['app.next_id', 'lim'],
  ],
  ['CREATE TABLE t (LIKE src INCLUDING ALL)', ['public.t', 'public.src'], []],
  ['CREATE TABLE t (id int REFERENCES parent (id))', ['public.t', 'public.parent'], []],
  ['CREATE TABLE p1 PARTITION OF parent FOR VALUES FROM (1) TO (10)', ['public.p1', 'public.parent'], []],
  ['CREATE TABLE c () INHERITS (parent)', ['public.c', 'public.parent'], []],
  ['ALTER TABLE p ATTACH PARTITION s.p2 FOR VALUES IN (2)', ['public.p', 's.p2'], []],
  ['SELECT * FROM mydb.app.users', ['app.users'], []],
  [
    'SELECT * FROM pg_class, pg_catalog.pg_namespace, information_schema.tables',
    ['pg_catalog.pg_class', 'pg_catalog.pg_namespace', 'information_schema.tables'],
    [],
  ],
  ['SELECT * FROM "Users", users, "USERS"', ['public.Users', 'public.users', 'public.USERS'], []],
  ['SELECT * FROM ONLY a, b *', ['public.a', 'public.b'], []],
  ['SELECT * FROM a TABLESAMPLE bernoulli (10)', ['public.a'], []],
  ['SELECT a.* FROM a, a AS a2, public.a', ['public.a'], []],
  ["SELECT x::regclass, 'users'::regclass, 'now'::regproc FROM t", ['public.t'], []],
  ['SELECT CAST(x AS int), x::text FROM t', ['public.t'], []],
  [
    "SELECT extract(year FROM now()), substring('abc' FROM 1 FOR 2), trim('x')",
    [],
    ['pg_catalog.extract', 'now', 'pg_catalog.substring', 'pg_catalog.btrim'],
  ],
  ["SELECT * FROM xmltable('/a' PASSING (SELECT x FROM docs) COLUMNS id int)", ['public.docs'], []],
  [
    "SELECT * FROM json_table((SELECT j FROM docs), '$[*]' COLUMNS (id int PATH '$.id'))",
    ['public.docs'],
    [],
  ],
  ["SELECT * FROM dblink('dbname=x', 'select 1') AS t(a int)", [], ['dblink']],
  // dblink's text is judged as a statement: it may run on this database.
  ["SELECT dblink_exec('host=evil', 'DROP TABLE users')", ['public.users'], ['dblink_exec']],
  ["SELECT lo_import('/etc/passwd'), lo_export(1, '/tmp/x')", [], ['lo_import', 'lo_export']],
  [
    "SELECT pg_catalog.pg_read_file('/etc/passwd'), PG_READ_BINARY_FILE('x')",
    [],
    ['pg_catalog.pg_read_file', 'pg_read_binary_file'],
  ],
  ['SELECT "PG_READ_FILE"(\'x\')', [], ['pg_read_file']],
  ['SELECT f(g(h(1)))', [], ['f', 'g', 'h']],
  ['SELECT * FROM (SELECT * FROM (SELECT f() FROM deep) x) y', ['public.deep'], ['f']],
  [
    'SELECT ARRAY(SELECT id FROM a), CASE WHEN EXISTS (SELECT 1 FROM b) THEN g() END',
    ['public.a', 'public.b'],
    ['g'],
  ],
  [
    'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = (SELECT max(n) FROM other)',
    ['public.t', 'public.other'],
    ['max'],
  ],
  ['DELETE FROM t WHERE id = 1 RETURNING (SELECT f() FROM audit)', ['public.t', 'public.audit'], ['f']],
  ['GRANT SELECT ON TABLE a TO bob', ['public.a'], []],
  ['ALTER SEQUENCE s OWNED BY app.t.c', ['public.s', 'app.t'], []],
  ['CREATE SEQUENCE s OWNED BY t.c', ['public.s', 'public.t'], []],
  ['ALTER SEQUENCE s OWNED BY NONE', ['public.s'], []],
  ['SELECT * FROM a FOR UPDATE OF a SKIP LOCKED', ['public.a'], []],
  ['SELECT pg_sleep(1)', [], ['pg_sleep']],
]

describe('postgres analysis: relations and functions anywhere', () => {
  it.each(REFERENCES)('%s', (sql, tables, functions) => {
    const ops = operations(sql)
    expect(ops[0]?.tables).toEqual(tables)
    expect(ops[0]?.functions).toEqual(functions)
  })
})

/** A CTE hides a table of its name only where PostgreSQL has it in scope. */
const CTE_SCOPES: [string, string[]][] = [
  ['WITH users AS (SELECT 1) SELECT * FROM users', []],
  ['WITH users AS (SELECT * FROM users) SELECT * FROM users', ['public.users']],
  ['WITH users AS (SELECT 1) SELECT * FROM public.users', ['public.users']],
  ['WITH users AS (SELECT 1) DELETE FROM users', ['public.users']],
  ['WITH users AS (SELECT 1) INSERT INTO users SELECT * FROM users', ['public.users']],
  ['WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b', ['public.b']],
  ['WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a', []],
  ['SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) x, users', ['public.users']],
  ['(WITH t AS (SELECT 1) SELECT * FROM t) UNION SELECT * FROM t', ['public.t']],
  ['WITH t AS (SELECT 1) SELECT * FROM t UNION SELECT * FROM t', []],
  ['WITH t AS (SELECT 1) SELECT (SELECT count(*) FROM t) FROM x', ['public.x']],
  ['WITH t AS (SELECT 1) UPDATE x SET a = 1 FROM t', ['public.x']],
  ['WITH s AS (SELECT 1 AS id) MERGE INTO s USING s ON true WHEN MATCHED THEN DELETE', ['public.s']],
  ['WITH "Users" AS (SELECT 1) SELECT * FROM users', ['public.users']],
]

describe('postgres analysis: CTE scopes', () => {
  it.each(CTE_SCOPES)('%s', (sql, tables) => {
    expect(operations(sql)[0]?.tables).toEqual(tables)
  })
})

describe('postgres analysis: names', () => {
  it('resolves unqualified names to the session schema, pg_ names to pg_catalog', () => {
    const a = analyzePostgres('SELECT * FROM users, pg_user, s.t', {defaultSchema: 'app'})
    expect(a.ok && a.operations[0]?.tables).toEqual(['app.users', 'pg_catalog.pg_user', 's.t'])
  })

  it('decodes unicode-escaped identifiers and keeps quoted case', () => {
    expect(operations('SELECT * FROM U&"\\0075sers"')[0]?.tables).toEqual(['public.users'])
    expect(operations('SELECT * FROM U&"!0055sers" UESCAPE \'!\'')[0]?.tables).toEqual(['public.Users'])
    expect(operations('SELECT * FROM "public"."users"')[0]?.tables).toEqual(['public.users'])
    expect(operations('SELECT * FROM PUBLIC.USERS')[0]?.tables).toEqual(['public.users'])
    expect(operations('SELECT * FROM "PUBLIC"."USERS"')[0]?.tables).toEqual(['PUBLIC.USERS'])
  })
})

describe('postgres analysis: prepared statements', () => {
  it('returns what PREPARE prepares and what DEALLOCATE forgets', () => {
    const a = analyzePostgres(
      'PREPARE a AS DELETE FROM t WHERE id = $1; PREPARE b AS SELECT 1; DEALLOCATE b',
      ctx,
    )
    expect(a.ok).toBe(true)
    if (!a.ok) return
    expect(a.prepares).toEqual([
      {
        name: 'a',
        operations: [{...op('delete', ['public.t'], [], 'present'), unqualified: [['public.t', 't', false]]}],
      },
    ])
    expect(a.deallocates).toEqual(['b'])
    expect(a.statements).toBe(3)
  })

  it('reports DEALLOCATE ALL', () => {
    const a = analyzePostgres('DEALLOCATE ALL', ctx)
    expect(a.ok && a.deallocates).toBe('all')
  })

  it('judges EXECUTE by what the session prepared earlier', () => {
    const prepared = new Map([['wipe', [op('delete', ['public.users'], [], 'absent')]]])
    const a = analyzePostgres('EXECUTE wipe', {defaultSchema: 'public', prepared})
    expect(a.ok && a.operations).toEqual([
      op('execute', ['public.users']),
      op('delete', ['public.users'], [], 'absent'),
    ])
  })

  it('passes EXECUTE parameters through the walker', () => {
    const prepared = new Map([['p', [op('select', ['public.t'])]]])
    const a = analyzePostgres("EXECUTE p(pg_read_file('/etc/passwd'))", {defaultSchema: 'public', prepared})
    expect(a.ok && a.operations[0]).toEqual(op('execute', ['public.t'], ['pg_read_file']))
  })

  it('fails closed on EXECUTE of an unknown statement', () => {
    for (const sql of [
      'EXECUTE nope',
      'EXPLAIN ANALYZE EXECUTE nope',
      'CREATE TABLE x AS EXECUTE nope',
      'PREPARE p AS SELECT 1; DEALLOCATE p; EXECUTE p',
    ]) {
      const a = analyzePostgres(sql, ctx)
      expect(a.ok, sql).toBe(false)
      expect(!a.ok && a.error).toContain('EXECUTE of a prepared statement the guard has not seen')
    }
  })

  it('forgets session statements after DEALLOCATE ALL', () => {
    const prepared = new Map([['p', [op('select')]]])
    const a = analyzePostgres('DEALLOCATE ALL; EXECUTE p', {defaultSchema: 'public', prepared})
    expect(a.ok).toBe(false)
  })

  it('lets a later PREPARE of the same query replace the session one', () => {
    const prepared = new Map([['p', [op('select')]]])
    const a = analyzePostgres('DEALLOCATE p; PREPARE p AS DELETE FROM t; EXECUTE p', {
      defaultSchema: 'public',
      prepared,
    })
    expect(a.ok && a.operations.map((o) => o.kind)).toEqual([
      'deallocate',
      'prepare',
      'delete',
      'execute',
      'delete',
    ])
    expect(a.ok && a.deallocates).toEqual([])
    expect(a.ok && a.prepares.map((p) => p.name)).toEqual(['p'])
  })
})
