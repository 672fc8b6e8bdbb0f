import {describe, expect, it} from 'vitest'
import {analyzeOk, summarize} from '../fixtures/mysql/summarize.js'

/** [sql, sorted operation summaries] — see summarize.ts for the format. */
const KINDS: ReadonlyArray<readonly [string, readonly string[]]> = [
  // select, in all its shapes
  ['SELECT 1', ['select']],
  ['select * from users', ['select app.users']],
  ['SELECT * FROM shop.orders o JOIN users u ON u.id = o.user_id', ['select app.users,shop.orders']],
  [
    'SELECT * FROM a WHERE id IN (SELECT a_id FROM b WHERE EXISTS (SELECT 1 FROM c))',
    ['select app.a,app.b,app.c'],
  ],
  ['SELECT * FROM (SELECT * FROM inner_t) AS d', ['select app.inner_t']],
  ['SELECT (SELECT MAX(x) FROM scalar_t) AS m', ['select app.scalar_t fn=max']],
  ['SELECT a FROM t1 UNION SELECT a FROM t2 UNION ALL SELECT a FROM t3', ['select app.t1,app.t2,app.t3']],
  [
    'SELECT * FROM t1 LEFT JOIN t2 USING (id) RIGHT JOIN t3 ON t3.id = t2.id',
    ['select app.t1,app.t2,app.t3'],
  ],
  ['WITH c AS (SELECT * FROM base) SELECT * FROM c', ['select app.base']],
  ['WITH users AS (SELECT 1 AS id) SELECT * FROM users', ['select']],
  ['SELECT * FROM `Shop`.`Orders`', ['select shop.orders']],
  ['SELECT * FROM USERS', ['select app.users']],
  ['SELECT 1 FROM DUAL', ['select']],
  ['SELECT @@version_comment LIMIT 1', ['select']],
  ['SELECT DATABASE()', ['select fn=database']],
  [
    'SELECT COUNT(*), SUM(total) FROM orders GROUP BY user_id HAVING COUNT(*) > 1',
    ['select app.orders fn=count,sum'],
  ],
  ['SELECT LOAD_FILE("/etc/passwd")', ['select fn=load_file']],
  ['SELECT SLEEP(5), BENCHMARK(1000000, MD5(1))', ['select fn=benchmark,md5,sleep']],
  ['SELECT util.f(1), g(2) FROM t', ['select app.t fn=g,util.f']],
  ['SELECT * FROM t WHERE id = ? AND name = ?', ['select app.t']],
  ['SELECT * FROM t FOR UPDATE', ['select app.t']],
  // index hints choose how a table is read, never which
  ['SELECT * FROM t FORCE INDEX (PRIMARY) WHERE id = 1', ['select app.t']],
  [
    'SELECT * FROM t AS x USE INDEX () JOIN vault v IGNORE KEY FOR JOIN (a, b) ON v.id = x.id',
    ['select app.t,app.vault'],
  ],
  [
    'SELECT * FROM t FORCE INDEX FOR ORDER BY (i), IGNORE INDEX FOR GROUP BY (j), vault ORDER BY 1',
    ['select app.t,app.vault'],
  ],
  [
    'SELECT * FROM t /*!40000 FORCE INDEX (i) */ WHERE id = (SELECT MAX(v) FROM vault)',
    ['select app.t,app.vault fn=max'],
  ],
  ['UPDATE t FORCE INDEX(i)SET a = 1', ['update app.t where=absent']],
  // modifiers change priority or error handling, never which table (MariaDB's grammar reads UPDATE IGNORE t as table ignore)
  ['UPDATE IGNORE t SET a = 1 WHERE id = 5', ['update app.t where=present']],
  ['UPDATE LOW_PRIORITY IGNORE t SET a = 1', ['update app.t where=absent']],
  ['DELETE QUICK FROM t WHERE id = 5', ['delete app.t where=present']],
  ['DELETE LOW_PRIORITY QUICK IGNORE FROM t', ['delete app.t where=absent']],
  [
    'DELETE `quick` FROM `quick` JOIN u ON u.id = quick.id WHERE u.id = 1',
    ['delete app.quick,app.u where=present'],
  ],
  ['INSERT LOW_PRIORITY IGNORE INTO t VALUES (1)', ['insert app.t']],
  ['INSERT DELAYED INTO t VALUES (1)', ['insert app.t']],
  ['REPLACE LOW_PRIORITY INTO t VALUES (1)', ['delete app.t where=present', 'insert app.t']],
  ['DROP TEMPORARY TABLE IF EXISTS t, shop.u', ['drop app.t,shop.u']],
  ['SELECT STRAIGHT_JOIN a FROM t, u', ['select app.t,app.u']],
  ['SELECT a FROM t STRAIGHT_JOIN u ON u.id = t.id', ['select app.t,app.u']],
  [
    'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE quick = 1',
    ['insert app.t', 'update app.t where=present'],
  ],
  ['SELECT a INTO @x FROM t', ['select app.t']],
  ['TABLE users', ['select app.users']],
  ['TABLE app2.users ORDER BY id LIMIT 3', ['select app2.users']],
  ['VALUES ROW(1, 2), ROW(3, 4)', ['select']],
  ['VALUES ROW(1, (SELECT ssn FROM users LIMIT 1))', ['select app.users']],
  // file writes and reads
  ["SELECT * FROM users INTO OUTFILE '/tmp/u.csv'", ['copy app.users', 'select app.users']],
  ["SELECT * FROM users INTO DUMPFILE '/tmp/u.bin'", ['copy app.users', 'select app.users']],
  // LOAD DATA adds rows: an insert too (REPLACE also deletes the rows it collides with).
  ["LOAD DATA INFILE '/tmp/u.csv' INTO TABLE users", ['copy app.users', 'insert app.users']],
  [
    "LOAD DATA LOCAL INFILE 'u.csv' INTO TABLE shop.users FIELDS TERMINATED BY ','",
    ['copy shop.users', 'insert shop.users'],
  ],
  [
    "LOAD DATA INFILE '/tmp/u.csv' REPLACE INTO TABLE users",
    ['copy app.users', 'insert app.users', 'delete app.users where=present'],
  ],
  // writes
  ["INSERT INTO users (id, email) VALUES (1, 'a@b.c')", ['insert app.users']],
  ['INSERT INTO archive SELECT * FROM users WHERE created < NOW()', ['insert app.archive,app.users fn=now']],
  [
    'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE n = n + 1',
    ['insert app.t', 'update app.t where=present'],
  ],
  ['REPLACE INTO t VALUES (1)', ['delete app.t where=present', 'insert app.t']],
  ['REPLACE INTO t SELECT * FROM u', ['delete app.t,app.u where=present', 'insert app.t,app.u']],
  ["INSERT INTO t VALUES (1,'a'),(2,'b'),(3,(SELECT secret FROM vault))", ['insert app.t,app.vault']],
  ["UPDATE users SET email = 'x' WHERE id = 1", ['update app.users where=present']],
  ["UPDATE users SET email = 'x'", ['update app.users where=absent']],
  ['UPDATE a JOIN b ON a.id = b.id SET a.x = b.y WHERE b.z = 1', ['update app.a,app.b where=present']],
  ['UPDATE t SET a = (SELECT MAX(b) FROM u) WHERE id = 2', ['update app.t,app.u fn=max where=present']],
  ['DELETE FROM users WHERE id = 5', ['delete app.users where=present']],
  ['DELETE FROM users', ['delete app.users where=absent']],
  // arithmetic over a column is computed like the server does (strings read as numbers, NULL on division by zero)
  ['DELETE FROM t WHERE id = id + 0', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id - id = 0', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id * 0 = 0 AND id + 1 > id', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id MOD 2 = 0 OR id MOD 2 <> 0', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id + 0 > 5', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id % 2 = 1', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id DIV 1 = id', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id / 0 IS NULL', ['delete app.t where=absent']],
  // so are built-ins that pass a value through, pick one or keep its order (unqualified: db.lower() is a user's)
  ["DELETE FROM t WHERE CONCAT(name, '') = name", ['delete app.t fn=concat where=absent']],
  [
    'DELETE FROM t WHERE LOWER(name) = LOWER(name) AND ABS(id) >= 0',
    ['delete app.t fn=abs,lower where=absent'],
  ],
  ['DELETE FROM t WHERE ISNULL(id) OR NOT ISNULL(id)', ['delete app.t fn=isnull where=absent']],
  ['DELETE FROM t WHERE COALESCE(a, b, 1) IS NOT NULL', ['delete app.t fn=coalesce where=absent']],
  ['DELETE FROM t WHERE IFNULL(id, 1)', ['delete app.t fn=ifnull where=present']],
  ['DELETE FROM t WHERE ABS(id) < 5 OR id > 0', ['delete app.t fn=abs where=present']],
  ['DELETE FROM t WHERE id + 10 > 3', ['delete app.t where=present']],
  ['DELETE FROM t WHERE app.lower(name) = name', ['delete app.t fn=app.lower where=present']],
  // LENGTH is not computed: no sample set bounds a string's length
  ['DELETE FROM t WHERE LENGTH(name) <= 5', ['delete app.t fn=length where=present']],
  ['DELETE FROM users LIMIT 10', ['delete app.users where=absent']],
  [
    'DELETE u FROM users u JOIN bans b ON b.uid = u.id WHERE b.active = 1',
    ['delete app.bans,app.users where=present'],
  ],
  ['DELETE u, v FROM users AS u, visits v WHERE u.id = v.uid', ['delete app.users,app.visits where=present']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM old_ids)', ['delete app.old_ids,app.t where=present']],
  // constant WHERE: unbounded
  ['DELETE FROM t WHERE 1', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE true', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE 1=1', ['delete app.t where=absent']],
  ["DELETE FROM t WHERE 'a'='a'", ['delete app.t where=absent']],
  ["DELETE FROM t WHERE 'a'='A '", ['delete app.t where=absent']],
  ['DELETE FROM t WHERE NOT 0', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE 1 OR id = 5', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id = 5 OR 2 > 1', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE -1', ['delete app.t where=absent']],
  ["DELETE FROM t WHERE '1abc'", ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id = id', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE @everything', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE ? = ?', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE NULL IS NULL', ['delete app.t where=absent']],
  ['UPDATE t SET a = 1 WHERE 1 <> 2', ['update app.t where=absent']],
  ['DELETE FROM t WHERE EXISTS (SELECT 1)', ['delete app.t where=absent']],
  // An unqualified * is the subquery's own columns: the same for every row.
  ['DELETE FROM t WHERE EXISTS (SELECT * FROM u)', ['delete app.t,app.u where=absent']],
  ['DELETE FROM t WHERE EXISTS (SELECT * FROM u WHERE u.id = t.id)', ['delete app.t,app.u where=present']],
  // constant false or row-dependent: bounded
  ['DELETE FROM t WHERE 0', ['delete app.t where=present']],
  ['DELETE FROM t WHERE 1=0', ['delete app.t where=present']],
  ["DELETE FROM t WHERE 'abc'", ['delete app.t where=present']],
  ['DELETE FROM t WHERE NULL', ['delete app.t where=present']],
  ['DELETE FROM t WHERE 1 AND id = 3', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id > 0', ['delete app.t where=present']],
  ['DELETE FROM t WHERE deleted_at IS NULL', ['delete app.t where=present']],
  // tautologies over columns: true in every row, so unbounded
  ['DELETE FROM t WHERE id IS NULL OR id IS NOT NULL', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE IFNULL(id, 0) = IFNULL(id, 0)', ['delete app.t fn=ifnull where=absent']],
  ['DELETE FROM t WHERE NOT (id <> id)', ['delete app.t fn=not where=absent']],
  ['DELETE FROM t WHERE id IN (id)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE 1 IN (1, id)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id BETWEEN id AND id', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id = 5 OR id <> 5', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id > 0 OR id <= 0', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id NOT IN (1, 2) OR id IN (1, 2)', ['delete app.t where=absent']],
  ["UPDATE t SET a = 1 WHERE name <> 'x' OR name = 'x'", ['update app.t where=absent']],
  ['DELETE FROM t WHERE ISNULL(x) OR NOT ISNULL(x)', ['delete app.t fn=isnull where=absent']],
  ["DELETE FROM t WHERE name LIKE '%'", ['delete app.t where=absent']],
  ["DELETE FROM t WHERE name NOT LIKE 'a%' OR name LIKE 'A%'", ['delete app.t where=absent']],
  // the table matched against itself: each row finds itself, so only NULLs are dropped, as by `id = id`
  ['DELETE FROM t WHERE id IN (SELECT id FROM t)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE t.ID = ANY (SELECT x.id FROM app.t x)', ['delete app.t where=absent']],
  ['UPDATE t a SET c = 1 WHERE EXISTS (SELECT 1 FROM t b WHERE b.id = a.id)', ['update app.t where=absent']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM t WHERE 1)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM t) OR a = 1', ['delete app.t where=absent']],
  ['DELETE t1 FROM t t1, t t2 WHERE t1.id = t2.id', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE id IN (SELECT s.id FROM (SELECT id FROM t) AS s)', ['delete app.t where=absent']],
  [
    'DELETE FROM t WHERE EXISTS (SELECT 1 FROM (SELECT id FROM t) s WHERE s.id = t.id)',
    ['delete app.t where=absent'],
  ],
  ['UPDATE t a, t b SET a.c = 1 WHERE b.id = a.id', ['update app.t where=absent']],
  // rows of columns, and every column of a derived table
  ['DELETE FROM t WHERE (id, c) IN (SELECT id, c FROM t)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE ROW(id, c) = ANY (SELECT id, c FROM t)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE (id, c) IN (SELECT id, c FROM (SELECT * FROM t) x)', ['delete app.t where=absent']],
  ['DELETE FROM t WHERE (id, c) IN (SELECT c, id FROM t)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE (id, c) IN (SELECT id, 1 FROM t)', ['delete app.t where=present']],
  [
    'DELETE FROM t WHERE id IN (SELECT id FROM (SELECT * FROM t WHERE c = 1) x)',
    ['delete app.t where=present'],
  ],
  // ...and what looks alike but drops rows
  ['DELETE t1 FROM t t1, t t2 WHERE t1.id = t2.id AND t2.c = 5', ['delete app.t where=present']],
  ['DELETE t1 FROM t t1, t t2 WHERE t1.id = t2.other', ['delete app.t where=present']],
  ['DELETE t1 FROM t t1, u WHERE t1.id = u.id', ['delete app.t,app.u where=present']],
  ['DELETE t1 FROM t t1 LEFT JOIN t t2 ON t2.c = 5 WHERE t1.id = t2.id', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM t WHERE 0)', ['delete app.t where=present']],
  [
    'DELETE FROM t WHERE id IN (SELECT id FROM (SELECT id FROM t WHERE c = 1) s)',
    ['delete app.t where=present'],
  ],
  [
    'DELETE FROM t WHERE id IN (SELECT id FROM (SELECT other AS id FROM t) s)',
    ['delete app.t where=present'],
  ],
  ['DELETE FROM t WHERE id IN (SELECT id FROM (SELECT id FROM t LIMIT 3) s)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM t WHERE a = 5)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM t LIMIT 5)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id IN (SELECT other FROM t)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM u)', ['delete app.t,app.u where=present']],
  ['DELETE FROM t WHERE id NOT IN (SELECT id FROM t)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM t UNION SELECT 1)', ['delete app.t where=present']],
  ['DELETE FROM t WHERE EXISTS (SELECT 1 FROM t x WHERE x.id = t.other)', ['delete app.t where=present']],
  // ...and filters of the same shapes
  ["DELETE FROM t WHERE name LIKE 'a%'", ['delete app.t where=present']],
  ["DELETE FROM t WHERE name LIKE '_%'", ['delete app.t where=present']],
  ['DELETE FROM t WHERE id <= 5 OR id >= 6', ['delete app.t where=present']],
  ["DELETE FROM t WHERE level <> 'error' OR created_at < '2024-01-01'", ['delete app.t where=present']],
  ["DELETE FROM t WHERE a < 10 OR a <= 0 OR a < '5' OR a < 5", ['delete app.t where=present']],
  ['DELETE FROM t WHERE id = 5 OR id <> 6', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id > 0 OR id IS NULL', ['delete app.t where=present']],
  ['DELETE FROM t WHERE x = y', ['delete app.t where=present']],
  ['DELETE FROM t WHERE a = 1 OR b = 2', ['delete app.t where=present']],
  ['DELETE FROM t WHERE id = 5 AND (x = 1 OR x <> 1)', ['delete app.t where=present']],
  // DDL
  ['CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10))', ['create app.t']],
  ['CREATE TABLE t2 AS SELECT * FROM src', ['create app.src,app.t2', 'select app.src']],
  ['CREATE TABLE t2 SELECT id FROM src', ['create app.src,app.t2', 'select app.src']],
  ['CREATE TABLE t2 LIKE src', ['create app.src,app.t2']],
  ['CREATE VIEW v AS SELECT * FROM base', ['create app.base,app.v']],
  ['CREATE INDEX i ON t (a)', ['create app.t']],
  ['CREATE DATABASE d', ['create']],
  ['ALTER TABLE t ADD COLUMN c INT', ['alter app.t']],
  ['ALTER TABLE t RENAME TO u', ['alter app.t,app.u']],
  ['ALTER TABLE t DISABLE KEYS', ['alter app.t']],
  // an ALTER that drops something is a drop as well; truncating a partition deletes its rows
  ['ALTER TABLE t DROP COLUMN c', ['alter app.t', 'drop app.t']],
  ['ALTER TABLE shop.t ADD d INT, DROP c, DROP e', ['alter shop.t', 'drop shop.t']],
  ['ALTER TABLE t DROP INDEX i', ['alter app.t', 'drop app.t']],
  ['ALTER TABLE t DROP PRIMARY KEY', ['alter app.t', 'drop app.t']],
  ['ALTER TABLE t DROP FOREIGN KEY fk', ['alter app.t', 'drop app.t']],
  ['ALTER TABLE t TRUNCATE PARTITION p1', ['alter app.t', 'truncate app.t']],
  ['ALTER TABLE t ENGINE=BLACKHOLE', ['alter app.t', 'truncate app.t']],
  // Writing the target's own rows back, whole: every row collides.
  ['REPLACE INTO t SELECT id, NULL FROM t', ['delete app.t where=absent', 'insert app.t']],
  [
    'INSERT INTO t SELECT * FROM app.t ON DUPLICATE KEY UPDATE v = 1',
    ['insert app.t', 'update app.t where=absent'],
  ],
  [
    'INSERT INTO t SELECT * FROM t WHERE id < 5 ON DUPLICATE KEY UPDATE v = 1',
    ['insert app.t', 'update app.t where=present'],
  ],
  ['REPLACE INTO t SELECT * FROM u', ['delete app.t,app.u where=present', 'insert app.t,app.u']],
  ['ALTER TABLE t ENGINE=InnoDB', ['alter app.t']],
  ['ALTER TABLE t MODIFY c BIGINT', ['alter app.t']],
  ['ALTER TABLE t CHANGE c d INT', ['alter app.t']],
  ['RENAME TABLE a TO b, c TO other.d', ['alter app.a,app.b,app.c,other.d']],
  ['DROP TABLE a, other.b', ['drop app.a,other.b']],
  ['DROP TABLE IF EXISTS `users`', ['drop app.users']],
  ['DROP VIEW v', ['drop app.v']],
  ['DROP DATABASE d', ['drop']],
  ['TRUNCATE TABLE logs', ['truncate app.logs']],
  ['TRUNCATE logs', ['truncate app.logs']],
  // privileges
  ["GRANT SELECT ON shop.orders TO 'bob'@'%'", ['grant shop.orders']],
  ["GRANT ALL PRIVILEGES ON *.* TO 'bob'@'localhost' WITH GRANT OPTION", ['grant *.*']],
  ["REVOKE SELECT ON shop.orders FROM 'bob'@'%'", ['revoke shop.orders']],
  ["REVOKE INSERT, UPDATE ON shop.* FROM 'bob'@'%', 'eve'", ['revoke shop.*']],
  // session settings
  ['SET NAMES utf8mb4', ['set']],
  ["SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", ['set']],
  ['SET character_set_results = NULL', ['set']],
  ['SET autocommit=1', ['set']],
  ["SET SESSION sql_mode = 'STRICT_TRANS_TABLES'", ['set']],
  ['SET @@session.wait_timeout = 28800', ['set']],
  ['SET GLOBAL general_log = OFF', ['set']],
  ['SET @a = (SELECT ssn FROM users LIMIT 1)', ['set app.users', 'select app.users']],
  ["SET sql_mode = CONCAT(@@sql_mode, ',ANSI')", ['set fn=concat']],
  ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', ['set']],
  ['SET TRANSACTION READ ONLY', ['set']],
  ['USE shop', ['set']],
  // show and describe
  ["SHOW VARIABLES LIKE 'max_allowed_packet'", ['show']],
  ["SHOW SESSION VARIABLES WHERE Variable_name = 'x'", ['show']],
  ['SHOW FULL COLUMNS FROM users', ['show app.users']],
  ['SHOW COLUMNS FROM users FROM shop', ['show shop.users']],
  ['SHOW FIELDS IN shop.users', ['show shop.users']],
  ['SHOW FULL PROCESSLIST', ['show']],
  ['SHOW FULL TABLES FROM shop LIKE "o%"', ['show']],
  ['SHOW TABLES', ['show']],
  ['SHOW DATABASES', ['show']],
  ['SHOW WARNINGS LIMIT 10', ['show']],
  ['SHOW COUNT(*) ERRORS', ['show']],
  ["SHOW GLOBAL STATUS LIKE 'Uptime'", ['show']],
  ['SHOW CREATE TABLE users', ['show app.users']],
  ['SHOW INDEX FROM users', ['show app.users']],
  ['SHOW KEYS IN users FROM shop', ['show shop.users']],
  ['SHOW ENGINES', ['show']],
  ["SHOW GRANTS FOR 'bob'@'%'", ['show']],
  ['SHOW TABLE STATUS FROM shop', ['show']],
  ['DESCRIBE users', ['show app.users']],
  ['DESC shop.users email', ['show shop.users']],
  ['EXPLAIN users', ['show app.users']],
  // transactions
  ['START TRANSACTION', ['transaction']],
  ['START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT', ['transaction']],
  ['BEGIN', ['transaction']],
  ['BEGIN WORK', ['transaction']],
  ['COMMIT', ['transaction']],
  ['COMMIT WORK AND NO CHAIN', ['transaction']],
  ['ROLLBACK', ['transaction']],
  ['ROLLBACK TO SAVEPOINT sp1', ['transaction']],
  ['SAVEPOINT sp1', ['transaction']],
  ['RELEASE SAVEPOINT sp1', ['transaction']],
  ["XA START 'tx1'", ['transaction']],
  ["XA COMMIT 'tx1' ONE PHASE", ['transaction']],
  // explain
  ['EXPLAIN SELECT * FROM users', ['explain app.users']],
  ['EXPLAIN FORMAT=JSON SELECT * FROM users', ['explain app.users']],
  ['EXPLAIN ANALYZE SELECT * FROM users', ['explain app.users', 'select app.users']],
  ['ANALYZE FORMAT=JSON DELETE FROM users', ['delete app.users where=absent', 'explain app.users']],
  ['EXPLAIN DELETE FROM users', ['explain app.users']],
  // calls and the rest
  ['CALL shop.refresh(1, f(2))', ['call fn=f,shop.refresh']],
  ['CALL cleanup', ['call fn=cleanup']],
  ['DO SLEEP(1)', ['do fn=sleep']],
  ['DO 1, (SELECT COUNT(*) FROM users)', ['do app.users fn=count', 'select app.users fn=count']],
  ['LOCK TABLES t READ, u AS x WRITE', ['lock app.t,app.u']],
  ['LOCK TABLES t READ LOCAL', ['lock app.t']],
  ['UNLOCK TABLES', ['lock']],
  ['FLUSH TABLES t WITH READ LOCK', ['lock app.t']],
  ['ANALYZE TABLE t, shop.u', ['analyze app.t,shop.u']],
  ['OPTIMIZE TABLE t', ['other app.t']],
  ['CHECK TABLE t EXTENDED', ['other app.t']],
  ['FLUSH PRIVILEGES', ['other']],
  ['FLUSH BINARY LOGS', ['other']],
  ['KILL QUERY 42', ['other']],
  ['KILL 42', ['other']],
  // HANDLER OPEN and READ read the table.
  ['HANDLER users OPEN', ['select app.users']],
  ['HANDLER users READ FIRST', ['select app.users']],
  ['HANDLER users CLOSE', ['other app.users']],
  ["INSTALL PLUGIN evil SONAME 'evil.so'", ['other']],
]

describe('analyzeMysql: statement kinds, tables and functions', () => {
  it.each(KINDS)('%s', (sql, expected) => {
    expect(summarize(sql)).toEqual([...expected].sort())
  })

  it('has a broad table', () => {
    expect(KINDS.length).toBeGreaterThanOrEqual(150)
  })
})

describe('analyzeMysql: session effects', () => {
  it('resolves unqualified names against the database a USE switched to', () => {
    const a = analyzeOk('SELECT * FROM t; USE shop; SELECT * FROM t')
    expect(a.operations.map((o) => o.tables)).toEqual([['app.t'], [], ['shop.t']])
    expect(a.schemaChange).toBe('shop')
    expect(a.statements).toBe(3)
  })

  it('resolves against the connection database given by the context', () => {
    expect(summarize('SELECT * FROM t', {defaultSchema: 'Shop'})).toEqual(['select shop.t'])
  })

  it('records PREPARE ... FROM a literal as a prepared statement and judges it now', () => {
    const a = analyzeOk("PREPARE s1 FROM 'DELETE FROM users WHERE id = ?'")
    expect(a.prepares).toEqual([
      {name: 's1', operations: [{kind: 'delete', tables: ['app.users'], functions: [], where: 'present'}]},
    ])
    expect(a.operations.map((o) => o.kind)).toEqual(['prepare', 'delete'])
    expect(a.literalSensitive).toBe(true)
  })

  it('EXECUTE runs what the same query prepared', () => {
    expect(summarize("PREPARE s FROM 'DROP TABLE t'; EXECUTE s")).toEqual([
      'drop app.t',
      'execute app.t',
      'prepare app.t',
    ])
  })

  it('EXECUTE runs what the session prepared earlier', () => {
    const prepared = new Map([
      ['s', [{kind: 'truncate' as const, tables: ['app.t'], functions: [], where: null}]],
    ])
    expect(summarize('EXECUTE s USING @a, @b', {defaultSchema: 'app', prepared})).toEqual([
      'execute app.t',
      'truncate app.t',
    ])
  })

  it('EXECUTE IMMEDIATE runs its text now: judged as that statement', () => {
    expect(summarize("EXECUTE IMMEDIATE 'DROP TABLE t'")).toEqual(['drop app.t', 'execute app.t'])
    expect(summarize("EXECUTE IMMEDIATE 'SELECT * FROM s WHERE id = ?' USING @a")).toEqual([
      'execute app.s',
      'select app.s',
    ])
    expect(analyzeOk("EXECUTE IMMEDIATE 'SELECT 1'").literalSensitive).toBe(true)
    // What it runs must be one string constant of one statement.
    expect(summarize("EXECUTE IMMEDIATE CONCAT('DROP', ' TABLE t')")).toEqual(['error'])
    expect(summarize('EXECUTE IMMEDIATE @q')).toEqual(['error'])
    expect(summarize("EXECUTE IMMEDIATE 'SELECT 1; DROP TABLE t'")).toEqual(['error'])
    // A statement prepared under the name `immediate` is still executed by name.
    expect(summarize("PREPARE immediate FROM 'DELETE FROM t WHERE id = 1'; EXECUTE immediate")).toEqual([
      'delete app.t where=present',
      'execute app.t',
      'prepare app.t',
    ])
  })

  it('CALL of sys procedures that do what other statements do is judged as those', () => {
    // execute_prepared_stmt runs its text in sys, the procedure's database.
    expect(summarize("CALL sys.execute_prepared_stmt('DROP TABLE app.t')")).toEqual([
      'call app.t fn=sys.execute_prepared_stmt',
      'drop app.t',
    ])
    expect(summarize("call `SYS`.EXECUTE_PREPARED_STMT('DELETE FROM t')")).toEqual([
      'call sys.t fn=sys.execute_prepared_stmt',
      'delete sys.t where=absent',
    ])
    expect(summarize("CALL execute_prepared_stmt('SELECT * FROM app.s')")).toEqual([
      'call app.s fn=execute_prepared_stmt',
      'select app.s',
    ])
    expect(summarize('CALL sys.execute_prepared_stmt(@q)')).toEqual(['error'])
    expect(summarize("CALL sys.create_synonym_db('app', 'app2')")).toEqual([
      'create fn=sys.create_synonym_db',
    ])
    expect(summarize('CALL sys.ps_truncate_all_tables(FALSE)')).toEqual([
      'truncate fn=sys.ps_truncate_all_tables',
    ])
    // Another schema's procedure of that name is user code, as any CALL.
    expect(summarize("CALL app.execute_prepared_stmt('DROP TABLE t')")).toEqual([
      'call fn=app.execute_prepared_stmt',
    ])
  })

  it('EXECUTE of an unknown or deallocated name is refused', () => {
    expect(summarize('EXECUTE nope')).toEqual(['error'])
    expect(summarize("PREPARE s FROM 'SELECT 1'; DEALLOCATE PREPARE s; EXECUTE s")).toEqual(['error'])
  })

  it('DEALLOCATE and DROP PREPARE are reported', () => {
    const a = analyzeOk('DEALLOCATE PREPARE s1; DROP PREPARE S2')
    expect(a.deallocates).toEqual(['s1', 's2'])
    expect(a.operations.map((o) => o.kind)).toEqual(['deallocate', 'deallocate'])
  })

  it('PREPARE from a variable cannot be known: refused', () => {
    expect(summarize('PREPARE s FROM @sql')).toEqual(['error'])
  })

  it('the prepared text is lexed like any query (comments, escapes)', () => {
    expect(summarize("PREPARE s FROM 'SELECT 1 /*!, (SELECT ssn FROM users) */'")).toEqual([
      'prepare app.users',
      'select app.users',
    ])
    expect(summarize("PREPARE s FROM 'SELECT * FROM t WHERE a = \\'x\\''")).toEqual([
      'prepare app.t',
      'select app.t',
    ])
  })

  it('counts statements and ignores empty ones', () => {
    expect(analyzeOk('SELECT 1; SELECT 2;').statements).toBe(2)
    expect(analyzeOk(';;').statements).toBe(0)
    expect(analyzeOk('').operations).toEqual([])
    expect(analyzeOk('-- nothing\n/* at all */').statements).toBe(0)
  })

  it('names the columns whose NOT NULL would make a WHERE that only drops NULLs absent', () => {
    const check = (sql: string): unknown => analyzeOk(sql).operations[0]?.notNull
    expect(check('DELETE FROM t WHERE id IS NOT NULL')).toEqual({schema: null, table: 't', columns: ['id']})
    expect(check('DELETE FROM t WHERE NOT ISNULL(id)')).toEqual({schema: null, table: 't', columns: ['id']})
    expect(check('UPDATE shop.t SET a = 1 WHERE COALESCE(id, 0) = id')).toEqual({
      schema: 'shop',
      table: 't',
      columns: ['id'],
    })
    expect(check('DELETE FROM t WHERE ISNULL(id)')).toBeUndefined()
    expect(check('DELETE FROM t WHERE id > 0')).toBeUndefined()
    // MariaDB's _rowid (the integer primary key's alias) is never NULL: nothing to ask, and the WHERE is absent.
    expect(analyzeOk('DELETE FROM t WHERE _rowid IS NOT NULL').operations[0]?.where).toBe('absent')
    expect(analyzeOk('DELETE FROM t WHERE t._ROWID IS NOT NULL OR id = 3').operations[0]?.where).toBe(
      'absent',
    )
    expect(check('DELETE FROM t WHERE _rowid IS NOT NULL AND id IS NOT NULL')).toEqual({
      schema: null,
      table: 't',
      columns: ['id'],
    })
    expect(analyzeOk('DELETE FROM t WHERE _rowid = 3').operations[0]?.where).toBe('present')
  })

  it('literalSensitive only when a literal decided', () => {
    expect(analyzeOk('DELETE FROM t WHERE id = 5').literalSensitive).toBe(false)
    expect(analyzeOk('DELETE FROM t WHERE 1 = 1').literalSensitive).toBe(true)
    expect(analyzeOk('DELETE FROM t WHERE 1 = 2').literalSensitive).toBe(true)
    expect(analyzeOk("SELECT * FROM t WHERE a = 'x'").literalSensitive).toBe(false)
    // A sampled clause's verdict depends on its literals: `id = 5 OR id <> 6` must not be reused for `... <> 5`.
    expect(analyzeOk('DELETE FROM t WHERE id = 5 OR id <> 6').literalSensitive).toBe(true)
    // TRUE, FALSE and NULL stay in the cache key as they are: a clause of them alone is no literal's doing.
    expect(analyzeOk('DELETE FROM t WHERE x IS NULL OR x IS NOT NULL').literalSensitive).toBe(false)
    expect(analyzeOk('DELETE FROM t WHERE id IS NOT NULL').literalSensitive).toBe(false)
    expect(analyzeOk('DELETE FROM t WHERE x IS TRUE OR x IS NOT TRUE').literalSensitive).toBe(false)
    expect(analyzeOk('DELETE FROM t WHERE x IS NULL OR x <> 0').literalSensitive).toBe(true)
    expect(analyzeOk('DELETE FROM t WHERE id = 5 AND (x = 1 OR x <> 1)').literalSensitive).toBe(false)
    // The parser folds a sign into a number but not into a string: the same structure either way.
    expect(analyzeOk('DELETE FROM t WHERE id = -1').literalSensitive).toBe(false)
    expect(analyzeOk("DELETE FROM t WHERE id = -'1'").literalSensitive).toBe(false)
    expect(analyzeOk('DELETE FROM t WHERE id IN (SELECT id FROM t WHERE 0)').literalSensitive).toBe(true)
  })
})
