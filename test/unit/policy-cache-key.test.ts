/**
 * The decision cache's key as the guard uses it: a hash read straight from the query plus an exact
 * comparison with the stored key text on every hit. Statements that differ only in literals (or in
 * the body of an ordinary comment) share a key; anything the server could read differently never does,
 * and a hash collision never hands one statement another's decision.
 */
import fc from 'fast-check'
import {beforeAll, describe, expect, it} from 'vitest'

import {loadParsers} from '../../src/policy/analyze.js'
import {Guard} from '../../src/policy/guard.js'
import {parsePolicy} from '../../src/policy/language.js'
import {hashText, normalize, scan, ShapeScan, type ShapeKey} from '../../src/policy/normalize/index.js'
import type {Dialect, EvalContext} from '../../src/policy/types.js'

const SEED = hashText('ctx')

/** The hash and text of a query's key, or null when it has none. */
function keyOf(
  sql: string,
  dialect: Dialect,
): {hash: number; text: string; key: ShapeKey; scan: ShapeScan} | null {
  const s = new ShapeScan()
  if (!scan(sql, dialect, s)) return null
  return {hash: s.hash(SEED), text: s.render(), key: s.key(), scan: s}
}

/** True when the guard's cache would treat `a` and `b` as one key (hash and exact text both equal). */
function shareKey(a: string, b: string, dialect: Dialect): boolean {
  const ka = keyOf(a, dialect)
  const kb = keyOf(b, dialect)
  if (ka === null || kb === null) return false
  return ka.hash === kb.hash && kb.scan.matches(ka.key)
}

describe.each<Dialect>(['postgres', 'mysql'])('cache key (%s)', (dialect) => {
  it.each([
    [
      'SELECT abalance FROM pgbench_accounts WHERE aid = 1;',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 987654;',
    ],
    ["select * from t where a = 'x' and b = 2.5", "select * from t where a = 'a longer one' and b = 0.001"],
    ["insert into t values (1, 'a'), (2, 'b')", "insert into t values (30, ''), (40, 'zz')"],
    ['select 1 /* why */ from t', 'select 22 /* another reason */ from t'],
  ])('%j and %j share a key', (a, b) => {
    expect(shareKey(a, b, dialect)).toBe(true)
    expect(keyOf(a, dialect)?.text).toBe(normalize(a, dialect))
  })

  it.each([
    ['select a from t', 'select a from T'],
    ['select a from t', 'select A from t'],
    ['select a from t', 'select a from "t"'],
    ['select a from t1', 'select a from t2'],
    ['select 1 from t', 'select 1 from t where false'],
    ['select 1, 2', 'select 1.0, 2'],
    ["select '1'", 'select 1'],
    ['select 1 - 1', 'select 1 -- 1'],
    ['select 1 -1', 'select 1 --1\n'],
    ['select a-b', 'select a - b'],
    ['select 1 + 1', 'select 1 ++ 1'],
    ['select 1;', 'select 1; select 1'],
    ['select  1', 'select 1'],
    ["select 'a'\n'b'", "select 'a' 'b'"],
    ['select a from t', 'select a from t '],
  ])('%j and %j never share a key', (a, b) => {
    expect(shareKey(a, b, dialect)).toBe(false)
    expect(shareKey(b, a, dialect)).toBe(false)
  })

  it('gives equal key texts equal hashes and unequal ones a failed comparison, over generated queries', () => {
    const token = fc.constantFrom(
      'select',
      'SELECT',
      ' ',
      '\n',
      'a',
      'A',
      'a1',
      '"a"',
      '`a`',
      ',',
      '-',
      '--',
      '-- c\n',
      '/* c */',
      '/*+ hint */',
      "'x'",
      "''",
      "$$''$$",
      '"\'\'"',
      '/**/',
      '0.0',
      '0e0',
      'E',
      'e',
      'N',
      "b'1'",
      "x'1F'",
      '.',
      '\t',
      "'it''s'",
      "E'x'",
      '1',
      '2.5',
      '1e3',
      '$1',
      '$$x$$',
      '$t$y$t$',
      '#',
      '# c\n',
      '@v',
      "@'v'",
      '(',
      ')',
      ';',
    )
    const query = fc.array(token, {maxLength: 12}).map((ts) => ts.join(''))
    fc.assert(
      fc.property(query, query, (a, b) => {
        const ka = keyOf(a, dialect)
        const kb = keyOf(b, dialect)
        if (ka === null || kb === null) return
        // The comparison the cache makes on a hit is exactly equality of the key texts (no two span
        // structures render alike)...
        expect(kb.scan.matches(ka.key)).toBe(ka.text === kb.text)
        expect(ka.scan.matches(kb.key)).toBe(ka.text === kb.text)
        expect(ka.key.text).toBe(ka.text)
        // ...and equal texts always land on the same slot.
        if (ka.text === kb.text) expect(ka.hash).toBe(kb.hash)
      }),
      {numRuns: 5000},
    )
  })
})

describe('cache key (postgres only)', () => {
  it.each([
    ['select $$a$$', 'select $$b$$'],
    ['select $a$x$a$', 'select $b$x$b$'],
    ["select E'a'", "select 'a'"],
    ["select E'a'", "select e'a'"],
    ["select b'1'", "select b'10'"],
    ["select X'1F'", "select X'2F'"],
    ['select $1', 'select $2'],
    ['select "A"', 'select "a"'],
  ])('%j and %j never share a key', (a, b) => {
    expect(shareKey(a, b, 'postgres')).toBe(false)
  })

  it.each([
    ["select E'a\\nb'", "select E'\\\\'"],
    ['select 1e5', 'select 2E-7'],
    ['select 1 -- one\nfrom t', "select 2 -- two, with 'quotes' and /* stars\nfrom t"],
    ['select /* a /* nested */ one */ 1', 'select /* other */ 2'],
  ])('%j and %j share a key', (a, b) => {
    expect(shareKey(a, b, 'postgres')).toBe(true)
  })

  it('is exact on strings with characters outside one byte, inside literals and quoted names', () => {
    expect(shareKey('select \'é\' from "ü"', 'select \'x\' from "ü"', 'postgres')).toBe(true)
    expect(shareKey('select \'é\' from "ü"', 'select \'é\' from "u"', 'postgres')).toBe(false)
    expect(shareKey('select $$€$$', 'select $$€€$$', 'postgres')).toBe(false)
  })
})

describe('cache key (mysql only)', () => {
  it.each([
    ['select /*+ BKA(t) */ 1 from t', 'select /*+ NO_BKA(t) */ 1 from t'],
    ['select `a` from t', 'select `A` from t'],
    ['select "a"', "select 'a'"],
    ["select @'a'", "select @'b'"],
    ['select 1e5', 'select 1e6'],
  ])('%j and %j never share a key', (a, b) => {
    expect(shareKey(a, b, 'mysql')).toBe(false)
  })

  it.each([
    ['select 1 -- one\nfrom t', 'select 2 -- two\nfrom t'],
    ['select 1 # one\nfrom t', 'select 2 # two\nfrom t'],
  ])('%j and %j share a key', (a, b) => {
    expect(shareKey(a, b, 'mysql')).toBe(true)
  })

  it.each(['select 1 /*! , secret */', 'select 1 /*M! , secret */', 'select 1--1', 'select 1 --x'])(
    '%j has no key (executable comment or `--` that is not a comment)',
    (sql) => {
      expect(keyOf(sql, 'mysql')).toBeNull()
    },
  )
})

describe('guard with every key colliding', () => {
  const policy = parsePolicy(`version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: secrets, when: {tables: [secrets]}, action: deny}
  - {name: no-drop, when: {kinds: [drop]}, action: deny}
  - {name: unbounded-writes, when: {kinds: [update, delete], where: absent}, action: deny}
`)
  const ctx: EvalContext = {actor: 'human', identity: 'perf-helper@example.com', groups: ['dev']}
  const statements = [
    'SELECT a FROM orders WHERE id = 1',
    'SELECT a FROM secrets WHERE id = 1',
    'SELECT a FROM orders WHERE id = 2',
    'DROP TABLE orders',
    'DELETE FROM orders',
    'DELETE FROM orders WHERE id = 7',
    'SELECT a FROM Secrets WHERE id = 3',
    'SELECT a FROM orders WHERE id = 3',
  ]

  beforeAll(async () => {
    await loadParsers()
  })

  it.each<Dialect>(['postgres', 'mysql'])(
    'never hands a tautology the cached decision of a filter that differs only in literals (%s)',
    (dialect) => {
      const guard = new Guard(policy, dialect)
      const actx = {defaultSchema: dialect === 'postgres' ? 'public' : 'app'}
      const decide = (sql: string): string => guard.decide(sql, ctx, actx).decision.decision
      expect(decide('DELETE FROM orders WHERE id = 5 OR id <> 6')).toBe('allow')
      expect(decide('DELETE FROM orders WHERE id = 5 OR id <> 5')).toBe('deny')
      expect(decide('DELETE FROM orders WHERE id = 7 OR id <> 8')).toBe('allow')
    },
  )

  it.each<Dialect>(['postgres', 'mysql'])('decides each statement as the uncached path (%s)', (dialect) => {
    const colliding = new Guard(policy, dialect, {shapeHash: () => 42})
    const uncached = new Guard(policy, dialect, {cacheSize: 0})
    const actx = {defaultSchema: dialect === 'postgres' ? 'public' : 'app'}
    for (let round = 0; round < 2; round++)
      for (const sql of statements) {
        const got = colliding.decide(sql, ctx, actx)
        expect(got).toEqual(uncached.decide(sql, ctx, actx))
      }
    expect(colliding.decide('SELECT a FROM secrets WHERE id = 9', ctx, actx).decision.decision).toBe('deny')
    // Consecutive siblings still hit: a collision costs a miss, never a wrong answer.
    colliding.decide('SELECT a FROM orders WHERE id = 10', ctx, actx)
    const hits = colliding.stats.hits
    colliding.decide('SELECT a FROM orders WHERE id = 11', ctx, actx)
    expect(colliding.stats.hits).toBe(hits + 1)
  })

  it('never hands a decision to another context under the same hash', () => {
    const colliding = new Guard(policy, 'postgres', {shapeHash: () => 7})
    const actx = {defaultSchema: 'public'}
    colliding.decide('SELECT a FROM t WHERE id = 1', ctx, actx)
    const other = colliding.decide('SELECT a FROM t WHERE id = 2', ctx, {defaultSchema: 'secrets'})
    expect(other.decision.decision).toBe('allow')
    expect(colliding.stats).toEqual({hits: 0, misses: 2, bypassed: 0})
  })
})

describe('cache eviction', () => {
  beforeAll(async () => {
    await loadParsers()
  })
  const policy = parsePolicy('version: 1\ndefaults: {action: allow, unparseable: deny}\nrules: []\n')
  const ctx: EvalContext = {actor: 'human'}
  const actx = {defaultSchema: 'public'}

  it('keeps a statement used at least every half-capacity new statements, and stays bounded', () => {
    const guard = new Guard(policy, 'postgres', {cacheSize: 10})
    guard.decide('select a from hot where id = 1', ctx, actx)
    for (let i = 0; i < 60; i++) {
      guard.decide(`select a from cold${i}`, ctx, actx)
      if (i % 4 === 3) guard.decide(`select a from hot where id = ${i}`, ctx, actx)
    }
    // One miss for the hot shape, one per cold table; every later hot query hit.
    expect(guard.stats).toEqual({hits: 15, misses: 61, bypassed: 0})
    expect(guard.cacheEntries).toBe(10)
  })

  it('evicts a statement not used for a whole capacity of new statements', () => {
    const guard = new Guard(policy, 'postgres', {cacheSize: 10})
    guard.decide('select a from t where id = 1', ctx, actx)
    for (let i = 0; i < 10; i++) guard.decide(`select a from other${i}`, ctx, actx)
    guard.decide('select a from t where id = 2', ctx, actx)
    expect(guard.stats).toEqual({hits: 0, misses: 12, bypassed: 0})
  })
})
