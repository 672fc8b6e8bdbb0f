import {beforeAll, describe, expect, it} from 'vitest'

import type {FieldMask} from '../../src/masking/types.js'
import {lineagePostgres} from '../../src/policy/lineage/postgres.js'
import type {StatementLineage} from '../../src/policy/lineage/types.js'
import {
  type FieldPlan,
  mayReadMaskedColumns,
  NO_MASKED_READS,
  type PlanField,
  planMasking,
  typeCategory,
} from '../../src/policy/masking-plan.js'
import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import type {MaskingRule} from '../../src/policy/types.js'
import {catalog} from './policy-lineage-fixture.js'

const pii: MaskingRule = {name: 'pii', columns: ['public.users.email', '*.*.ssn'], style: 'partial'}
const cards: MaskingRule = {name: 'cards', columns: ['public.orders.card'], style: 'hash'}
const strict: MaskingRule = {name: 'strict', columns: ['public.users.ssn'], style: 'null'}
const secrets: MaskingRule = {name: 'secrets', detect: ['email', 'secret'], style: 'redact'}

beforeAll(async () => {
  await loadPostgresParser()
})

function lineage(sql: string): StatementLineage {
  const r = lineagePostgres(sql, catalog, {defaultSchema: 'public'})
  if (!r.ok) throw new Error(r.error)
  const s = r.statements.at(-1)
  if (!s) throw new Error('no statement')
  return s
}

/** Fields as RowDescription would describe them: `table.column` for a plain column, '' for OID 0. */
function fields(...specs: string[]): PlanField[] {
  return specs.map((s) => {
    const [direct, type] = s.split(':')
    return {
      name: s,
      direct: direct ? `public.${direct}` : null,
      typeCategory: type === 'int' ? 'other' : 'text',
    }
  })
}

/** A plan as the tables write it: `-` untouched, `rule/style` for a column mask, `detect` for classifiers. */
function show(plans: readonly FieldPlan[]): string[] {
  return plans.map((p) => (p === null ? '-' : p.kind === 'column' ? `${p.rule}/${p.style}` : 'detect'))
}

describe('planMasking', () => {
  const CASES: [string, MaskingRule[], string, string[], string[]][] = [
    // [what, rules, query, fields (direct:type), expected]
    [
      'a direct column rule',
      [pii],
      'SELECT id, email FROM users',
      ['users.id:int', 'users.email'],
      ['-', 'pii/partial'],
    ],
    ['a glob over any schema and table', [pii], 'SELECT ssn FROM users', ['users.ssn'], ['pii/partial']],
    [
      'a derived column',
      [pii],
      'SELECT id, lower(email) FROM users',
      ['users.id:int', ''],
      // A computed value is redacted: what partial keeps of it (or a hash) is what the client shaped.
      ['-', 'pii/redact'],
    ],
    ['a whole-row reference', [pii], 'SELECT u FROM users u', [''], ['pii/partial']],
    ['an aggregate', [pii, cards], "SELECT string_agg(card, ',') FROM orders", [''], ['cards/redact']],
    [
      "a view column (its direct column is the view's)",
      [pii],
      'SELECT email FROM v_users',
      ['v_users.email'],
      ['pii/partial'],
    ],
    [
      'a filter only',
      [pii],
      "SELECT id, name FROM users WHERE email LIKE '%x'",
      ['users.id:int', 'users.name'],
      ['-', '-'],
    ],
    [
      'policy order between matching rules',
      [pii, strict],
      'SELECT ssn FROM users',
      ['users.ssn'],
      ['pii/partial'],
    ],
    ['policy order, the other way', [strict, pii], 'SELECT ssn FROM users', ['users.ssn'], ['strict/null']],
    [
      'detect-only: text fields scanned',
      [secrets],
      'SELECT id, name FROM users',
      ['users.id:int', 'users.name'],
      ['-', 'detect'],
    ],
    [
      'column rules first, detect on the rest',
      [pii, secrets],
      'SELECT id, name, email FROM users',
      ['users.id:int', 'users.name', 'users.email'],
      ['-', 'detect', 'pii/partial'],
    ],
    ['no masking rules', [], 'SELECT email FROM users', ['users.email'], ['-']],
    // Uncertain lineage: masked with the strictest rule that could match what the statement reads.
    [
      'an unknown function over a masked table',
      [pii, cards, strict],
      'SELECT my_function(id) FROM users',
      [''],
      ['strict/null'],
    ],
    [
      'an unknown column of a table with a masked column',
      [pii, cards],
      'SELECT nosuch FROM orders',
      [''],
      ['cards/redact'],
    ],
    ['an unknown table', [cards], 'SELECT x FROM unknown_table', [''], ['cards/redact']],
    ['an unknown column of a table with no masked column', [pii], 'SELECT nosuch FROM orders', [''], ['-']],
    [
      'a certain column next to an unknown relation',
      [pii],
      'SELECT u.id FROM users u, unknown_table t',
      ['users.id:int'],
      ['-'],
    ],
    // Field count differs from lineage (a misjudged `*`): every field is uncertain.
    [
      'a field count mismatch',
      [pii, cards],
      'SELECT * FROM orders',
      ['', '', '', ''],
      ['cards/redact', 'cards/redact', 'cards/redact', 'cards/redact'],
    ],
    // A statement lineage says returns no rows returned some (a rule's action): lineage was wrong.
    ['rows from a statement that returns none', [pii], 'DELETE FROM orders', [''], ['pii/redact']],
  ]
  it.each(CASES)('%s', (_what, rules, sql, specs, expected) => {
    expect(show(planMasking(rules, fields(...specs), lineage(sql)))).toEqual(expected)
  })

  it('masks every field with the strictest rule when lineage is unknown', () => {
    expect(show(planMasking([pii, cards], fields('users.id:int', ''), undefined))).toEqual([
      'cards/redact',
      'cards/redact',
    ])
  })

  it('redacts a computed value where a rule would keep part of it or hash it', () => {
    // substr(email, 2) under partial showed its first character, the address's second.
    const styles = (rules: MaskingRule[], sql: string, ...specs: string[]): string[] =>
      planMasking(rules, fields(...specs), lineage(sql)).map((p) =>
        p?.kind === 'column' ? p.style : p?.kind === 'detect' ? p.rules.map((r) => r.style).join(',') : '-',
      )
    expect(styles([pii], 'SELECT email, substr(email, 2) FROM users', 'users.email', '')).toEqual([
      'partial',
      'redact',
    ])
    expect(
      styles([pii, cards], "SELECT card, substr(card, 1, 1) FROM orders UNION ALL SELECT 'x', 'a'", '', ''),
    ).toEqual(['hash', 'redact'])
    // Detect rules alone: a field RowDescription names no column of is computed.
    const partialText: MaskingRule = {name: 'emails', detect: ['email'], style: 'partial'}
    expect(styles([partialText], 'SELECT note, substr(note, 2) FROM notes', 'notes.note', '')).toEqual([
      'partial',
      'redact',
    ])
    // A view's column may be computed, whatever RowDescription names.
    const viewField: PlanField = {name: 'b', direct: 'public.v.b', typeCategory: 'text', view: true}
    expect(planMasking([partialText], [viewField], undefined)).toEqual([
      {kind: 'detect', rules: [{rule: 'emails', classifiers: ['email'], style: 'redact'}]},
    ])
  })

  it('plans without lineage when the statement reads no masked column', () => {
    const plan = planMasking([pii, secrets], fields('orders.id:int', 'orders.card', ''), NO_MASKED_READS)
    expect(show(plan)).toEqual(['-', 'detect', 'detect'])
  })

  it('gives detect plans every detect rule, in policy order', () => {
    const other: MaskingRule = {name: 'cards-text', detect: ['credit_card'], style: 'partial'}
    expect(planMasking([secrets, other], fields('users.name'), lineage('SELECT name FROM users'))).toEqual([
      {
        kind: 'detect',
        rules: [
          {rule: 'secrets', classifiers: ['email', 'secret'], style: 'redact'},
          {rule: 'cards-text', classifiers: ['credit_card'], style: 'partial'},
        ],
      },
    ])
  })

  it('yields plans the masker takes once the field type is added', () => {
    const [plan] = planMasking([pii], fields(''), lineage('SELECT lower(email) FROM users'))
    const mask: FieldMask | null = plan ? {...plan, type: 'text'} : null
    expect(mask).toEqual({kind: 'column', rule: 'pii', style: 'redact', type: 'text', nulls: true})
  })

  it("masks a computed value's NULL, and leaves a stored column's passed on whole", () => {
    // nullif(substr(email, 1, 1), 'a') is NULL when the address starts with 'a': its NULL is a value.
    const nulls = (sql: string): (boolean | undefined)[] =>
      planMasking([pii], fields('', ''), lineage(sql)).map((p) =>
        p?.kind === 'column' ? p.nulls : undefined,
      )
    expect(nulls("SELECT nullif(substr(email, 1, 1), 'a'), email FROM users")).toEqual([true, undefined])
    expect(
      nulls('SELECT e, x FROM (SELECT email AS e, max(email) AS x FROM users GROUP BY email) t'),
    ).toEqual([undefined, true])
    expect(nulls('SELECT email, id FROM users UNION ALL SELECT lower(email), id FROM users')).toEqual([
      true,
      undefined,
    ])
    // Unknown lineage: masked, NULL included.
    expect(planMasking([pii], fields('', ''), undefined).map((p) => p?.kind === 'column' && p.nulls)).toEqual(
      [true, true],
    )
  })
})

describe('mayReadMaskedColumns', () => {
  function may(rules: MaskingRule[], sql: string): boolean {
    const a = analyzePostgres(sql, {defaultSchema: 'public'})
    if (!a.ok) throw new Error(a.error)
    return mayReadMaskedColumns(rules, a.operations, catalog)
  }
  const CASES: [string, MaskingRule[], boolean][] = [
    ['SELECT id FROM orders', [pii], false],
    ['SELECT lower(card) FROM orders', [pii], false],
    ['SHOW search_path', [pii], true],
    ['SET search_path = app', [pii], false],
    ['UPDATE orders SET card = $1 WHERE id = $2', [pii], false],
    ['SELECT id FROM users', [pii], true],
    ['SELECT id FROM orders WHERE user_id IN (SELECT id FROM users)', [pii], true],
    ['SELECT email FROM users', [secrets], false],
    ['SELECT * FROM v_names', [pii], true],
    ['SELECT * FROM unknown_table', [pii], true],
    ['SELECT my_function(id) FROM orders', [pii], true],
    // A SELECT of no table may be a FETCH from a cursor over anything.
    ['FETCH 10 FROM c', [pii], true],
    ['SELECT 1', [pii], true],
    ['PREPARE p AS SELECT id FROM orders; EXECUTE p', [pii], true],
  ]
  it.each(CASES)('%s', (sql, rules, expected) => {
    expect(may(rules, sql)).toBe(expected)
  })
})

describe('typeCategory', () => {
  it.each([
    [25, 'text'], // text
    [1043, 'text'], // varchar
    [3802, 'text'], // jsonb
    [142, 'text'], // xml
    [1009, 'text'], // text[]
    [2249, 'text'], // record
    [16_500, 'text'], // a user type
    [23, 'other'], // int4
    [1700, 'other'], // numeric
    [1184, 'other'], // timestamptz
    [2950, 'other'], // uuid
    [17, 'other'], // bytea
  ] as const)('%i is %s', (oid, category) => {
    expect(typeCategory(oid)).toBe(category)
  })
})
