import {describe, expect, it} from 'vitest'
import {summarize} from '../fixtures/mysql/summarize.js'

/** Attempts to hide an operation from the analyzer; each must see what the server would run. */
const EVASIONS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  // executable comments: MySQL and MariaDB run their content
  ['versioned DROP', '/*!50000 DROP TABLE x*/', ['drop app.x']],
  ['unversioned subquery', 'SELECT 1 /*!, (SELECT ssn FROM users)*/', ['select app.users']],
  ['versioned subquery', 'SELECT 1 /*!50000 , (SELECT ssn FROM users) */', ['select', 'select app.users']],
  ['MariaDB-only', '/*M!100100 DROP TABLE x */', ['drop app.x']],
  [
    'MariaDB-only unversioned',
    "SELECT 1 /*M! , LOAD_FILE('/etc/passwd') */",
    ['select', 'select fn=load_file'],
  ],
  ['second statement inside', 'SELECT 1 /*!99999 ; DROP TABLE users */', ['drop app.users', 'select']],
  ['comment as keyword separator', 'DROP/*!*/TABLE/**/x', ['drop app.x']],
  [
    'comment right after keyword',
    'SELECT/*!50000*/ssn FROM/*!50000 users*/ t',
    ['select app.t', 'select app.users'],
  ],
  ['a reading that does not parse fails the query', 'SELECT ssn FROM /*!50000 users */', ['error']],
  [
    'version-dependent WHERE (MariaDB skips 8.0 comments)',
    'DELETE FROM users /*!80000 WHERE id = 1 */',
    ['delete app.users where=absent', 'delete app.users where=present'],
  ],
  [
    'version-dependent WHERE (old version)',
    'DELETE FROM users /*!40000 WHERE id = 1 */',
    ['delete app.users where=absent', 'delete app.users where=present'],
  ],
  ['lower-case m is not MariaDB syntax', "SELECT 1 /*m! , LOAD_FILE('x') */", ['select']],
  ['inside a string: not code', "SELECT 'a /*!50000 DROP TABLE x */'", ['select']],
  ['inside a double-quoted string', 'SELECT "/*!*/ DROP TABLE x"', ['select']],
  ['inside a backtick name', 'SELECT `/*!x*/` FROM t', ['select app.t']],
  [
    'after an escaped backslash',
    "SELECT '\\\\' /*!50000 ; DROP TABLE users */",
    ['drop app.users', 'select'],
  ],
  ['optimizer hints are comments', 'SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t', ['select app.t']],
  // hidden second statements and string escapes
  ['client preamble then DROP', 'SET NAMES utf8mb4; DROP TABLE users', ['drop app.users', 'set']],
  ['SHOW then DROP', "SHOW VARIABLES LIKE 'x'; DROP TABLE users", ['drop app.users', 'show']],
  // Under NO_BACKSLASH_ESCAPES (or ANSI_QUOTES for "…") the server ends the string at the backslash:
  // a text that splits differently in another sql_mode is refused.
  ['backslash-escaped quote', "SELECT 'it\\'s; DROP TABLE x'", ['error']],
  ['doubled quote', "SELECT 'a'';DROP TABLE x; --'", ['select']],
  ['double-quoted with escape', 'SELECT "a\\"; DROP TABLE x"', ['error']],
  ['double-quoted doubled', 'SELECT "a""b; DROP TABLE x"', ['select']],
  ['string ending in a backslash', "SELECT 'a\\\\'; DROP TABLE x; -- '", ['drop app.x', 'select']],
  ['hash inside a string', "SELECT '#'; DROP TABLE x", ['drop app.x', 'select']],
  ['dash-dash inside a string', "SELECT '-- '; DROP TABLE x", ['drop app.x', 'select']],
  ['semicolon in a backtick name', 'SELECT * FROM `a;DROP TABLE x`', ['select app.a;drop table x']],
  ['string then statement', "SELECT 'x';DROP TABLE x", ['drop app.x', 'select']],
  // comments: MySQL's rules, not the parser's
  ['dash-dash-space comment', 'SELECT 1 -- ; DROP TABLE x', ['select']],
  ['dash-dash-tab comment', 'SELECT 1 --\t; DROP TABLE x', ['select']],
  ['hash comment', 'SELECT 1 # ; DROP TABLE x', ['select']],
  ['hash comment ends at newline', 'SELECT 1 #\n; DROP TABLE x', ['drop app.x', 'select']],
  ['--x is minus minus x, not a comment', 'SELECT 1 --x\n, (SELECT ssn FROM users)', ['select app.users']],
  [
    '--1 turns a WHERE constant',
    'DELETE FROM users WHERE id = 5 --1 OR 1=1',
    ['delete app.users where=absent'],
  ],
  ['block comment hides nothing', 'SELECT 1 /* ; DROP TABLE x */', ['select']],
  ['comment splits a keyword', 'DEL/**/ETE FROM t', ['error']],
  // case, quoting and spacing games
  ['mixed case', 'DeLeTe FrOm UsErS', ['delete app.users where=absent']],
  ['quoted mixed case', 'SELECT * FROM `Shop`.`USERS`', ['select shop.users']],
  ['newlines and tabs', 'DELETE\n\tFROM\r\n users', ['delete app.users where=absent']],
  ['non-breaking space is not whitespace', 'DELETE\u00a0FROM users', ['error']],
  ['digit-led name', 'SELECT * FROM 1users', ['select app.1users']],
  ['qualified with spaces', 'SELECT * FROM shop . users', ['select shop.users']],
  // WHERE games
  ['WHERE 1', 'DELETE FROM users WHERE 1', ['delete app.users where=absent']],
  ['WHERE parenthesised true', 'DELETE FROM users WHERE (((1)))', ['delete app.users where=absent']],
  ['WHERE string compare', "UPDATE users SET a = 1 WHERE 'x' = 'X'", ['update app.users where=absent']],
  ['WHERE row OR true', "UPDATE users SET a = 1 WHERE name = 'bob' OR 1", ['update app.users where=absent']],
  ['WHERE NOT false', 'DELETE FROM users WHERE NOT FALSE', ['delete app.users where=absent']],
  ['WHERE user variable', 'DELETE FROM users WHERE @all', ['delete app.users where=absent']],
  ['WHERE uncorrelated subquery', 'DELETE FROM users WHERE (SELECT 1)', ['delete app.users where=absent']],
  ['WHERE placeholder', 'DELETE FROM users WHERE ?', ['delete app.users where=absent']],
  ['WHERE tautology on a column', 'DELETE FROM users WHERE id >= id', ['delete app.users where=absent']],
  ['operator the parser does not know', 'DELETE FROM users WHERE id <=> NULL', ['error']],
  // node-sql-parser misreads modifiers as table names: they are dropped before it reads the statement
  ['UPDATE IGNORE', "UPDATE IGNORE users SET role = 'admin'", ['update app.users where=absent']],
  ['DELETE IGNORE', 'DELETE IGNORE FROM users', ['delete app.users where=absent']],
  ['FROM inside EXTRACT is not a table', 'SELECT EXTRACT(YEAR FROM d) FROM t', ['select app.t']],
  // CTE names shadow tables only where they are in scope
  [
    'CTE reading the table it shadows',
    'WITH users AS (SELECT * FROM users) SELECT * FROM users',
    ['select app.users'],
  ],
  [
    'later CTE sees an earlier one',
    'WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT * FROM b',
    ['select app.b'],
  ],
  [
    'recursive CTE',
    'WITH RECURSIVE c AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT * FROM c',
    ['select'],
  ],
  ['CTE out of scope', 'SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) d, x', ['select app.x']],
  // functions and tables anywhere
  [
    'function in ORDER BY subquery',
    'SELECT * FROM t ORDER BY (SELECT ssn FROM users LIMIT 1)',
    ['select app.t,app.users'],
  ],
  [
    'function in CONVERT',
    "SELECT CONVERT(LOAD_FILE('/etc/passwd') USING utf8)",
    ['select fn=convert,load_file'],
  ],
  ['function in CASE', "SELECT CASE WHEN 1 THEN LOAD_FILE('x') END", ['select fn=load_file']],
  ['function in INSERT SET', "INSERT INTO t SET a = LOAD_FILE('/etc/passwd')", ['insert app.t fn=load_file']],
  [
    'function in ON DUPLICATE KEY',
    "INSERT INTO t VALUES (1),(2) ON DUPLICATE KEY UPDATE a = LOAD_FILE('x')",
    ['insert app.t fn=load_file', 'update app.t fn=load_file where=present'],
  ],
  ['backticked function', "SELECT `load_file`('x')", ['select fn=load_file']],
  ['function with a space', "SELECT load_file ('x')", ['select fn=load_file']],
  [
    'outfile after UNION',
    "SELECT a FROM t1 UNION SELECT b FROM t2 INTO OUTFILE '/tmp/x'",
    ['copy app.t1,app.t2', 'select app.t1,app.t2'],
  ],
  [
    'table in a HAVING subquery',
    'SELECT a FROM t GROUP BY a HAVING (SELECT 1 FROM secrets)',
    ['select app.secrets,app.t'],
  ],
  [
    'literal rows then a subquery row',
    "INSERT INTO t VALUES (1,'a'),(2,'b'),(3,(SELECT s FROM vault))",
    ['insert app.t,app.vault'],
  ],
  // A SET reads what its subqueries read: a select of those tables too.
  ['SET value subquery', 'SET @x = (SELECT ssn FROM users LIMIT 1)', ['set app.users', 'select app.users']],
  [
    'SET NAMES then a value subquery',
    'SET NAMES utf8mb4, @x = (SELECT ssn FROM users)',
    ['set app.users', 'select app.users'],
  ],
  [
    'SHOW WHERE subquery',
    'SHOW VARIABLES WHERE Value = (SELECT ssn FROM users LIMIT 1)',
    ['show app.users', 'select app.users'],
  ],
  ['DO with a function', "DO LOAD_FILE('/etc/passwd')", ['do fn=load_file']],
  [
    'EXPLAIN ANALYZE runs the statement',
    'EXPLAIN ANALYZE DELETE FROM users',
    ['delete app.users where=absent', 'explain app.users'],
  ],
  [
    'PREPARE hides a DROP in a string',
    "PREPARE s FROM 'DROP TABLE users'",
    ['drop app.users', 'prepare app.users'],
  ],
  ['PREPARE from a variable', 'SET @q = 0x44524f50; PREPARE s FROM @q', ['error']],
  // statements the recognizers must not swallow
  ['SET NAMES with trailing junk', 'SET NAMES utf8 DROP TABLE x', ['error']],
  ['SHOW with trailing statement text', 'SHOW TABLES DROP TABLE x', ['error']],
  ['USE with two names', 'USE a b', ['error']],
  [
    'SET STATEMENT ... FOR runs its statement',
    'SET STATEMENT max_statement_time=1 FOR DELETE FROM users',
    ['error'],
  ],
  ['HANDLER READ with a function', "HANDLER t READ idx = (LOAD_FILE('x'))", ['error']],
  ['KILL with an expression', 'KILL (SELECT 1)', ['error']],
  ['BINLOG is never understood', "BINLOG 'AAAA'", ['error']],
]

describe('analyzeMysql: evasion attempts', () => {
  it.each(EVASIONS)('%s: %s', (_name, sql, expected) => {
    expect(summarize(sql)).toEqual([...expected].sort())
  })
})

describe('analyzeMysql: executable comments that cannot be read safely are refused', () => {
  it.each([
    ['nested comment inside', '/*!50000 SELECT /* x */ 1 */'],
    ['string spanning the end', "/*!50000 SELECT '*/' */"],
    ['line comment eating the end', '/*!50000 SELECT 1 -- */\n*/'],
    ['six digits after /*!', '/*!500001 SELECT 1 */'],
    ['unterminated', '/*!50000 SELECT 1'],
    ['nested executable comment', '/*!50000 SELECT 1 /*!50000 , 2 */ */'],
    ['quote inside a hint', "SELECT /*+ ' */ 1"],
  ])('%s', (_name, sql) => {
    expect(summarize(sql)).toEqual(['error'])
  })
})
