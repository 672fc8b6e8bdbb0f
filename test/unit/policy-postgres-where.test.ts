import fc from 'fast-check'
import {beforeAll, describe, expect, it} from 'vitest'

import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'

const ctx = {defaultSchema: 'public'}

function classify(where: string): {where: string | null | undefined; literalSensitive: boolean} {
  const a = analyzePostgres(`DELETE FROM t ${where}`, ctx)
  if (!a.ok) throw new Error(`${where}: ${a.error}`)
  return {where: a.operations[0]?.where, literalSensitive: a.literalSensitive}
}

beforeAll(async () => {
  await loadPostgresParser()
})

/** WHERE clauses, whether they leave the write unbounded, and whether literal values decided it. */
const WHERES: [string, 'absent' | 'present', boolean][] = [
  ['', 'absent', false],
  ['WHERE true', 'absent', true],
  ['WHERE 1=1', 'absent', true],
  ["WHERE 'a'='a'", 'absent', true],
  ['WHERE NOT false', 'absent', true],
  ['WHERE true OR id = 5', 'absent', true],
  ['WHERE id = 5 OR 1 = 1', 'absent', true],
  ['WHERE 1<2', 'absent', true],
  ["WHERE 't'::boolean", 'absent', true],
  ["WHERE 'yes'", 'absent', true],
  ["WHERE CAST('on' AS bool)", 'absent', true],
  ['WHERE 1::boolean', 'absent', true],
  ['WHERE (1=1) AND (2=2)', 'absent', true],
  ['WHERE ((((true))))', 'absent', true],
  ['WHERE NOT NOT true', 'absent', true],
  ['WHERE NOT (id = 1 AND false)', 'absent', true],
  ['WHERE 1 IN (1, 2)', 'absent', true],
  ['WHERE 3 NOT IN (1, 2)', 'absent', true],
  ['WHERE 2 BETWEEN 1 AND 3', 'absent', true],
  ['WHERE 5 NOT BETWEEN 1 AND 3', 'absent', true],
  ['WHERE NULL IS NULL', 'absent', true],
  ['WHERE 1 IS NOT NULL', 'absent', true],
  ['WHERE (1 = 1) IS TRUE', 'absent', true],
  ['WHERE NULL IS UNKNOWN', 'absent', true],
  ["WHERE '1' = 1", 'absent', true],
  ["WHERE ' 7 '::int = 7", 'absent', true],
  ['WHERE 0.30000000000000001 > 0.3', 'absent', true],
  ['WHERE 1e2 = 100', 'absent', true],
  ['WHERE 1 + 1 = 2', 'absent', true],
  ['WHERE 10 / 3 = 3', 'absent', true],
  ['WHERE -(-1) = 1', 'absent', true],
  ["WHERE 'a' || 'b' = 'ab'", 'absent', true],
  ['WHERE 1 IS DISTINCT FROM 2', 'absent', true],
  ['WHERE NULL IS NOT DISTINCT FROM NULL', 'absent', true],
  ['WHERE 1 OPERATOR(pg_catalog.=) 1', 'absent', true],
  ["WHERE 'true'::text::boolean", 'absent', true],
  ['WHERE id = id', 'absent', false],
  ['WHERE t.id >= t.id', 'absent', false],
  ['WHERE id IS NOT DISTINCT FROM id', 'absent', false],
  // The same for every row but not computed here: fail closed.
  ['WHERE $1', 'absent', false],
  ['WHERE $1 = $1', 'absent', false],
  ["WHERE now() > '2000-01-01'", 'absent', true],
  ["WHERE current_user = 'bob'", 'absent', true],
  ['WHERE EXISTS (SELECT 1)', 'absent', false],
  ['WHERE (SELECT true)', 'absent', false],
  ['WHERE EXISTS (SELECT 1 FROM other)', 'absent', false],
  ["WHERE length('abc') = 3", 'absent', true],
  ["WHERE 'abc' ~ 'a'", 'absent', true],
  ['WHERE now() IS NOT NULL', 'absent', false],
  ['WHERE 1 = 1 OR $1', 'absent', true],
  ['WHERE true AND $1', 'absent', true],
  ['WHERE 0.1::float8 + 0.2::float8 = 0.3', 'absent', true],
  // Restricting clauses.
  ['WHERE id = 5', 'present', false],
  ['WHERE id = $1', 'present', false],
  ['WHERE id = ANY($1)', 'present', false],
  ["WHERE id = 5 AND status = 'x'", 'present', false],
  ['WHERE id IN (1, 2, 3)', 'present', false],
  ['WHERE id BETWEEN 1 AND 10', 'present', false],
  // The parser folds a sign into a number (`-(0)` is one constant) but not into a string: the same verdict.
  ["WHERE name BETWEEN -('t') AND -(0)", 'present', false],
  ['WHERE name BETWEEN -(0) AND -(0)', 'present', false],
  ["WHERE id = +(-('1'))", 'present', false],
  ["WHERE id IN (-('1'), -$1)", 'present', false],
  ['WHERE id IS NOT NULL', 'present', false],
  // An unqualified `*` in a subquery is its own columns, not the row's: the same for every row.
  ['WHERE EXISTS (TABLE t)', 'absent', false],
  ['WHERE EXISTS (SELECT * FROM other)', 'absent', false],
  ['WHERE EXISTS (SELECT * FROM other o WHERE o.id = t.id)', 'present', false],
  // Built-ins computed over the samples: true for every value of their columns.
  ['WHERE abs(id) >= 0', 'absent', true],
  ['WHERE greatest(id, 1) > 0', 'absent', true],
  ['WHERE least(id, 0) <= 0', 'absent', true],
  // Not length: short samples would make any upper bound look true everywhere.
  ['WHERE length(name) < 100', 'present', true],
  ['WHERE num_nonnulls(id, name) >= 0', 'absent', true],
  ['WHERE abs(id) > 0', 'present', true],
  ['WHERE abs(id) < 100', 'present', true],
  ['WHERE greatest(id, 1) < 100', 'present', true],
  ['WHERE greatest(id, 1) > 1', 'present', true],
  // GREATEST of strings follows the collation: a term, as before.
  ["WHERE greatest(name, 'm') > 'a'", 'present', true],
  // System columns are never NULL: testing them bounds nothing, without asking the catalog.
  ['WHERE ctid IS NOT NULL', 'absent', false],
  ['WHERE t.xmin IS NOT NULL OR id = 5', 'absent', true],
  ["WHERE tableoid IS NOT NULL AND ctid <> '(0,1)'", 'present', false],
  ['WHERE "CTID" IS NOT NULL', 'present', false],
  ['WHERE x = y', 'present', false],
  ['WHERE a.id = b.id', 'present', false],
  ['WHERE id IN (SELECT id FROM other)', 'present', false],
  ['WHERE EXISTS (SELECT 1 FROM other o WHERE o.id = t.id)', 'present', false],
  ['WHERE CURRENT OF c', 'present', false],
  ['WHERE random() < 2', 'present', true],
  ['WHERE lower(email) = $1', 'present', false],
  ['WHERE id = 1 AND true', 'present', true],
  ['WHERE false', 'present', true],
  ['WHERE 1 = 2', 'present', true],
  ["WHERE 'a' = 'b'", 'present', true],
  ['WHERE NOT true', 'present', true],
  ['WHERE NULL', 'present', true],
  ['WHERE NULL = NULL', 'present', true],
  ['WHERE 1 = NULL', 'present', true],
  ['WHERE 2 BETWEEN 3 AND 4', 'present', true],
  ['WHERE 1 NOT IN (1, 2)', 'present', true],
  ['WHERE 1 NOT IN (2, NULL)', 'present', true],
  ["WHERE 'f'::boolean", 'present', true],
  ["WHERE 'of'::boolean", 'present', true],
  ['WHERE 0::boolean', 'present', true],
  ['WHERE 0.3 = 0.30000000000000001', 'present', true],
  ['WHERE id = 5 OR 1 = 2', 'present', true],
  ['WHERE NOT (id = id)', 'present', false],
  // Tautologies over columns: true in every row (where-terms.ts samples the terms).
  ['WHERE id IS NULL OR id IS NOT NULL', 'absent', false],
  ['WHERE coalesce(id, 0) = coalesce(id, 0)', 'absent', false],
  ['WHERE lower(name) >= lower(name)', 'absent', false],
  ['WHERE NOT (id <> id)', 'absent', false],
  ['WHERE NOT (id IS DISTINCT FROM id)', 'absent', false],
  ['WHERE id IN (id)', 'absent', false],
  ['WHERE id BETWEEN id AND id', 'absent', false],
  ['WHERE flag OR NOT flag', 'absent', false],
  // The empty string sorts first in every collation: `note >= ''` holds for every text.
  ["WHERE note >= '' OR note IS NULL", 'absent', true],
  ["WHERE '' <= note OR note IS NULL", 'absent', true],
  ["WHERE note > '' OR note IS NULL", 'present', true],
  ["WHERE note < 'm' OR note IS NULL", 'present', true],
  ['WHERE flag IS TRUE OR flag IS NOT TRUE', 'absent', false],
  ['WHERE x = y OR x <> y', 'absent', false],
  ['WHERE id + 0 = id', 'absent', true],
  ['WHERE id * 0 = 0 AND id - id = 0', 'absent', true],
  // A clause that computes with a term is sampled far beyond its constants: these are filters.
  ['WHERE id + 10 > 3', 'present', true],
  ['WHERE id * 2 < 1000', 'present', true],
  ['WHERE id - 5 >= -100', 'present', true],
  ['WHERE id = 5 OR id <> 5', 'absent', true],
  ['WHERE id = 5 OR id <> 5 OR id IS NULL', 'absent', true],
  ['WHERE id > 0 OR id <= 0', 'absent', true],
  ['WHERE 1 IN (1, id)', 'absent', true],
  ["WHERE name <> 'x' OR name = 'x'", 'absent', true],
  ['WHERE (id = 1 OR id <> 1) AND (a = 2 OR a <> 2)', 'absent', true],
  ["WHERE name LIKE '%'", 'absent', true],
  ["WHERE name ILIKE '%%'", 'absent', true],
  ["WHERE name NOT LIKE 'a%' OR name LIKE 'a%'", 'absent', true],
  ["WHERE name LIKE '_%' OR name = ''", 'absent', true],
  ["WHERE 'abc' LIKE 'a%'", 'absent', true],
  // The table matched against itself: each row finds itself, so only NULLs are dropped, as by `id = id`.
  ['WHERE id IN (SELECT id FROM t)', 'absent', false],
  ['WHERE t.id = ANY (SELECT x.id FROM public.t x)', 'absent', false],
  ['WHERE EXISTS (SELECT 1 FROM t x WHERE x.id = t.id)', 'absent', false],
  ['WHERE EXISTS (SELECT 1 FROM t x WHERE t.id = x.id) AND id IS NOT NULL OR true', 'absent', true],
  ['WHERE id IN (SELECT DISTINCT id FROM t GROUP BY id)', 'absent', false],
  ['WHERE id IN (SELECT id FROM t WHERE 1 = 1)', 'absent', true],
  ['WHERE id IN (SELECT id FROM t WHERE a = a)', 'absent', false],
  ['WHERE id IN (SELECT id FROM t) OR a = 1', 'absent', false],
  ['WHERE id IN (SELECT s.id FROM (SELECT id FROM t) s)', 'absent', false],
  ['WHERE EXISTS (SELECT 1 FROM (SELECT id FROM (SELECT id FROM t) a) s WHERE s.id = t.id)', 'absent', false],
  // Rows of columns, the whole row, arrays of the column, every column of a derived table.
  ['WHERE (id, a) IN (SELECT id, a FROM t)', 'absent', false],
  ['WHERE ROW(id) IN (SELECT id FROM t)', 'absent', false],
  ['WHERE t IN (SELECT x FROM t x)', 'absent', false],
  ['WHERE ctid = ANY (ARRAY(SELECT ctid FROM t))', 'absent', false],
  ['WHERE id = ANY ((SELECT array_agg(id) FROM t)::int[])', 'absent', false],
  ['WHERE id IN (SELECT s.id FROM (SELECT * FROM t) s)', 'absent', false],
  ['WHERE (id, a) IN (SELECT id, a FROM (SELECT t.* FROM t) s)', 'absent', false],
  // ...and what looks alike but drops rows.
  ['WHERE id IN (SELECT id FROM t WHERE 1 = 2)', 'present', true],
  ['WHERE id IN (SELECT id FROM t WHERE a = 5)', 'present', false],
  ['WHERE (id, a) IN (SELECT a, id FROM t)', 'present', false],
  ['WHERE (id, a) IN (SELECT id, 1 FROM t)', 'present', false],
  ['WHERE id = ANY (ARRAY(SELECT id FROM t LIMIT 1))', 'present', false],
  ['WHERE id = ANY ((SELECT array_agg(id) FILTER (WHERE a > 1) FROM t)::int[])', 'present', false],
  ['WHERE id = ANY ((SELECT array_agg(a) FROM t)::int[])', 'present', false],
  ['WHERE id <> ANY (ARRAY(SELECT id FROM t))', 'present', false],
  ['WHERE id IN (SELECT s.id FROM (SELECT * FROM t WHERE a = 1) s)', 'present', false],
  ['WHERE id IN (SELECT id FROM t LIMIT 5)', 'present', false],
  ['WHERE id IN (SELECT id FROM (SELECT id FROM t WHERE x = 1) s)', 'present', false],
  ['WHERE id IN (SELECT id FROM (SELECT other AS id FROM t) s)', 'present', false],
  ['WHERE id IN (SELECT id FROM (SELECT id FROM t LIMIT 3) s)', 'present', false],
  ['WHERE id IN (SELECT x FROM (SELECT id FROM t) s(x))', 'present', false],
  ['WHERE id IN (SELECT id FROM ONLY t)', 'present', false],
  ['WHERE id IN (SELECT other_id FROM t)', 'present', false],
  ['WHERE id IN (SELECT id FROM u)', 'present', false],
  // The unqualified name may be this table on the session's search_path: read as the same, failing closed.
  ['WHERE id IN (SELECT id FROM other.t)', 'absent', false],
  ['WHERE id NOT IN (SELECT id FROM t)', 'present', false],
  ['WHERE id < ANY (SELECT id FROM t)', 'present', false],
  ['WHERE id IN (SELECT id FROM t UNION SELECT 1)', 'present', false],
  ['WHERE EXISTS (SELECT 1 FROM t x WHERE x.id = t.other)', 'present', false],
  // ...and filters of the same shapes, which some row fails.
  ["WHERE name LIKE 'a%'", 'present', true],
  ["WHERE name LIKE '_%'", 'present', true],
  ["WHERE name LIKE 'a\\%'", 'present', true],
  ["WHERE 'abc' LIKE 'b%'", 'present', true],
  ['WHERE id = 5 OR id <> 6', 'present', true],
  ['WHERE id <= 5 OR id >= 6', 'present', true],
  ["WHERE a <> '5' OR b < '10'", 'present', true],
  ['WHERE id > 0 OR id IS NULL', 'present', true],
  ['WHERE a = 1 OR b = 2', 'present', true],
  ["WHERE name <> 'x' OR name = 'y'", 'present', true],
  ['WHERE id IS NULL', 'present', false],
  ['WHERE x IS DISTINCT FROM y', 'present', false],
  ["WHERE created_at < now() - interval '1 day'", 'present', true],
  ["WHERE id = 5 AND (name <> 'x' OR name = 'x')", 'present', false],
]

describe('postgres analysis: WHERE of UPDATE and DELETE', () => {
  it.each(WHERES)('DELETE FROM t %s', (where, expected, literalSensitive) => {
    expect(classify(where)).toEqual({where: expected, literalSensitive})
  })

  it.each([
    ['DELETE FROM t USING t t2 WHERE t.id = t2.id', 'absent'],
    ['DELETE FROM t AS a USING public.t b WHERE b.id IS NOT DISTINCT FROM a.id', 'absent'],
    ['UPDATE t SET a = 1 FROM t t2 WHERE t2.id = t.id', 'absent'],
    ['DELETE FROM t a USING t b, t c WHERE b.id = c.id', 'absent'],
    ['DELETE FROM t USING t t2 WHERE t.id = t2.id AND t2.x = 5', 'present'],
    ['DELETE FROM t USING t t2 WHERE t.id = t2.other', 'present'],
    ['DELETE FROM t USING t t2 WHERE t.id <> t2.id AND t.id = 1', 'present'],
    ['DELETE FROM t USING ONLY t t2 WHERE t.id = t2.id', 'present'],
    ['DELETE FROM t USING u WHERE t.id = u.id', 'present'],
  ])('reads two scans of the written table paired row by row as no restriction: %s', (sql, where) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok && a.operations.find((o) => o.kind !== 'select')?.where).toBe(where)
  })

  it('classifies UPDATE the same way and leaves other kinds without a WHERE state', () => {
    const update = analyzePostgres('UPDATE t SET a = 1 WHERE 1 = 1', ctx)
    expect(update.ok && update.operations[0]?.where).toBe('absent')
    const select = analyzePostgres('SELECT * FROM t WHERE 1 = 1', ctx)
    expect(select.ok && select.operations[0]?.where).toBeNull()
    expect(select.ok && select.literalSensitive).toBe(false)
    const merge = analyzePostgres('MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE', ctx)
    expect(merge.ok && merge.operations[0]?.where).toBeNull()
  })

  it('classifies the WHERE of each nested write on its own', () => {
    const a = analyzePostgres(
      'WITH d AS (DELETE FROM a WHERE true RETURNING id) UPDATE b SET x = 1 WHERE id IN (SELECT id FROM d)',
      ctx,
    )
    expect(a.ok && a.operations.map((o) => `${o.kind}:${o.where}`)).toEqual([
      'update:present',
      'delete:absent',
    ])
    expect(a.ok && a.literalSensitive).toBe(true)
  })

  it('marks EXPLAIN option values as literal-sensitive', () => {
    const a = analyzePostgres('EXPLAIN (ANALYZE false) DELETE FROM t', ctx)
    expect(a.ok && a.literalSensitive).toBe(true)
    const b = analyzePostgres('EXPLAIN ANALYZE DELETE FROM t', ctx)
    expect(b.ok && b.literalSensitive).toBe(false)
  })
})

/** A WHERE expression with `?` where a literal goes. */
const template: fc.Arbitrary<string> = fc.letrec<{expr: string}>((tie) => ({
  expr: fc.oneof(
    {depthSize: 'small', withCrossShrink: true},
    fc.constantFrom(
      '?',
      '?',
      '?',
      'id',
      'name',
      '$1',
      'now()',
      'random()',
      'current_user',
      '(SELECT 1)',
      'length(?)',
    ),
    fc
      .tuple(
        fc.constantFrom(
          'NOT (%)',
          '(%) IS NULL',
          '(%) IS NOT NULL',
          '(%) IS TRUE',
          '(%) IS NOT FALSE',
          '-(%)',
          '(%)::int',
          '(%)::boolean',
          '(%)::text',
          '(%)::numeric',
          'id IN (SELECT id FROM t WHERE %)',
          'NOT (t.id = ANY (SELECT x.id FROM t x WHERE %))',
        ),
        tie('expr'),
      )
      .map(([f, e]) => f.replace('%', e)),
    fc
      .tuple(
        tie('expr'),
        fc.constantFrom(
          '=',
          '<>',
          '<',
          '>=',
          '+',
          '-',
          '*',
          '/',
          '%',
          '||',
          'AND',
          'OR',
          'IS DISTINCT FROM',
          'IS NOT DISTINCT FROM',
        ),
        tie('expr'),
      )
      .map(([a, op, b]) => `(${a}) ${op} (${b})`),
    fc
      .tuple(tie('expr'), fc.constantFrom('IN', 'NOT IN'), tie('expr'), tie('expr'))
      .map(([a, op, b, c]) => `(${a}) ${op} (${b}, ${c})`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([a, b, c]) => `(${a}) BETWEEN (${b}) AND (${c})`),
  ),
})).expr

const literal = fc.oneof(
  fc.integer({min: -3, max: 3}).map((n) => (n < 0 ? `(${n})` : String(n))),
  fc.constantFrom('0.3', '0.30000000000000001', '1e2', '2147483648', 'true', 'false', 'NULL'),
  fc.constantFrom('t', 'f', 'yes', 'of', '1', ' 0 ', 'abc', '', '1.5').map((s) => `'${s}'`),
)

function fill(t: string, literals: readonly string[]): string {
  let i = 0
  return t.replace(/\?/g, () => literals[i++ % literals.length] ?? 'NULL')
}

describe('postgres analysis: literal sensitivity is structural', () => {
  it('gives statements that differ only in literals the same literalSensitive, and the same WHERE when it is false', () => {
    fc.assert(
      fc.property(
        template,
        fc.array(literal, {minLength: 1, maxLength: 8}),
        fc.array(literal, {minLength: 1, maxLength: 8}),
        (t, l1, l2) => {
          const a = classify(`WHERE ${fill(t, l1)}`)
          const b = classify(`WHERE ${fill(t, l2)}`)
          expect(a.literalSensitive).toBe(b.literalSensitive)
          if (!a.literalSensitive) expect(a.where).toBe(b.where)
        },
      ),
      {numRuns: 3000},
    )
  })
})
