/**
 * The decision cache's invariant, proved over generated statements with the real analyzers: a Guard
 * whose cache was warmed by a sibling statement (same shape, other literals, other comments) decides
 * exactly as a Guard without a cache.
 */
import fc from 'fast-check'
import {beforeAll, describe, expect, it} from 'vitest'

import {loadParsers} from '../../src/policy/analyze.js'
import {Guard} from '../../src/policy/guard.js'
import {parsePolicy} from '../../src/policy/language.js'
import type {AnalyzeContext, Dialect, EvalContext} from '../../src/policy/types.js'

const policy = parsePolicy(`version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: no-ddl, when: {kinds: [create, alter, drop, truncate]}, action: deny}
  - {name: unbounded-writes, when: {kinds: [update, delete], where: absent}, action: deny}
  - {name: files, when: {functions: [pg_read_file, "lo_*", load_file]}, action: deny}
  - {name: secrets, when: {tables: [secrets]}, action: deny}
  - {name: agent-writes, when: {kinds: [insert, update, delete, merge], actors: [agent]}, action: review}
  - {name: prod-copy, when: {kinds: [copy], targets: [prod]}, action: review}
  - {name: other-schema, when: {tables: ["other.*"]}, action: review}
masking:
  - {name: agents, detect: [email], style: redact, when: {actors: [agent]}}
  - {name: users, columns: ["*.users.email"], style: hash, when: {tables: [users]}}
`)

/** A statement shape: text with `{}` where a literal goes and `{c}` where a comment may go. */
type Shape = string

const WHERES: readonly string[] = [
  'WHERE id = {}',
  'WHERE {} = {}',
  'WHERE {}',
  'WHERE true',
  'WHERE id = {} OR {} = {}',
  'WHERE id > {} AND {} = {}',
  'WHERE NOT ({} <> {})',
  'WHERE id IN ({}, {})',
  'WHERE id BETWEEN {} AND {}',
  '',
]

const COMMON: readonly Shape[] = [
  'SELECT {c} a, {} FROM {t} {w}',
  'SELECT * FROM {t} {w} ORDER BY 1 LIMIT {}',
  'SELECT count(*) FROM {t} JOIN users u ON u.id = {t}.id {w}',
  'SELECT {} + {} {c}',
  'SELECT lower({}), {} AS x',
  'SELECT * FROM (SELECT {} AS a) s {w}',
  'SELECT * FROM {t} WHERE id IN (SELECT id FROM secrets WHERE v = {})',
  'UPDATE {t} SET v = {} {w}',
  'DELETE FROM {t} {c} {w}',
  'INSERT INTO {t} (a, b) VALUES ({}, {})',
  'DROP TABLE {t}',
  'TRUNCATE {t}',
  'CREATE TABLE {t} (a int DEFAULT {})',
  'SELECT {} UNION SELECT {}',
  '{c} SELECT {}',
]

const POSTGRES: readonly Shape[] = [
  ...COMMON,
  'SELECT pg_read_file({}) {c}',
  'SELECT * FROM generate_series({}, {}) g',
  'SELECT {}::regclass',
  'SELECT {}::text, {}::int',
  'WITH d AS (DELETE FROM {t} {w} RETURNING *) SELECT * FROM d',
  'EXPLAIN ANALYZE UPDATE {t} SET v = {} {w}',
  'EXPLAIN SELECT * FROM {t} {w}',
  'CREATE TABLE x AS SELECT * FROM {t} {w}',
  'SET statement_timeout = {}',
  'SET search_path = {}',
  'COPY {t} TO {}',
  'COPY (SELECT * FROM {t} {w}) TO STDOUT',
  'SELECT * FROM {t} WHERE v = $1 AND w = {}',
  'DO $$ BEGIN PERFORM {}; END $$',
  "SELECT set_config('search_path', {}, false)",
  'SELECT lo_import({})',
  'SELECT {} {c}',
]

const MYSQL: readonly Shape[] = [
  ...COMMON,
  'SELECT load_file({})',
  'SELECT * FROM {t} WHERE v = ? AND w = {}',
  'UPDATE {t} SET v = {} {w} LIMIT {}',
  'DELETE FROM {t} {w} LIMIT {}',
  'REPLACE INTO {t} (a) VALUES ({})',
  'SET @x = {}',
  'SET NAMES utf8mb4',
  'SHOW VARIABLES LIKE {}',
  'SELECT {} {c}',
  'SELECT * FROM {t} {w} /*! AND 1 = {} */',
  'SELECT IF({}, {}, {}) FROM {t}',
]

const TABLES = ['t', 'users', 'secrets', 'other.t', 'public.orders']

const text = fc.oneof(
  fc.string({maxLength: 12}),
  fc.constantFrom(
    ';',
    '--',
    '/*',
    '*/',
    "'",
    '$$',
    '\\',
    'é',
    '\n',
    'x; DROP TABLE t',
    '1 = 1',
    '',
    'a',
    '1',
  ),
)
const quote = (s: string) => `'${s.replaceAll("'", "''")}'`

/**
 * Literal spellings by token class, per dialect, including what the lexers refuse (those queries must
 * take the cold path). Siblings mostly draw both literals of a slot from one class, so that they share a
 * cache key; small values are frequent so that siblings often differ in truthiness (`1 = 1` / `1 = 2`).
 */
function literalClasses(dialect: Dialect): fc.Arbitrary<string>[] {
  const big = fc.constantFrom('99999999999999999999', '9223372036854775808', '1' + '0'.repeat(400), '0000')
  const ints = fc.oneof({weight: 3, arbitrary: fc.constantFrom('0', '1', '2')}, fc.nat().map(String), big)
  const decimals = fc.constantFrom('0.0', '1.5', '1.', '2.50', '007.0', `1.${'5'.repeat(100)}`)
  const exponents = fc.constantFrom('2e3', '1e-2', '1E+5', '0e0', '1e999', '1e-999', '1.7976931348623157e309')
  const strings = fc.oneof(
    {weight: 2, arbitrary: fc.constantFrom("'1'", "'a'", "''", "'0'")},
    text.map(quote),
  )
  const odd = ['0x1F', '1_000', '99999999999999999999', 'true', 'false', 'NULL']
  if (dialect === 'postgres') {
    return [
      ints,
      decimals,
      exponents,
      strings,
      text.map((s) => `E${quote(s)}`),
      text.map((s) => `N${quote(s)}`),
      text.filter((s) => !s.includes('$')).map((s) => `$$${s}$$`),
      fc.constantFrom(...odd, "U&'\\0041'", "b'101'", "x'1F'", "E'\\x41'", "'a'\n'b'", "E'\\''"),
    ]
  }
  return [
    ints,
    decimals,
    exponents,
    strings,
    text.map((s) => `_utf8mb4${quote(s)}`),
    text.filter((s) => !s.includes('\\')).map((s) => `"${s.replaceAll('"', '""')}"`),
    fc.constantFrom(...odd, "X'1F'", "b'01'", "'a\\'b'", "'a' 'b'", "N'n'", '0b101'),
  ]
}

/** A pair of literals for one slot: usually of one class, sometimes of any two. */
function literalPair(dialect: Dialect): fc.Arbitrary<[string, string]> {
  const classes = literalClasses(dialect)
  const same = fc.constantFrom(...classes).chain((c) => fc.tuple(c, c))
  const any = fc.tuple(fc.oneof(...classes), fc.oneof(...classes))
  return fc.oneof({weight: 4, arbitrary: same}, {weight: 1, arbitrary: any})
}

const commentText = fc.constantFrom('trace=1', 'a b c', 'y', 'DROP TABLE t', "it's", '1 = 1', '')
/** What goes where a shape says `{c}`: nothing, or a comment in a style the dialect knows. */
function comment(dialect: Dialect): fc.Arbitrary<string> {
  const styles = [
    fc.constant(''),
    commentText.map((t) => `/* ${t} */`),
    commentText.map((t) => `-- ${t}\n`),
    ...(dialect === 'mysql'
      ? [commentText.map((t) => `# ${t}\n`)]
      : [commentText.map((t) => `/* /* ${t} */ */`)]),
  ]
  return fc.oneof(...styles)
}

function render(
  shape: Shape,
  table: string,
  where: string,
  lits: readonly string[],
  comments: readonly string[],
) {
  let li = 0
  let ci = 0
  return shape
    .replaceAll('{w}', where)
    .replaceAll('{t}', table)
    .replace(/\{\}|\{c\}/g, (m) => (m === '{}' ? (lits[li++] ?? '1') : (comments[ci++] ?? '')))
}

/** Generates sibling queries: the same shapes, tables and WHERE forms, with their own literals and comments. */
function siblings(dialect: Dialect): fc.Arbitrary<[string, string]> {
  const shapes = dialect === 'postgres' ? POSTGRES : MYSQL
  const statement = fc.tuple(
    fc.constantFrom(...shapes),
    fc.constantFrom(...TABLES),
    fc.constantFrom(...WHERES),
  )
  return fc.array(statement, {minLength: 1, maxLength: 3}).chain((stmts) => {
    const slots = stmts.map(([s, , w]) => (s.replaceAll('{w}', w).match(/\{\}/g) ?? []).length)
    const total = slots.reduce((a, b) => a + b, 0)
    const comments = fc.array(comment(dialect), {minLength: stmts.length * 2, maxLength: stmts.length * 2})
    return fc
      .tuple(fc.array(literalPair(dialect), {minLength: total, maxLength: total}), comments, comments)
      .map(([pairs, ca, cb]) => {
        const build = (side: 0 | 1, cs: string[]) => {
          let offset = 0
          return stmts
            .map(([shape, table, where], i) => {
              const mine = pairs.slice(offset, offset + slots[i]!).map((p) => p[side])
              offset += slots[i]!
              return render(shape, table, where, mine, cs.slice(i * 2, i * 2 + 2))
            })
            .join('; ')
        }
        return [build(0, ca), build(1, cb)] as [string, string]
      })
  })
}

const CONSTANT_WHERES: readonly string[] = [
  '{} = {}',
  '{}',
  '{} <> {}',
  'NOT ({} = {})',
  'id = 1 OR {} = {}',
  '{} = {} AND id = 1',
  '({} = {}) OR ({} = {})',
  '{} IS NULL',
  '{} IN ({}, {})',
  '{} < {}',
  '{} + {} = {}',
  '{} LIKE {}',
]

/** Sibling UPDATE/DELETE statements whose WHERE is made of literals: small values, one class per slot. */
function constantWhereSiblings(): fc.Arbitrary<[string, string]> {
  const head = fc.constantFrom('UPDATE t SET v = 1', 'DELETE FROM t', 'DELETE FROM secrets')
  const small = [
    fc.constantFrom('0', '1', '2'),
    fc.constantFrom("'0'", "'1'", "'a'", "''"),
    fc.constantFrom('0.0', '1.5'),
  ]
  const pair = fc.constantFrom(...small).chain((c) => fc.tuple(c, c))
  return fc.tuple(head, fc.constantFrom(...CONSTANT_WHERES)).chain(([h, w]) => {
    const n = (w.match(/\{\}/g) ?? []).length
    return fc.array(pair, {minLength: n, maxLength: n}).map((pairs) => {
      const build = (side: 0 | 1) => {
        let i = 0
        return `${h} WHERE ${w.replace(/\{\}/g, () => pairs[i++]![side])}`
      }
      return [build(0), build(1)] as [string, string]
    })
  })
}

const contexts = fc.constantFrom<EvalContext>(
  {actor: 'human'},
  {actor: 'agent', identity: 'bot@example.com'},
  {actor: 'human', target: 'prod', groups: ['dba']},
)
const schemas = (dialect: Dialect) =>
  fc.constantFrom<AnalyzeContext>(
    {defaultSchema: dialect === 'postgres' ? 'public' : 'app'},
    {defaultSchema: 'other'},
  )

describe.each<Dialect>(['postgres', 'mysql'])('decision cache (%s)', (dialect) => {
  beforeAll(async () => {
    await loadParsers()
  })

  it('decides a statement exactly as the uncached path after a sibling warmed the cache', () => {
    const cached = new Guard(policy, dialect)
    const uncached = new Guard(policy, dialect, {cacheSize: 0})
    fc.assert(
      fc.property(siblings(dialect), contexts, schemas(dialect), ([warm, probe], ctx, actx) => {
        expect(cached.decide(warm, ctx, actx)).toEqual(uncached.decide(warm, ctx, actx))
        expect(cached.decide(probe, ctx, actx)).toEqual(uncached.decide(probe, ctx, actx))
        // Once more, now surely through the cache when the shape is cacheable.
        expect(cached.decide(probe, ctx, actx)).toEqual(uncached.decide(probe, ctx, actx))
      }),
      {numRuns: 400},
    )
    // The property means something only if the cache was used.
    expect(cached.stats.hits).toBeGreaterThan(100)
  })

  it('never shares a decision between constant WHERE clauses of different truth', () => {
    const cached = new Guard(policy, dialect)
    const uncached = new Guard(policy, dialect, {cacheSize: 0})
    const actx = {defaultSchema: 'app'}
    fc.assert(
      fc.property(constantWhereSiblings(), contexts, ([warm, probe], ctx) => {
        expect(cached.decide(warm, ctx, actx)).toEqual(uncached.decide(warm, ctx, actx))
        expect(cached.decide(probe, ctx, actx)).toEqual(uncached.decide(probe, ctx, actx))
      }),
      {numRuns: 300},
    )
    // Constant WHERE clauses are literal-sensitive: their shapes must have gone around the cache.
    expect(cached.stats.bypassed).toBeGreaterThan(0)
  })

  it('never lets a sibling decide for a statement of another context', () => {
    const cached = new Guard(policy, dialect)
    const uncached = new Guard(policy, dialect, {cacheSize: 0})
    fc.assert(
      fc.property(siblings(dialect), contexts, contexts, schemas(dialect), ([warm, probe], c1, c2, actx) => {
        cached.decide(warm, c1, actx)
        expect(cached.decide(probe, c2, actx)).toEqual(uncached.decide(probe, c2, actx))
      }),
      {numRuns: 200},
    )
  })
})
