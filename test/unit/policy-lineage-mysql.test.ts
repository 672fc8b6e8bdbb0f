import {describe, expect, it} from 'vitest'

import {CHECKED, CONDITION, DELAY, FAILS, ORDER, SHARED_BY} from '../../src/policy/index.js'
import {lineageMysql, type MysqlLineageResult} from '../../src/policy/lineage/mysql.js'
import type {MysqlCatalogView} from '../../src/policy/lineage/mysql-query.js'

const TABLES: Record<string, string[]> = {
  'app.users': ['id', 'name', 'email', 'ssn'],
  'app.orders': ['id', 'user_id', 'total'],
  'other.people': ['id', 'email'],
}
const VIEWS: Record<string, string> = {
  'app.v_users':
    'select `app`.`users`.`id` AS `id`,`app`.`users`.`email` AS `mail`,lcase(`app`.`users`.`email`) AS `le` from `app`.`users`',
  'app.v_nested': 'select `v`.`id` AS `id`,`v`.`mail` AS `mail` from `app`.`v_users` `v`',
  'app.v_hidden': '',
  // The server writes a stored function's name quoted in a view, a built-in's bare.
  'app.v_code': 'select `app`.`users`.`id` AS `id`,`stash`(`app`.`users`.`id`) AS `s` from `app`.`users`',
  'app.v_builtin': 'select curdate() AS `d`,`app`.`users`.`id` AS `id` from `app`.`users`',
}

function catalog(extra: Partial<MysqlCatalogView> = {}): MysqlCatalogView {
  return {
    columns: (s, t) => TABLES[`${s}.${t}`],
    viewDefinition: (s, t) => VIEWS[`${s}.${t}`],
    notView: (_s, _t, inView) => inView,
    ...extra,
  }
}

function ok(r: MysqlLineageResult): Extract<MysqlLineageResult, {ok: true}> {
  if (!r.ok) throw new Error(r.error)
  return r
}

/** Sources of each output column of the first statement; `?` marks an opaque column. */
function sources(sql: string, cat = catalog()): string[][] | null {
  const l = ok(lineageMysql(sql, cat, 'app')).statements[0]
  if (l === undefined || l.columns === null) return null
  return l.columns.map((c) => (c.opaque ? ['?', ...c.sources] : [...c.sources]))
}

/** A write through a named pseudo-target: what follows the prefix, what it reads, and whether that is untraced. */
type Through = [string, readonly string[], boolean]

/** The writes of a statement whose target starts with `prefix` (SHARED_BY, DELAY). */
function through(prefix: string, sql: string): Through[] {
  return ok(lineageMysql(sql, catalog(), 'app'))
    .effects.flat()
    .flatMap((e): Through[] =>
      e.kind === 'write' && e.table.startsWith(prefix)
        ? [[e.table.slice(prefix.length), e.reads, e.unknown]]
        : [],
    )
}

describe('MySQL lineage', () => {
  it.each([
    ['SELECT LOWER(email), id FROM users', [['app.users.email'], ['app.users.id']]],
    ["SELECT CONCAT(name, '-', ssn) FROM users u", [['app.users.name', 'app.users.ssn']]],
    ["SELECT JSON_OBJECT('e', email) FROM users", [['app.users.email']]],
    ["SELECT GROUP_CONCAT(email SEPARATOR ',') FROM users", [['app.users.email']]],
    [
      'SELECT CAST(ssn AS CHAR), CONVERT(email USING utf8mb4) FROM users',
      [['app.users.ssn'], ['app.users.email']],
    ],
    [
      'SELECT CASE WHEN id > 1 THEN email ELSE name END FROM users',
      [['app.users.email', 'app.users.id', 'app.users.name']],
    ],
    ['SELECT (SELECT email FROM users LIMIT 1) AS e', [['app.users.email']]],
    ['SELECT x.e FROM (SELECT email AS e FROM users) x', [['app.users.email']]],
    [
      'SELECT * FROM (SELECT * FROM users) t',
      [['app.users.id'], ['app.users.name'], ['app.users.email'], ['app.users.ssn']],
    ],
    ['WITH c(e) AS (SELECT ssn FROM users) SELECT UPPER(e) FROM c', [['app.users.ssn']]],
    ['SELECT id FROM users UNION SELECT ssn FROM users', [['app.users.id', 'app.users.ssn']]],
    [
      'SELECT u.email, o.total FROM users u JOIN orders o ON o.user_id = u.id',
      [['app.users.email'], ['app.orders.total']],
    ],
    ['SELECT p.email FROM other.people p', [['other.people.email']]],
    ['SELECT * FROM v_users', [['app.users.id'], ['app.users.email'], ['app.users.email']]],
    ['SELECT mail FROM v_nested', [['app.users.email']]],
  ])('%s', (sql, expected) => {
    expect(sources(sql)).toEqual(expected)
  })

  it('does not count columns that only filter', () => {
    expect(sources("SELECT id FROM users WHERE email LIKE 'a%' AND ssn IN (SELECT ssn FROM users)")).toEqual([
      ['app.users.id'],
    ])
    expect(
      sources('SELECT total FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)'),
    ).toEqual([['app.orders.total']])
  })

  it('makes user variables, stored functions and unreadable views opaque, and their reads unknown', () => {
    for (const sql of ['SELECT @e', 'SELECT my_func(id) FROM users', 'SELECT * FROM v_hidden']) {
      const l = ok(lineageMysql(sql, catalog(), 'app')).statements[0]
      expect(l?.readsUnknown, sql).toBe(true)
      expect(l?.columns == null || l.columns.some((c) => c.opaque), sql).toBe(true)
    }
    // A system variable is not a place a statement can stash a value.
    expect(sources('SELECT @@version_comment LIMIT 1')).toEqual([[]])
  })

  it('marks statements that certainly run stored code: CALL, qualified or quoted calls, views calling one', () => {
    const runs = (sql: string): boolean[] =>
      ok(lineageMysql(sql, catalog(), 'app')).statements.map((l) => l.runsCode === true)
    expect(runs('CALL p()')).toEqual([true])
    expect(runs('CALL app.p(@o); SELECT @o')).toEqual([true, false])
    expect(runs('SELECT app.f(id) FROM users')).toEqual([true])
    expect(runs('SELECT `f`(id) FROM users')).toEqual([true])
    expect(runs('SELECT * FROM v_code')).toEqual([true])
    expect(runs("PREPARE s FROM 'CALL p()'; EXECUTE s")).toEqual([false, true])
    // Unquoted unqualified names are for the proxy to look up; built-ins and plain views run nothing.
    expect(runs('SELECT my_func(id), LOWER(name) FROM users')).toEqual([false])
    expect(runs('SELECT * FROM v_builtin; SELECT * FROM v_users')).toEqual([false, false])
  })

  it('reads a relation of unknown columns by name only when it cannot be a view', () => {
    const unknown = catalog({columns: () => undefined, viewDefinition: () => undefined, notView: () => false})
    expect(sources('SELECT email FROM tmp', unknown)).toEqual([['?']])
    const temp = catalog({columns: () => undefined, viewDefinition: () => undefined, notView: () => true})
    expect(sources('SELECT email FROM tmp', temp)).toEqual([['app.tmp.email']])
  })

  it('merges the readings of executable comments', () => {
    const s = sources('SELECT 1 /*!50000 , (SELECT ssn FROM users) */')
    expect(s).toEqual([['?', 'app.users.ssn']])
  })

  it('gives one lineage per statement, and follows USE', () => {
    const r = ok(
      lineageMysql('SELECT email FROM users; USE other; SELECT email FROM people', catalog(), 'app'),
    )
    expect(r.statements.map((l) => l.columns?.map((c) => c.sources))).toEqual([
      [['app.users.email']],
      undefined,
      [['other.people.email']],
    ])
  })

  it('marks statements that show diagnostics, and those with no table data', () => {
    const r = ok(
      lineageMysql('SHOW WARNINGS; SHOW TABLES; SELECT email INTO @e FROM users', catalog(), 'app'),
    )
    expect(r.statements.map((l) => [l.diagnostics, l.columns, l.readsUnknown])).toEqual([
      [true, null, false],
      [false, null, false],
      [false, [], false],
    ])
    expect(ok(lineageMysql('CALL p()', catalog(), 'app')).statements[0]?.readsUnknown).toBe(true)
    expect(ok(lineageMysql('EXECUTE s', catalog(), 'app')).statements[0]?.readsUnknown).toBe(true)
  })

  it('gives a plan the reads of the statement it explains, and leaves DESCRIBE of a table alone', () => {
    for (const sql of [
      'EXPLAIN EXTENDED SELECT id FROM users WHERE id = 1',
      'ANALYZE FORMAT=JSON SELECT 1 FROM users',
    ]) {
      const l = ok(lineageMysql(sql, catalog(), 'app')).statements[0]
      expect(l?.columns, sql).toBeNull()
      expect(l?.reads, sql).toContain('app.users.ssn')
    }
    for (const sql of ['DESCRIBE users', 'ANALYZE TABLE users', 'EXPLAIN users'])
      expect(ok(lineageMysql(sql, catalog(), 'app')).statements[0], sql).toMatchObject({
        reads: [],
        readsUnknown: false,
      })
  })

  it('follows SQL-level PREPARE and EXECUTE', () => {
    const r = ok(
      lineageMysql("PREPARE s FROM 'SELECT LOWER(email) FROM users'; EXECUTE s; EXECUTE t", catalog(), 'app'),
    )
    expect(r.statements.map((l) => l.columns?.map((c) => c.sources) ?? l.readsUnknown)).toEqual([
      false,
      [['app.users.email']],
      true,
    ])
    expect(r.effects[0]).toEqual([expect.objectContaining({kind: 'prepare', name: 's'})])
    const prepared = new Map([['s', {...r.statements[1]!, diagnostics: false}]])
    const later = ok(
      lineageMysql('EXECUTE S USING @a; DEALLOCATE PREPARE s; EXECUTE s', catalog(), 'app', prepared),
    )
    // USING @a: the variable may hold anything the session read, and a `?` column may show it.
    expect(later.statements.map((l) => l.readsUnknown)).toEqual([true, false, true])
    expect(later.statements[0]?.columns?.map((c) => c.opaque)).toEqual([true])
  })

  it('reads text run at once (EXECUTE IMMEDIATE, sys.execute_prepared_stmt) as the statement it holds', () => {
    const rows = (sql: string): (readonly string[] | boolean)[] | undefined =>
      ok(lineageMysql(sql, catalog(), 'app')).statements[0]?.columns?.map((c) => c.opaque || c.sources)
    expect(rows("EXECUTE IMMEDIATE 'SELECT LOWER(email) FROM users'")).toEqual([['app.users.email']])
    // A value passed with USING may be anything the session read.
    expect(rows("EXECUTE IMMEDIATE 'SELECT ?, id FROM users' USING @a")).toEqual([true, true])
    // The procedure runs its text in sys: a table named without its database is sys's, unknown here.
    expect(rows("CALL sys.execute_prepared_stmt('SELECT email FROM app.users')")).toEqual([
      ['app.users.email'],
    ])
    expect(
      ok(lineageMysql("CALL execute_prepared_stmt('SELECT email FROM users')", catalog(), 'app'))
        .statements[0]?.readsUnknown,
    ).toBe(true)
  })

  it('a function lineage cannot follow keeps the columns its arguments name, in any clause', () => {
    const kept = (sql: string): Through[] => through(SHARED_BY, sql)
    expect(kept('SELECT stash(email) FROM users')).toEqual([['stash()', ['app.users.email'], false]])
    expect(kept('SELECT id FROM users u WHERE app.stash(u.ssn) > 0')).toEqual([
      ['app.stash()', ['app.users.ssn'], false],
    ])
    expect(kept('SELECT GET_LOCK(email, 0) FROM users')).toEqual([['get_lock()', ['app.users.email'], false]])
    // A subquery passes every column of what it reads; a user variable, anything the session read.
    expect(kept('SELECT stash((SELECT MAX(ssn) FROM users))')[0]?.[1]).toHaveLength(4)
    expect(kept('SELECT stash(@v)')).toEqual([['stash()', [], true]])
    // What a subquery in the WHERE reads counts, though the statement returns none of it.
    expect(
      kept('SELECT id FROM orders WHERE stash((SELECT ssn FROM users LIMIT 1)) IS NULL')[0]?.[1],
    ).toEqual(expect.arrayContaining(['app.users.ssn']))
    expect(kept('SELECT id FROM orders o WHERE o.id IN (SELECT 1 FROM users WHERE stash(ssn) > 0)')).toEqual([
      ['stash()', ['app.users.ssn'], false],
    ])
    // DO evaluates its expressions as a SELECT does.
    expect(kept('DO stash((SELECT ssn FROM users LIMIT 1))')[0]?.[1]).toEqual(
      expect.arrayContaining(['app.users.ssn']),
    )
    expect(kept('DO SLEEP(0), RELEASE_LOCK(1)')).toEqual([])
    // EXISTS and ANY are keywords, not calls.
    expect(
      kept('SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)'),
    ).toEqual([])
    expect(kept('SELECT id FROM orders WHERE user_id = ANY (SELECT id FROM users)')).toEqual([])
    // Built-ins lineage follows keep nothing; nor do constants.
    expect(kept("SELECT LOWER(email), GROUP_CONCAT(ssn), CONCAT(name, '-') FROM users")).toEqual([])
    expect(kept("SELECT stash('x'), SLEEP(0)")).toEqual([])
  })

  it('reports tables filled from what a statement reads', () => {
    const r = ok(lineageMysql('CREATE TEMPORARY TABLE t AS SELECT email FROM users', catalog(), 'app'))
    expect(r.effects[0]).toEqual([expect.objectContaining({kind: 'write', table: 'app.t'})])
    const i = ok(lineageMysql('INSERT INTO orders (id, total) SELECT id, ssn FROM users', catalog(), 'app'))
    expect(i.effects[0]?.[0]).toMatchObject({kind: 'write', table: 'app.orders'})
    expect(i.effects[0]?.[0]).toHaveProperty('reads', expect.arrayContaining(['app.users.ssn']))
    expect(ok(lineageMysql('INSERT INTO orders VALUES (1, 2, 3)', catalog(), 'app')).effects[0]).toEqual([])
  })

  it("reports what MariaDB's ANALYZE of a write stores (it runs the statement), and nothing of EXPLAIN's", () => {
    for (const sql of [
      'ANALYZE UPDATE orders, users SET orders.total = LENGTH(users.ssn)',
      'ANALYZE FORMAT=JSON INSERT INTO orders (id, total) SELECT id, ssn FROM users',
    ]) {
      const writes = ok(lineageMysql(sql, catalog(), 'app'))
        .effects.flat()
        .filter((e) => e.kind === 'write' && e.table === 'app.orders')
      expect(writes, sql).toEqual([
        expect.objectContaining({reads: expect.arrayContaining(['app.users.ssn'])}),
      ])
    }
    const plan = ok(
      lineageMysql('EXPLAIN UPDATE orders, users SET orders.total = LENGTH(users.ssn)', catalog(), 'app'),
    )
    expect(plan.effects.flat().filter((e) => e.kind === 'write' && e.table === 'app.orders')).toEqual([])
  })

  it('fails, never throws, on what it cannot read', () => {
    expect(lineageMysql("SELECT 'unterminated", catalog(), 'app').ok).toBe(false)
    // Nested past what the parser reads: rows of unknown lineage, not an exception.
    const deep = lineageMysql('SELECT ' + '('.repeat(5000) + '1' + ')'.repeat(5000), catalog(), 'app')
    expect(deep.ok ? deep.statements[0]?.readsUnknown : true).toBe(true)
    // Parsed by neither grammar: rows of unknown lineage.
    expect(
      ok(lineageMysql('SELECT email FROM users PROCEDURE ANALYSE()', catalog(), 'app')).statements[0],
    ).toMatchObject({
      columns: null,
      readsUnknown: true,
    })
  })
})

describe('what the conditions of a MySQL statement compute from', () => {
  /** `CONDITION<-sources` (`?` when untraced) and `compared table.column<-sources` for each effect of conditions. */
  /** What the statement's computations that can fail or warn for some inputs read (`?` when untraced). */
  function fails(sql: string): string {
    const e = ok(lineageMysql(sql, catalog(), 'app'))
      .effects.flat()
      .find((x) => x.kind === 'write' && x.table === FAILS)
    return e?.kind === 'write' ? `${e.unknown ? '? ' : ''}${e.reads.join(' ')}`.trimEnd() : ''
  }

  it.each([
    // A warning (its count is the client's) or an error answers a question about the value.
    ['SELECT id, ssn + 0 FROM users', 'app.users.ssn'],
    ['SELECT CAST(email AS SIGNED), CAST(ssn AS CHAR(3)) FROM users', 'app.users.email app.users.ssn'],
    [
      "SELECT STR_TO_DATE(CONCAT('2020-', ASCII(email) - 96, '-01'), '%Y-%m-%d') FROM users",
      'app.users.email',
    ],
    ['SELECT ASCII(email) * 9223372036854775807 FROM users WHERE id = 1', 'app.users.email app.users.id'],
    ['SELECT 1 DIV (ASCII(email) - 97), MOD(1, LENGTH(ssn)) FROM users', 'app.users.email app.users.ssn'],
    ['SELECT ssn > 219, NOT email, -ssn FROM users', 'app.users.email app.users.ssn'],
    ["SELECT 'x' REGEXP email FROM users", 'app.users.email'],
    // Past max_allowed_packet a joined string is NULL with a warning: its length shows the value's.
    ["SELECT CONCAT(email, REPEAT('x', 16777200)) FROM users", 'app.users.email'],
    ["SELECT REPLACE(SUBSTR(email, 1, 1), 'a', REPEAT('x', 16777216)) FROM users", 'app.users.email'],
    ['SELECT CONCAT_WS(id, ssn) FROM users', 'app.users.id app.users.ssn'],
    ['SELECT CONCAT(email, ssn) FROM users', 'app.users.email app.users.ssn'],
    ['SELECT email = ssn FROM users', 'app.users.email app.users.ssn'],
    ['SELECT email AND 1 FROM users', 'app.users.email'],
    ['SELECT REPEAT(email, 100000000), SUM(ssn) FROM users', 'app.users.email app.users.ssn'],
    ['SELECT DATE_ADD(NOW(), INTERVAL ssn DAY) FROM users', 'app.users.ssn'],
    ['SELECT app.stash(email) FROM users', 'app.users.email'],
    // Cut at group_concat_max_len with a warning: whether it warns shows the values' length.
    ["SELECT GROUP_CONCAT(REPLACE(SUBSTR(email, 1, 1), 'a', 'xxxxxxxx')) FROM users", 'app.users.email'],
    [
      "SELECT GROUP_CONCAT(DISTINCT name, ssn SEPARATOR ';'), GROUP_CONCAT(id) FROM users",
      'app.users.id app.users.name app.users.ssn',
    ],
    ['SELECT JSON_ARRAYAGG(email) FROM users', 'app.users.email'],
  ])('a computation that fails or warns for some inputs: %s', (sql, reads) => {
    expect(fails(sql)).toBe(reads)
  })

  it.each([
    // A temporary table with its own columns may refuse some values (CHECK, UNIQUE, a length).
    [
      "CREATE TEMPORARY TABLE t (c CHAR(1), CHECK (c < 'm')) SELECT SUBSTR(email, 1, 1) AS c FROM users",
      'app.users.email',
    ],
    // So may a stored table's column: CONCAT(email, REPEAT('x', 90)) is too long for VARCHAR(100).
    ["UPDATE users SET email = CONCAT(email, REPEAT('x', 90)) WHERE id = 1", 'app.users.email'],
    ['UPDATE users SET ssn = LOWER(ssn), email = email', 'app.users.ssn'],
    ['INSERT INTO users (id, ssn) SELECT id + 10, email FROM users', 'app.users.email app.users.id'],
    ['UPDATE users u JOIN users v ON v.id = u.id + 1 SET u.ssn = v.email', 'app.users.email'],
    [
      'INSERT INTO users (id, email) VALUES (3, 4) ON DUPLICATE KEY UPDATE email = UPPER(email)',
      'app.users.email',
    ],
    // A column's own value stored back whole passed its checks already.
    ['UPDATE users SET email = email, ssn = ssn WHERE id = 1', ''],
    // (id + 10 is checked, but no rule masks id.)
    ['INSERT INTO users (id, email, ssn) SELECT id + 10, email, ssn FROM users', 'app.users.id'],
    ["UPDATE users u JOIN users v ON v.id = u.id + 1 SET u.email = v.email, u.name = 'x'", ''],
  ])('a write whose target may refuse what it stores: %s', (sql, reads) => {
    const e = ok(lineageMysql(sql, catalog(), 'app'))
      .effects.flat()
      .find((x) => x.kind === 'write' && x.table === CHECKED)
    const checked = e?.kind === 'write' ? `${e.unknown ? '? ' : ''}${e.reads.join(' ')}`.trimEnd() : ''
    expect(checked).toBe(reads)
  })

  it.each([
    'SELECT LOWER(email), UPPER(ssn), LENGTH(email), MD5(ssn), ASCII(email), HEX(ssn) FROM users',
    "SELECT SUBSTR(email, 2, 3), LEFT(ssn, 3), LPAD(ssn, 20, '*'), SUBSTRING_INDEX(email, '@', -1) FROM users",
    "SELECT CONCAT(email, '@'), CONCAT_WS(' ', email, 1), CAST(email AS CHAR), COALESCE(email, 'x') FROM users",
    "SELECT REPLACE(email, 'a', 'b'), INSERT(ssn, 1, 2, 'xx') FROM users",
    "SELECT email LIKE 'a%', email = 'x', email IN ('a', 'b'), email IS NULL, email REGEXP 'a' FROM users",
    "SELECT IF(id = '1', email, ssn), (id = '1') AND (ssn = 'x'), NOT (email = 'x') FROM users",
    "SELECT GROUP_CONCAT('x' ORDER BY email), COUNT(email), MAX(email), JSON_OBJECT('e', email) FROM users",
    "SELECT id FROM users WHERE email = 'a@x' OR ssn IN (?, 'x')",
    'CREATE TEMPORARY TABLE t SELECT email, ssn FROM users',
  ])('computations that cannot fail or warn: %s', (sql) => {
    expect(fails(sql)).toBe('')
  })

  function conditions(sql: string): string[] {
    return ok(lineageMysql(sql, catalog(), 'app'))
      .effects.flat()
      .flatMap((e) => {
        if (e.kind !== 'write') return []
        if (e.table === CONDITION)
          return [`CONDITION<-${e.unknown ? '? ' : ''}${e.reads.join(' ')}`.trimEnd()]
        if (e.table === ORDER) return [`ORDER<-${e.unknown ? '? ' : ''}${e.reads.join(' ')}`.trimEnd()]
        if (e.compared !== true) return []
        return (e.columns ?? []).map((c) => `compared ${e.table}.${c.name}<-${c.sources.join(' ')}`)
      })
  }

  it.each([
    ["SELECT id FROM users WHERE email LIKE 'a%'", ['CONDITION<-app.users.email']],
    // A number is no lookup (MySQL compares a string with it by its leading digits): harmless on `id`.
    ['SELECT id FROM users WHERE ASCII(ssn) > 50 AND id = 1', ['CONDITION<-app.users.id app.users.ssn']],
    ['SELECT id FROM users WHERE ssn = 219', ['CONDITION<-app.users.ssn']],
    [
      'SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id AND LENGTH(u.email) > 3',
      [
        'CONDITION<-app.users.email',
        'compared app.orders.user_id<-app.users.id',
        'compared app.users.id<-app.orders.user_id',
      ],
    ],
    [
      'SELECT COUNT(*) AS n FROM users GROUP BY name HAVING MAX(ssn) > ?',
      ['CONDITION<-app.users.ssn', 'ORDER<-app.users.name'],
    ],
    [
      'SELECT id FROM orders WHERE EXISTS (SELECT 1 FROM users WHERE email > ?)',
      ['CONDITION<-app.users.email'],
    ],
    [
      'SELECT id FROM orders INTERSECT SELECT ASCII(ssn) FROM users',
      ['CONDITION<-app.orders.id app.users.ssn', 'ORDER<-app.orders.id app.users.ssn'],
    ],
    [
      'UPDATE orders o JOIN users u ON u.id = o.user_id SET o.total = 1 WHERE u.ssn < ?',
      [
        'CONDITION<-app.users.ssn',
        'compared app.orders.user_id<-app.users.id',
        'compared app.users.id<-app.orders.user_id',
      ],
    ],
    [
      "DELETE FROM orders WHERE user_id IN (SELECT id FROM users WHERE email LIKE 'a%')",
      [
        'CONDITION<-app.users.email',
        'compared app.users.id<-app.orders.user_id',
        'compared app.orders.user_id<-app.users.id',
      ],
    ],
    ["INSERT INTO orders (id) SELECT id FROM users WHERE email LIKE 'a%'", ['CONDITION<-app.users.email']],
    ['SELECT id FROM users WHERE email = @v', ['CONDITION<-? app.users.email']],
    ["EXPLAIN SELECT id FROM users WHERE email > 'b'", ['CONDITION<-app.users.email']],
    // Lookups: a bare column compared by equality with supplied values, or IS NULL.
    ["SELECT id FROM users WHERE email = 'a@x' OR ssn IN (?, 'x') OR name IS NULL", []],
    ["SELECT name FROM v_users WHERE id <> '3'", []],
    // Columns compared with columns: judged as copies each way.
    [
      'SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id',
      ['compared app.orders.user_id<-app.users.id', 'compared app.users.id<-app.orders.user_id'],
    ],
    [
      'SELECT id FROM users u WHERE u.email IN (SELECT email FROM other.people)',
      ['compared other.people.email<-app.users.email', 'compared app.users.email<-other.people.email'],
    ],
    [
      'SELECT u.id FROM users u JOIN other.people p USING (email)',
      ['compared other.people.email<-app.users.email', 'compared app.users.email<-other.people.email'],
    ],
    // A lookup of a value computed from a column, passed on by a derived table, CTE or alias.
    [
      'SELECT COUNT(*) FROM (SELECT ASCII(email) AS a FROM users) t WHERE a = 97',
      ['CONDITION<-app.users.email'],
    ],
    ["WITH t AS (SELECT email AS e FROM users) SELECT COUNT(*) FROM t WHERE e = 'x'", []],
    ["SELECT COUNT(*) FROM (SELECT email FROM users UNION ALL SELECT 'x') t WHERE email = 'x'", []],
    ['SELECT ASCII(email) AS a FROM users HAVING a = 97', ['CONDITION<-app.users.email']],
    // A CASE's or IF's conditions, and a divisor: which way they went shows in an error or warning.
    [
      "SELECT CASE WHEN email > 'b' THEN 1 END, CASE ssn WHEN 'x' THEN 1 END FROM users",
      ['CONDITION<-app.users.email'],
    ],
    ["SELECT IF(ssn > 'b', 1, 2), 1 DIV (ASCII(email) - 97) FROM users", ['CONDITION<-app.users.ssn']],
    // What rows are sorted by: ORDER BY (by name, alias or position), GROUP BY, DISTINCT, UNION, windows.
    ['SELECT id FROM users ORDER BY email', ['ORDER<-app.users.email']],
    ['SELECT id, ssn AS s FROM users ORDER BY s, 1', ['ORDER<-app.users.id app.users.ssn']],
    ['SELECT name, COUNT(*) FROM users GROUP BY 1', ['ORDER<-app.users.name']],
    ['SELECT DISTINCT email FROM users', ['ORDER<-app.users.email']],
    ["SELECT email FROM users UNION SELECT 'x'", ['ORDER<-app.users.email']],
    ["SELECT email FROM users UNION ALL SELECT 'x'", []],
    ["SELECT id, email FROM users UNION ALL SELECT 0, 'x' ORDER BY 2", ['ORDER<-app.users.email']],
    [
      'SELECT RANK() OVER (PARTITION BY name ORDER BY ssn) FROM users',
      ['ORDER<-app.users.name app.users.ssn'],
    ],
    [
      'DELETE FROM users WHERE id > 0 ORDER BY email LIMIT 1',
      ['CONDITION<-app.users.id', 'ORDER<-app.users.email'],
    ],
  ])('%s', (sql, expected) => {
    expect(conditions(sql)).toEqual(expected)
  })

  it('a delay reports everything the statement reads, and what its variables may hold', () => {
    const delays = (sql: string): Through[] => through(DELAY, sql)
    expect(delays('SELECT IF(ASCII(email) > 100, SLEEP(1), 0) FROM users')).toEqual([
      ['sleep()', ['app.users.email', 'app.users.id', 'app.users.name', 'app.users.ssn'], false],
    ])
    expect(delays('SELECT BENCHMARK(10, @v)')).toEqual([['benchmark()', [], true]])
    expect(delays('SELECT SLEEP(1)')).toEqual([['sleep()', [], false]])
    expect(delays('SELECT id FROM orders')).toEqual([])
  })

  it('a prepared statement whose ? decides its rows, executed with variables, computes from what they hold', () => {
    const run = (sql: string): string[] =>
      ok(lineageMysql(sql, catalog(), 'app'))
        .effects.flat()
        .flatMap((e) => (e.kind === 'write' && e.table === CONDITION && e.unknown ? ['untraced'] : []))
    expect(run("PREPARE s FROM 'SELECT id FROM orders LIMIT ?'; EXECUTE s USING @n")).toEqual(['untraced'])
    expect(run("PREPARE s FROM 'SELECT id FROM orders WHERE total < ?'; EXECUTE s USING @n")).toEqual([
      'untraced',
    ])
    // A lookup by a variable, or constants, choose nothing by what a variable holds.
    expect(run("PREPARE s FROM 'SELECT id FROM orders WHERE id = ?'; EXECUTE s USING @n")).toEqual([])
    expect(run("PREPARE s FROM 'SELECT id FROM orders LIMIT ?'; EXECUTE s USING 3")).toEqual([])
  })
})

describe('what each stored column of a MySQL write gets', () => {
  /** Each write effect as `table: column<-sources` (`?` for opaque, `*` when the columns are unknown). */
  function stored(sql: string): string[] {
    return ok(lineageMysql(sql, catalog(), 'app'))
      .effects.flat()
      .flatMap((e) => {
        // What conditions compare is judged apart (below).
        const decides = e.kind === 'write' && [CONDITION, FAILS, CHECKED].includes(e.table)
        if (e.kind !== 'write' || decides || e.compared === true) return []
        if (e.columns === null) return [`${e.table}: *`]
        return e.columns.map((c) =>
          `${e.table}: ${c.name}<-${c.opaque ? '? ' : ''}${c.sources.join(' ')}`.trimEnd(),
        )
      })
  }

  it.each([
    [
      'CREATE TABLE c AS SELECT id, LOWER(email) AS e FROM users',
      ['app.c: id<-app.users.id', 'app.c: e<-app.users.email'],
    ],
    ['CREATE TABLE c (x INT) SELECT id FROM users', ['app.c: *']],
    [
      'INSERT INTO orders (id, total) SELECT id, ssn FROM users',
      ['app.orders: id<-app.users.id', 'app.orders: total<-app.users.ssn'],
    ],
    [
      'INSERT INTO orders SELECT id, id, name FROM users',
      [
        'app.orders: id<-app.users.id',
        'app.orders: user_id<-app.users.id',
        'app.orders: total<-app.users.name',
      ],
    ],
    ['INSERT INTO fresh SELECT email FROM users', ['app.fresh: *']],
    [
      'INSERT INTO orders VALUES (1, 2, (SELECT email FROM users LIMIT 1))',
      ['app.orders: id<-', 'app.orders: user_id<-', 'app.orders: total<-app.users.email'],
    ],
    [
      'INSERT INTO orders SET id = 1, total = (SELECT ssn FROM users LIMIT 1)',
      ['app.orders: id<-', 'app.orders: total<-app.users.ssn'],
    ],
    ['UPDATE users SET name = email WHERE id > 0', ['app.users: name<-app.users.email']],
    [
      'UPDATE orders o JOIN users u ON u.id = o.user_id SET o.total = u.ssn, u.name = o.id WHERE o.id > 0',
      ['app.orders: total<-app.users.ssn', 'app.users: name<-app.orders.id'],
    ],
    [
      'RENAME TABLE users TO people',
      [
        'app.people: id<-app.users.id',
        'app.people: name<-app.users.name',
        'app.people: email<-app.users.email',
        'app.people: ssn<-app.users.ssn',
      ],
    ],
    ['ALTER TABLE users RENAME COLUMN email TO contact', ['app.users: contact<-app.users.email']],
    ['ALTER TABLE users CHANGE ssn tax_id CHAR(11)', ['app.users: tax_id<-app.users.ssn']],
    ['RENAME TABLE v_users TO v_people', []],
    [
      "PREPARE s FROM 'INSERT INTO orders (total) SELECT ssn FROM users'",
      ['app.orders: total<-app.users.ssn'],
    ],
    ['ALTER TABLE users RENAME INDEX a TO b', []],
    [
      "SELECT id, email FROM users INTO OUTFILE '/tmp/x'",
      [
        '\u0000server file /tmp/x: id<-app.users.id',
        '\u0000server file /tmp/x: email<-app.users.email',
        // A server file may become any table's data: it may hold anything.
        '\u0000server file /tmp/x: *',
      ],
    ],
    // Keywords in any case: the parser keeps INTO OUTFILE's as written.
    [
      "select ssn from users into outfile '/tmp/y'",
      ['\u0000server file /tmp/y: ssn<-app.users.ssn', '\u0000server file /tmp/y: *'],
    ],
    [
      "select ssn into dumpfile '/tmp/z' from users",
      ['\u0000server file /tmp/z: ssn<-app.users.ssn', '\u0000server file /tmp/z: *'],
    ],
    [
      "SELECT 0x414243 INTO DUMPFILE '/var/lib/mysql/db/t.frm'",
      ['\u0000server file /var/lib/mysql/db/t.frm: <-', '\u0000server file /var/lib/mysql/db/t.frm: *'],
    ],
    ["LOAD DATA INFILE '/tmp/x' INTO TABLE orders", ['app.orders: *']],
    ["LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE orders", []],
    ['SELECT SETVAL(s, ASCII(email)) FROM users', ['\u0000shared by setval(): *']],
    ['SELECT SETVAL(s, 100)', []],
    [
      'ALTER TABLE users ADD COLUMN e2 VARCHAR(100) AS (LOWER(email)) VIRTUAL',
      ['app.users: e2<-app.users.email'],
    ],
    [
      'ALTER TABLE users ADD COLUMN IF NOT EXISTS e3 TEXT GENERATED ALWAYS AS (CONCAT(name, ssn)) STORED',
      ['app.users: e3<-app.users.name app.users.ssn'],
    ],
    ['ALTER TABLE users MODIFY name VARCHAR(100) AS (email) VIRTUAL', ['app.users: name<-app.users.email']],
    // A column added with a computed DEFAULT gets it in every stored row.
    ['ALTER TABLE users ADD COLUMN d VARCHAR(40) DEFAULT (email)', ['app.users: d<-app.users.email']],
    ['ALTER TABLE users ALTER COLUMN name SET DEFAULT (UPPER(ssn))', ['app.users: name<-app.users.ssn']],
    ['ALTER TABLE users ADD COLUMN n INT DEFAULT (1)', ['app.users: n<-']],
    ["ALTER TABLE users ADD COLUMN n INT DEFAULT 1, ALTER COLUMN name SET DEFAULT 'x'", []],
    [
      'ALTER TABLE users CONVERT PARTITION p0 TO TABLE people2',
      [
        'app.people2: id<-app.users.id',
        'app.people2: name<-app.users.name',
        'app.people2: email<-app.users.email',
        'app.people2: ssn<-app.users.ssn',
      ],
    ],
  ])('%s', (sql, expected) => {
    expect(stored(sql)).toEqual(expected)
  })

  it('marks temporary targets and writes after DDL in the same query', () => {
    const effects = (sql: string) =>
      ok(lineageMysql(sql, catalog(), 'app'))
        .effects.flat()
        .flatMap((e) =>
          e.kind === 'write' && e.table !== CHECKED ? [{temporary: e.temporary, afterDdl: e.afterDdl}] : [],
        )
    expect(effects('CREATE TEMPORARY TABLE t SELECT email FROM users')).toEqual([
      {temporary: true, afterDdl: false},
    ])
    expect(effects('CREATE TABLE x (a INT); INSERT INTO orders (total) SELECT ssn FROM users')).toEqual([
      {temporary: false, afterDdl: true},
    ])
    expect(effects('BEGIN; INSERT INTO orders (total) SELECT ssn FROM users; COMMIT')).toEqual([
      {temporary: false, afterDdl: false},
    ])
  })
})

describe('MySQL statements over stored rows, read from their tokens', () => {
  /** Each CONDITION, ORDER and FAILS effect as `KIND<-sources` (`?` when untraced), over all statements. */
  function checks(sql: string, cat = catalog()): string[] {
    const kinds: [string, string][] = [
      [CONDITION, 'CONDITION'],
      [ORDER, 'ORDER'],
      [FAILS, 'FAILS'],
    ]
    return ok(lineageMysql(sql, cat, 'app'))
      .effects.flat()
      .flatMap((e) => {
        const kind = kinds.find(([t]) => e.kind === 'write' && e.table === t)?.[1]
        if (kind === undefined || e.kind !== 'write') return []
        return [`${kind}<-${e.unknown ? '? ' : ''}${e.reads.join(' ')}`.trimEnd()]
      })
  }

  it.each([
    // Whether DDL succeeds (or warns) answers a question about every stored value it checks.
    [
      "ALTER TABLE users ADD CONSTRAINT c1 CHECK (id <> 1 OR email < 'b')",
      ['CONDITION<-app.users.email app.users.id'],
    ],
    ['ALTER TABLE users ADD COLUMN n INT CHECK (LENGTH(ssn) > n)', ['CONDITION<-app.users.ssn']],
    ['ALTER TABLE users ADD UNIQUE (ssn(1)), ADD INDEX (email)', ['FAILS<-app.users.ssn']],
    [
      'ALTER ONLINE TABLE IF EXISTS users ADD CONSTRAINT k UNIQUE KEY (email DESC)',
      ['FAILS<-app.users.email'],
    ],
    ['ALTER TABLE users ADD PRIMARY KEY (email, id)', ['FAILS<-app.users.email app.users.id']],
    [
      'ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (email)',
      ['FAILS<-app.orders.user_id app.users.email'],
    ],
    ['ALTER TABLE users MODIFY COLUMN email INT', ['FAILS<-app.users.email']],
    ['ALTER TABLE users MODIFY IF EXISTS ssn VARCHAR(3) NOT NULL', ['FAILS<-app.users.ssn']],
    ['ALTER TABLE users CHANGE email email VARCHAR(3)', ['FAILS<-app.users.email']],
    [
      'ALTER TABLE users CONVERT TO CHARACTER SET latin1',
      ['FAILS<-app.users.email app.users.id app.users.name app.users.ssn'],
    ],
    ['CREATE UNIQUE INDEX i ON users (ssn(1))', ['FAILS<-app.users.ssn']],
    ['CREATE OR REPLACE UNIQUE INDEX IF NOT EXISTS i ON other.people (email)', ['FAILS<-other.people.email']],
    // Rows stored in a column's order, or placed in partitions by their values.
    ['ALTER TABLE users ORDER BY email, id', ['ORDER<-app.users.email app.users.id']],
    [
      'ALTER TABLE users PARTITION BY KEY(email) PARTITIONS 2',
      ['CONDITION<-app.users.email app.users.id app.users.name app.users.ssn'],
    ],
    // A table whose columns are unknown: the names it checks, or all of them (untraced).
    ['ALTER TABLE tmp ADD UNIQUE (code)', ['FAILS<-app.tmp.code']],
    ['ALTER TABLE tmp CONVERT TO CHARACTER SET latin1', ['FAILS<-?']],
    // Plain indexes, drops, defaults, comments and character set defaults check nothing.
    ['ALTER TABLE users ADD INDEX (email), ADD FULLTEXT KEY f (ssn), DROP INDEX x', []],
    ["ALTER TABLE users ALTER COLUMN email SET DEFAULT 'x', COMMENT 'c', DEFAULT CHARACTER SET latin1", []],
    ['ALTER TABLE users ADD COLUMN c INT UNIQUE, DROP CHECK c1', []],
    ['CREATE INDEX i ON users (email)', []],
    ['CREATE TABLE t (id INT, UNIQUE INDEX (id))', []],
  ])('DDL over stored values: %s', (sql, expected) => {
    expect(checks(sql)).toEqual(expected)
  })

  const users = 'app.users.email app.users.id app.users.name app.users.ssn'
  it.each([
    // Rows as stored: masked from their column definitions, nothing to judge.
    ['HANDLER users OPEN; HANDLER users READ FIRST; HANDLER users READ NEXT LIMIT 2', []],
    ["HANDLER users READ FIRST WHERE email LIKE 'a%'", ['CONDITION<-app.users.email']],
    ['HANDLER users READ email FIRST', [`ORDER<-${users}`]],
    ['HANDLER users READ `first` NEXT', [`ORDER<-${users}`]],
    ["HANDLER users READ `email` >= ('bob')", [`CONDITION<-${users}`, `ORDER<-${users}`]],
    // Through an alias, opened in the same query or remembered by the session.
    ["HANDLER users OPEN AS h; HANDLER h READ FIRST WHERE ssn > '5'", ['CONDITION<-app.users.ssn']],
    [
      'HANDLER other.people OPEN h; HANDLER h READ PRIMARY LAST',
      ['ORDER<-other.people.email other.people.id'],
    ],
    // A name the session did not open here, and that names no table: untraced.
    ["HANDLER h READ FIRST WHERE id = '1'", ['CONDITION<-?']],
    ["HANDLER users OPEN AS h; HANDLER h CLOSE; HANDLER h READ FIRST WHERE id = '1'", ['CONDITION<-?']],
  ])('HANDLER reads: %s', (sql, expected) => {
    expect(checks(sql)).toEqual(expected)
  })

  it('remembers an alias with the session, so a later query reads through it', () => {
    const opened = ok(lineageMysql('HANDLER users OPEN AS orders', catalog(), 'app')).effects.flat()
    const prepared = new Map(
      opened.flatMap((e) =>
        e.kind === 'prepare' ? [[e.name, {...e.lineage, diagnostics: false}] as const] : [],
      ),
    )
    expect(prepared.size).toBe(1)
    // `orders` is the handler of users here, not the table.
    const r = ok(lineageMysql('HANDLER orders READ id = (1)', catalog(), 'app', prepared))
    expect(r.effects.flat()).toContainEqual(expect.objectContaining({table: ORDER, reads: users.split(' ')}))
  })

  it('masks the checksum of a table like its columns', () => {
    const l = ok(lineageMysql('CHECKSUM TABLE users, orders EXTENDED', catalog(), 'app')).statements[0]
    expect(l?.columns?.map((c) => [c.name, c.sources.length, c.opaque])).toEqual([
      ['table', 0, false],
      ['checksum', 7, false],
    ])
    const unknown = ok(lineageMysql('CHECKSUM TABLE tmp', catalog(), 'app')).statements[0]
    expect(unknown?.columns?.[1]?.opaque).toBe(true)
  })
})
