/**
 * Property: whatever text surrounds a generated email, card number, SSN or IBAN (any Unicode, JSON
 * punctuation, other numbers), the masked field never contains that value nor its reverse, and a field
 * masked in JSON mode that was valid JSON stays valid JSON.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {maskTextValue, type FieldMask, type MaskStyle} from '../../src/masking/index.js'
import {ALL} from './masking-helpers.js'

const KEY = Buffer.from('a3f1c2d4e5b6978812345678deadbeef', 'hex')
const digits = (n: number) => fc.array(fc.integer({min: 0, max: 9}), {minLength: n, maxLength: n})

function luhnDigit(body: number[]): number {
  let sum = 0
  for (let i = 0; i < body.length; i++) {
    let d = body[body.length - 1 - i]!
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2
    sum += d
  }
  return (10 - (sum % 10)) % 10
}

/** Issuer prefixes with a card length and the ways that length is printed. */
const ISSUERS: readonly [string, number, readonly (readonly number[])[]][] = [
  ['4', 16, [[16], [4, 4, 4, 4]]],
  ['4', 13, [[13]]],
  ['4', 19, [[19], [4, 4, 4, 4, 3]]],
  ['53', 16, [[16], [4, 4, 4, 4]]],
  ['2720', 16, [[16], [4, 4, 4, 4]]],
  ['37', 15, [[15], [4, 6, 5]]],
  ['6011', 16, [[16], [4, 4, 4, 4]]],
  ['3589', 17, [[17], [4, 4, 4, 4, 1]]],
  ['36', 14, [[14], [4, 6, 4]]],
]

const card = fc
  .tuple(fc.constantFrom(...ISSUERS), digits(18), fc.nat(), fc.constantFrom(' ', '-'))
  .map(([[prefix, length, layouts], rest, pick, sep]) => {
    const body = [...prefix]
      .map(Number)
      .concat(rest)
      .slice(0, length - 1)
    const number = body.join('') + String(luhnDigit(body))
    const layout = layouts[pick % layouts.length]!
    let at = 0
    return layout.map((n) => number.slice(at, (at += n))).join(sep)
  })

const ssn = fc
  .tuple(fc.integer({min: 1, max: 899}), fc.integer({min: 1, max: 99}), fc.integer({min: 1, max: 9999}))
  .filter(([a]) => a !== 666)
  .map(
    ([a, g, s]) =>
      `${String(a).padStart(3, '0')}-${String(g).padStart(2, '0')}-${String(s).padStart(4, '0')}`,
  )

const LOCAL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const email = fc
  .tuple(
    fc.string({unit: fc.constantFrom(...LOCAL), minLength: 1, maxLength: 12}),
    fc.option(fc.string({unit: fc.constantFrom(...LOCAL, '.', '_', '+', '-'), minLength: 1, maxLength: 8})),
    fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
      minLength: 1,
      maxLength: 12,
    }),
    fc.constantFrom('com', 'org', 'net', 'io', 'de', 'fr', 'co.uk', 'example', 'travel'),
  )
  .map(([head, tail, domain, tld]) => `${head}${tail === null ? '' : tail + 'x'}@${domain}.${tld}`)

function mod97(s: string): number {
  let r = 0
  for (const c of s) r = (r * 10 + Number(c)) % 97
  return r
}

/** Countries with all-digit BBANs of their registered length. */
const COUNTRIES: readonly [string, number][] = [
  ['DE', 18],
  ['ES', 20],
  ['BE', 12],
  ['NO', 11],
  ['PL', 24],
  ['FI', 14],
  ['SE', 20],
  ['CH', 17],
]
const iban = fc.tuple(fc.constantFrom(...COUNTRIES), digits(24), fc.boolean()).map(([[cc, n], d, spaced]) => {
  const bban = d.slice(0, n).join('')
  const numeric = bban + [...cc].map((c) => String(c.charCodeAt(0) - 55)).join('') + '00'
  const compact = `${cc}${String(98 - mod97(numeric)).padStart(2, '0')}${bban}`
  return spaced ? compact.replace(/(.{4})(?=.)/g, '$1 ') : compact
})

const SEPARATORS = [' ', '\n', '\t', '"', ',', ';', '<', '>', '(', ')', '[', ']', '{', '}', '|']
const around = fc.tuple(fc.string({maxLength: 40, unit: 'grapheme'}), fc.constantFrom(...SEPARATORS))

const reverse = (s: string) => [...s].reverse().join('')
const plan = (style: MaskStyle): FieldMask => ({
  kind: 'detect',
  rules: [{rule: 'r', classifiers: ALL, style}],
  type: 'text',
})

describe.each([
  ['an email', email],
  ['a card number', card],
  ['an SSN', ssn],
  ['an IBAN', iban],
])('%s embedded in random text', (_name, value) => {
  it('never survives masking, nor does its reverse', () => {
    fc.assert(
      fc.property(
        value,
        around,
        around,
        fc.constantFrom('redact', 'partial', 'hash') as fc.Arbitrary<MaskStyle>,
        (v, [pre, s1], [post, s2], style) => {
          const out = maskTextValue(`${pre}${s1}${v}${s2}${post}`, plan(style), KEY)
          expect(out).not.toBeNull()
          expect(out).not.toContain(v)
          expect(out).not.toContain(reverse(v))
        },
      ),
      {numRuns: 300},
    )
  })

  it('never survives inside JSON, and the JSON stays valid', () => {
    fc.assert(
      fc.property(value, fc.string({maxLength: 30}), fc.string({maxLength: 30}), (v, pre, post) => {
        const json = JSON.stringify({note: `${pre} ${v} ${post}`, list: [pre, v], n: 1})
        const out = maskTextValue(json, {...plan('partial'), type: 'json'}, KEY)!
        expect(out).not.toContain(v)
        const parsed = JSON.parse(out) as {note: string; list: string[]}
        expect(parsed.note).not.toContain(v)
        expect(parsed.list[1]).not.toContain(v)
      }),
      {numRuns: 200},
    )
  })
})

describe('the prefilter', () => {
  // Fragments that build every kind of value (and near misses) when strung together at random.
  const FRAGMENTS = [
    ...'0123456789',
    ...' -.()+@:=_"\\\n',
    'a',
    'x',
    'é',
    'Z',
    'ssn: ',
    'password=',
    'api_key: ',
    '4111 1111 1111 1111',
    '4222222222222',
    '123-45-6789',
    '415-555-2671',
    '+44 20 7946 0958',
    'DE89 3704 0044 0532 0130 00',
    'alice@example.com',
    'AKIAIOSFODNN7EXAMPLE',
    'ghp_',
    'sk-',
    'sk_live_',
    'xoxb-',
    'eyJhbGciOiJIUzI1NiJ9',
    '.eyJzdWIiOiIxIn0',
    '-----BEGIN PRIVATE KEY-----',
    'https://u:',
    'Ab1',
    'npm_',
    'github_pat_',
    'glpat-',
    'AIza',
    'SG.',
    'pypi-AgE',
  ]
  const text = fc.array(fc.constantFrom(...FRAGMENTS), {maxLength: 30}).map((parts) => parts.join(''))

  it('never rules out a classifier that would find something', async () => {
    const {prefilter} = await import('../../src/masking/prefilter.js')
    const {scanLatin1} = await import('../../src/masking/scan.js')
    fc.assert(
      fc.property(text, (t) => {
        const bytes = Buffer.from(t, 'utf8')
        const allowed = prefilter(bytes, 63)
        for (let bit = 1; bit < 64; bit <<= 1) {
          if ((allowed & bit) !== 0) continue
          expect(scanLatin1(bytes.toString('latin1'), bit)).toEqual([])
        }
      }),
      {numRuns: 3000},
    )
  })
})
