import fc from 'fast-check'
import {beforeAll, describe, expect, it} from 'vitest'

import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import type {Analysis} from '../../src/policy/types.js'

const ctx = {defaultSchema: 'public'}

/** `kind:table,table` per operation, e.g. `select:public.users drop:public.users`. */
function summary(sql: string): string {
  const a = analyzePostgres(sql, ctx)
  if (!a.ok) return `error: ${a.error}`
  return a.operations.map((o) => `${o.kind}:${o.tables.join(',')}`).join(' ')
}

beforeAll(async () => {
  await loadPostgresParser()
})

/** Attempts to hide a statement, a table or a function from the guard, and what it must see. */
const EVASIONS: [string, string][] = [
  ['DELETE/**/FROM users', 'delete:public.users'],
  ['DeLeTe FrOm UsErS', 'delete:public.users'],
  ['/* nested /* comments */ still a comment */ DROP TABLE users', 'drop:public.users'],
  ['/* a /* b */ DROP TABLE x; */ SELECT 1', 'select:'],
  ['SELECT 1; DROP TABLE users', 'select: drop:public.users'],
  ['SELECT 1 -- ; DROP TABLE users', 'select:'],
  ['SELECT 1; -- harmless\nDROP TABLE users', 'select: drop:public.users'],
  ['SELECT 1 /* ; */ ; /* x */ DROP TABLE users', 'select: drop:public.users'],
  ["SELECT 'a;b--c/*d'; DROP TABLE users", 'select: drop:public.users'],
  ["SELECT 'it''s; DROP TABLE users; --'", 'select:'],
  ["SELECT E'\\'; DROP TABLE users; --'", 'select:'],
  ["SELECT E'\\\\'; DROP TABLE users; --'", 'select: drop:public.users'],
  ["SELECT '\\'; DROP TABLE users; --'", 'select: drop:public.users'],
  ["SELECT 'x\\''; DROP TABLE users; --'", 'select:'],
  ['SELECT $$; DROP TABLE users; --$$', 'select:'],
  ['SELECT $a$ $$; DROP TABLE users; $$ $a$', 'select:'],
  ['SELECT $a$ x $a$; DROP TABLE users; SELECT $b$ y $b$', 'select: drop:public.users select:'],
  ["SELECT U&'\\0027; DROP TABLE users; --'", 'select:'],
  ["SELECT U&'!0027' UESCAPE '!'; DROP TABLE users", 'select: drop:public.users'],
  ["SELECT B'0101', X'ff'; DELETE FROM users", 'select: delete:public.users'],
  ['SELECT "a;b" FROM t; DROP TABLE users', 'select:public.t drop:public.users'],
  ['SELECT 1;;; DROP TABLE users;', 'select: drop:public.users'],
  ['DR/**/OP TABLE users', 'error: syntax error at or near "DR" (at character 1)'],
  ['DROP TABLE U&"\\0075sers"', 'drop:public.users'],
  ['DELETE FROM U&"\\0075\\0073\\0065\\0072\\0073"', 'delete:public.users'],
  ['DELETE FROM "users"', 'delete:public.users'],
  ['DELETE FROM "Users"', 'delete:public.Users'],
  ['DELETE FROM public . users', 'delete:public.users'],
  ['DELETE FROM prod.public.users', 'delete:public.users'],
  ['DELETE FROM ONLY users *', 'error: syntax error at or near "*" (at character 24)'],
  ['WITH users AS (SELECT 1) DELETE FROM users', 'delete:public.users'],
  [
    'WITH x AS (SELECT 1) SELECT * FROM x, (WITH y AS (DELETE FROM users RETURNING *) SELECT * FROM y) z',
    'select:public.users delete:public.users',
  ],
  ['SELECT * FROM (SELECT * FROM (SELECT * FROM (SELECT * FROM secrets) a) b) c', 'select:public.secrets'],
  ['SELECT (SELECT (SELECT ssn FROM secrets LIMIT 1))', 'select:public.secrets'],
  ['SELECT * FROM generate_series(1, (SELECT count(*) FROM secrets))', 'select:public.secrets'],
  ['SELECT 1 FROM t WHERE x = ANY (ARRAY(SELECT id FROM secrets))', 'select:public.t,public.secrets'],
  ['SELECT * FROM t ORDER BY (SELECT max(id) FROM secrets)', 'select:public.t,public.secrets'],
  ['SELECT * FROM t GROUP BY x HAVING count(*) > (SELECT 1 FROM secrets)', 'select:public.t,public.secrets'],
  ['SELECT * FROM t LIMIT (SELECT count(*) FROM secrets)', 'select:public.t,public.secrets'],
  ['VALUES ((SELECT ssn FROM secrets))', 'select:public.secrets'],
  ['EXPLAIN ANALYZE SELECT * FROM secrets', 'explain:public.secrets select:public.secrets'],
  ['BEGIN; DELETE FROM users; COMMIT', 'transaction: delete:public.users transaction:'],
  [
    'SET standard_conforming_strings = off',
    'error: changing standard_conforming_strings would make the server read later queries differently from the guard; refused',
  ],
  [
    "SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false)",
    'error: changing standard_conforming_strings would make the server read later queries differently from the guard; refused',
  ],
]

describe('postgres analysis: evasion attempts', () => {
  it('does not read option values that are not names as functions', () => {
    for (const sql of ['EXPLAIN (ANALYZE) SELECT 1', 'VACUUM (ANALYZE) t', 'COPY t TO STDOUT (FORMAT csv)']) {
      const a = analyzePostgres(sql, ctx)
      expect(a.ok && a.operations.flatMap((o) => o.functions)).toEqual([])
    }
  })

  it.each(EVASIONS)('%s', (sql, expected) => {
    expect(summary(sql)).toBe(expected)
  })

  it.each([
    ["SELECT pg_catalog.pg_read_file('/etc/passwd')", 'pg_catalog.pg_read_file'],
    ["SELECT * FROM pg_catalog.pg_ls_dir('/')", 'pg_catalog.pg_ls_dir'],
    ["SELECT lo_import('/etc/passwd')", 'lo_import'],
    ["SELECT public.dblink_exec('host=x', 'DROP TABLE users')", 'public.dblink_exec'],
    ["SELECT * FROM t, LATERAL (SELECT pg_read_file('/x')) f", 'pg_read_file'],
    ["INSERT INTO t (a) VALUES ((SELECT pg_read_file('/x')))", 'pg_read_file'],
    ["CREATE TABLE t (a text DEFAULT pg_read_file('/x'))", 'pg_read_file'],
    ["UPDATE t SET a = 1 WHERE b IN (SELECT x FROM pg_ls_dir('/') x)", 'pg_ls_dir'],
    ["COPY (SELECT pg_read_file('/x')) TO STDOUT", 'pg_read_file'],
    ['SELECT "pg_read_file"(\'/x\')', 'pg_read_file'],
    ["SELECT PG_READ_FILE('/x')", 'pg_read_file'],
    ["SELECT pg_read_file /* c */ ('/x')", 'pg_read_file'],
    // DDL that makes a later statement call the function without naming it.
    ['CREATE OPERATOR ### (RIGHTARG = text, FUNCTION = pg_read_file)', 'pg_read_file'],
    ['CREATE OPERATOR ### (RIGHTARG = text, PROCEDURE = pg_catalog.pg_read_file)', 'pg_catalog.pg_read_file'],
    ['CREATE AGGREGATE a(text) (SFUNC = textcat, STYPE = text, FINALFUNC = pg_read_file)', 'pg_read_file'],
    ['CREATE CAST (text AS int) WITH FUNCTION pg_read_file(text)', 'pg_read_file'],
    ['ALTER FUNCTION pg_read_file(text) RENAME TO harmless', 'pg_read_file'],
    ['ALTER FUNCTION pg_read_file(text) SECURITY DEFINER', 'pg_read_file'],
    ['GRANT EXECUTE ON FUNCTION pg_read_file(text) TO PUBLIC', 'pg_read_file'],
    ['CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION pg_read_file()', 'pg_read_file'],
    ['CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION pg_ls_dir()', 'pg_ls_dir'],
    ["CREATE CONVERSION c FOR 'LATIN1' TO 'UTF8' FROM pg_read_file", 'pg_read_file'],
    ['CREATE LANGUAGE l HANDLER pg_read_file', 'pg_read_file'],
    ['CREATE FOREIGN DATA WRAPPER w HANDLER pg_read_file', 'pg_read_file'],
    ['CREATE TYPE r AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = pg_read_file)', 'pg_read_file'],
    ['CREATE FUNCTION f(int) RETURNS int LANGUAGE sql SUPPORT pg_read_file AS $$select 1$$', 'pg_read_file'],
  ])('sees %s', (sql, fn) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok && a.operations.some((o) => o.functions.includes(fn))).toBe(true)
  })
})

function expectWellFormed(a: Analysis): void {
  if (a.ok) {
    expect(a.statements).toBeGreaterThanOrEqual(0)
    expect(Array.isArray(a.operations)).toBe(true)
  } else {
    expect(a.error.length).toBeGreaterThan(0)
    expect(a.error).not.toContain('\n')
  }
}

describe('postgres analysis: malformed input', () => {
  it.each([
    ["SELECT 'abc", 'unterminated quoted string'],
    ['SELECT 1 /* no end', 'unterminated /* comment'],
    ['SELECT $$ no end', 'unterminated dollar-quoted string'],
    ['SELECT "no end', 'unterminated quoted identifier'],
    ["SELECT E'\\", 'unterminated quoted string'],
    ['SELECT FROM WHERE', 'syntax error'],
    ['\u00ff\u00fe\u0001\u0002garbage', 'syntax error'],
    ['SELECT 1 )', 'syntax error at or near ")" (at character 10)'],
  ])('refuses %j with the parser error and its position', (sql, message) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok).toBe(false)
    expect(!a.ok && a.error).toContain(message)
    expect(!a.ok && a.error).toMatch(/\(at character \d+\)$/)
  })

  it('refuses NUL characters, which would hide the rest of the query from the parser', () => {
    for (const sql of ['SELECT 1\0; DROP TABLE users', '\0', "SELECT '\0'"]) {
      const a = analyzePostgres(sql, ctx)
      expect(a.ok).toBe(false)
      expect(!a.ok && a.error).toContain('NUL')
    }
  })

  it('reads empty and comment-only queries as zero statements', () => {
    for (const sql of ['', '   \n\t', '-- only a comment', '/* only */ /* comments */', ';', ';;']) {
      const a = analyzePostgres(sql, ctx)
      expect(a).toEqual({
        ok: true,
        operations: [],
        statements: 0,
        prepares: [],
        deallocates: [],
        literalSensitive: false,
      })
    }
  })

  it('analyzes a 1 MB statement', () => {
    const values = Array.from({length: 60_000}, (_, i) => `(${i}, 'row ${i}')`).join(',')
    const sql = `INSERT INTO big (id, label) VALUES ${values}`
    expect(sql.length).toBeGreaterThan(1_000_000)
    expect(summary(sql)).toBe('insert:public.big')
  })

  it('survives deeply nested expressions without throwing', () => {
    for (const depth of [1000, 100_000]) {
      const sql = `SELECT ${'('.repeat(depth)}1${')'.repeat(depth)}`
      expectWellFormed(analyzePostgres(sql, ctx))
      const chain = `SELECT 1${' + 1'.repeat(depth)}`
      expectWellFormed(analyzePostgres(chain, ctx))
    }
  })

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({unit: 'binary', maxLength: 200}), (sql) => {
        expectWellFormed(analyzePostgres(sql, ctx))
      }),
      {numRuns: 500},
    )
  })

  it('never throws on SQL-like fragments', () => {
    const token = fc.constantFrom(
      'SELECT',
      'DELETE',
      'FROM',
      'WHERE',
      'WITH',
      'x',
      'users',
      '(',
      ')',
      ',',
      ';',
      "'a'",
      '$$b$$',
      '--c\n',
      '/*',
      '*/',
      '1',
      '=',
      'AND',
      'OR',
      'NOT',
      'AS',
      'INSERT INTO',
      'VALUES',
      'UPDATE',
      'SET',
      'EXPLAIN ANALYZE',
      'PREPARE p AS',
      'EXECUTE p',
      'RETURNING *',
      "E'\\'",
      '"Q"',
      'U&"\\0075"',
      '$1',
      '::regclass',
      'f(',
      'LATERAL',
    )
    fc.assert(
      fc.property(fc.array(token, {maxLength: 30}), (tokens) => {
        expectWellFormed(analyzePostgres(tokens.join(' '), ctx))
      }),
      {numRuns: 1000},
    )
  })
})
