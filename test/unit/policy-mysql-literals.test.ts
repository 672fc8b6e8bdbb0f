import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {analyzeMysql} from '../../src/policy/mysql/analyze.js'
import {ctx} from '../fixtures/mysql/summarize.js'

/** A WHERE template: text parts with literal slots between them. */
type Template = readonly (string | {readonly slot: true})[]

const SLOT = {slot: true} as const

const leaf: fc.Arbitrary<Template> = fc.oneof(
  // TRUE, FALSE and NULL are keywords the decision cache's key keeps as they are: structure, not slots.
  fc.constantFrom<Template>(
    ['a'],
    ['t.b'],
    ['@v'],
    ['?'],
    ['LENGTH(a)'],
    ['(SELECT 1)'],
    ['NULL'],
    ['TRUE'],
    ['FALSE'],
  ),
  fc.constant<Template>([SLOT]),
  fc.constant<Template>(['-(', SLOT, ')']),
)

const expr: fc.Arbitrary<Template> = fc.letrec<{e: Template}>((tie) => ({
  e: fc.oneof(
    {depthSize: 'small', withCrossShrink: true},
    leaf,
    fc
      .tuple(tie('e'), fc.constantFrom(' AND ', ' OR ', ' XOR '), tie('e'))
      .map(([l, op, r]) => ['(', ...l, op, ...r, ')']),
    tie('e').map((e) => ['NOT (', ...e, ')']),
    fc
      .tuple(leaf, fc.constantFrom(' = ', ' <> ', ' < ', ' >= ', ' LIKE ', ' + '), leaf)
      .map(([l, op, r]) => ['(', ...l, op, ...r, ')']),
    leaf.map((l) => ['(', ...l, ' IS NULL)']),
    leaf.map((l) => ['(', ...l, ' IS NOT NULL)']),
    fc.tuple(leaf, leaf).map(([l, r]) => ['(', ...l, ' IN (', ...r, ', 2))']),
    tie('e').map((e) => ['(a IN (SELECT a FROM t WHERE ', ...e, '))']),
  ),
})).e

const literal = fc.oneof(
  fc.integer({min: -5, max: 5}).map(String),
  fc.constantFrom('0', '1', '0.5', '1e3'),
  fc.string({maxLength: 6}).map((s) => `'${s.replace(/[\\']/g, '')}'`),
  fc.constantFrom("'a'", "'A '", "'1abc'", "'é'", "''"),
)

function fill(t: Template, values: readonly string[]): string {
  let i = 0
  return t.map((p) => (typeof p === 'string' ? p : values[i++ % values.length]!)).join('')
}

describe('analyzeMysql: literalSensitive is structural', () => {
  it('statements that differ only in literals agree on the flag, and on everything when it is false', () => {
    fc.assert(
      fc.property(
        expr,
        fc.constantFrom('DELETE FROM t WHERE ', 'UPDATE t SET c = 1 WHERE ', 'SELECT * FROM t WHERE '),
        fc.array(literal, {minLength: 1, maxLength: 6}),
        fc.array(literal, {minLength: 1, maxLength: 6}),
        (where, head, xs, ys) => {
          const a = analyzeMysql(head + fill(where, xs), ctx)
          const b = analyzeMysql(head + fill(where, ys), ctx)
          if (!a.ok || !b.ok) return
          expect(a.literalSensitive).toBe(b.literalSensitive)
          if (!a.literalSensitive) expect(a.operations).toEqual(b.operations)
        },
      ),
      {numRuns: 400},
    )
  })
})
