/**
 * The masking styles as a user sees them: what each style turns a value into, that no output holds
 * the original or its reverse, that outputs are safe inside JSON strings, CSV fields and array
 * literals, and that the hash is keyed and deterministic.
 */
import {describe, expect, it} from 'vitest'

import {maskTextValue, type Classifier, type FieldMask, type MaskStyle} from '../../src/masking/index.js'
import {TOKENS} from './masking-helpers.js'

const KEY = Buffer.from('8d1c4e0f3a7b2c9d5e6f10213243546576879aabbccddeeff0011223344556677', 'hex')
const OTHER_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex')

const detect = (classifiers: readonly Classifier[], style: MaskStyle): FieldMask => ({
  kind: 'detect',
  rules: [{rule: 'r', classifiers, style}],
  type: 'text',
})
const column = (style: MaskStyle): FieldMask => ({kind: 'column', rule: 'c', style, type: 'text'})
const mask = (text: string, plan: FieldMask, key: Uint8Array = KEY) => maskTextValue(text, plan, key)

const SAMPLES: readonly [Classifier, string][] = [
  ['email', 'alice.smith@example.com'],
  ['email', 'zoë@example.de'],
  ['credit_card', '4111 1111 1111 1111'],
  ['credit_card', '378282246310005'],
  ['ssn', '123-45-6789'],
  ['phone', '+1 (415) 555-2671'],
  ['phone', '020 7946 0958'],
  ['iban', 'DE89 3704 0044 0532 0130 00'],
  ['iban', 'GB82WEST12345698765432'],
  ...Object.values(TOKENS).map((t): [Classifier, string] => ['secret', t]),
]

const UNSAFE = /["\\,\n\r\t{}()]/
const reverse = (s: string) => [...s].reverse().join('')

describe('partial', () => {
  it.each([
    ['alice.smith@example.com', 'email', 'a***@example.com'],
    ['zoë@example.de', 'email', 'z***@example.de'],
    ['élodie@example.fr', 'email', 'é***@example.fr'],
    ['4111 1111 1111 1111', 'credit_card', '**** **** **** 1111'],
    ['3782-822463-10005', 'credit_card', '**** **** **** 0005'],
    ['123-45-6789', 'ssn', '***-**-6789'],
    ['+1 (415) 555-2671', 'phone', '***-***-**71'],
    ['DE89 3704 0044 0532 0130 00', 'iban', 'DE** **** 3000'],
    [TOKENS.github_pat_classic!, 'secret', 'ghp_****'],
    [TOKENS.aws_access_key!, 'secret', 'AKIA****'],
    [TOKENS.stripe_live!, 'secret', 'sk_live_****'],
    [TOKENS.pem!, 'secret', '[REDACTED]'],
  ] as const)('shows %s as %s would: %s', (value, kind, expected) => {
    expect(mask(`x ${value} y`, detect([kind], 'partial'))).toBe(`x ${expected} y`)
  })

  it.each([
    ['alice@example.com', 'a***@example.com'],
    ['4111111111111111', '**** **** **** 1111'],
    ['Alexander Hamilton', 'A***'],
    ['Bob', '***'],
    ['"quoted"', '***'],
  ])('masks a whole column value %j as %j', (value, expected) => {
    expect(mask(value, column('partial'))).toBe(expected)
  })
})

describe('every style', () => {
  const styles = ['redact', 'partial', 'hash'] as const
  it.each(SAMPLES.flatMap(([kind, value]) => styles.map((style) => [style, kind, value] as const)))(
    '%s of %s %s holds neither the value nor its reverse, and is JSON/CSV-safe',
    (style, kind, value) => {
      for (const plan of [detect([kind], style), column(style)]) {
        const out = mask(value, plan)!
        expect(out).not.toContain(value)
        expect(out).not.toContain(reverse(value))
        expect(out).not.toMatch(UNSAFE)
        const json = JSON.stringify({v: `note ${value} end`})
        expect(() => JSON.parse(mask(json, {...plan, type: 'json'})!) as unknown).not.toThrow()
      }
    },
  )

  it('falls back to the marker when an output would hold the value or its reverse', () => {
    expect(mask('***', column('partial'))).toBe('[REDACTED]')
    expect(mask('ha', column('hash'))).toBe('[REDACTED]')
    expect(mask('ah', column('hash'))).toBe('[REDACTED]')
    expect(mask('hx', column('hash'))).toMatch(/^hash:[0-9a-f]{16}$/)
  })

  it('redacts with one fixed marker', () => {
    expect(mask('alice@example.com and 123-45-6789', detect(['email', 'ssn'], 'redact'))).toBe(
      '[REDACTED] and [REDACTED]',
    )
    expect(mask('anything at all', column('redact'))).toBe('[REDACTED]')
  })

  it('nulls the field for the null style, in both modes', () => {
    expect(mask('mail alice@example.com', detect(['email'], 'null'))).toBeNull()
    expect(mask('anything', column('null'))).toBeNull()
    expect(mask('nothing to see', detect(['email'], 'null'))).toBe('nothing to see')
  })
})

describe('hash', () => {
  it('is hash: and 16 hex digits, the same for the same value and key', () => {
    const a = mask('alice@example.com', detect(['email'], 'hash'))!
    expect(a).toMatch(/^hash:[0-9a-f]{16}$/)
    expect(mask('alice@example.com', detect(['email'], 'hash'))).toBe(a)
    expect(mask('alice@example.com', column('hash'))).toBe(a)
  })

  it('joins: the value found in free text hashes like the value in its own column', () => {
    const inText = mask('sent to alice@example.com yesterday', detect(['email'], 'hash'))!
    expect(inText).toBe(`sent to ${mask('alice@example.com', column('hash'))} yesterday`)
  })

  it('differs between values and between keys', () => {
    const a = mask('alice@example.com', column('hash'))
    expect(mask('alicf@example.com', column('hash'))).not.toBe(a)
    expect(mask('alice@example.com', column('hash'), OTHER_KEY)).not.toBe(a)
  })

  it('hashes a JSON string column like the text it holds', () => {
    const plan: FieldMask = {kind: 'column', rule: 'c', style: 'hash', type: 'json'}
    expect(mask('"alice@example.com"', plan)).toBe(`"${mask('alice@example.com', column('hash'))}"`)
  })
})

describe('hash style key schedule', () => {
  it('equals HMAC-SHA256 for short, block-sized and long keys', async () => {
    const {createHmac} = await import('node:crypto')
    const {hashOf} = await import('../../src/masking/styles.js')
    for (const len of [16, 32, 64, 65, 100]) {
      const key = Uint8Array.from({length: len}, (_, i) => (i * 7 + len) & 0xff)
      for (const value of ['alice@example.com', '', '\xe9t\xe9']) {
        const want = createHmac('sha256', key).update(value, 'latin1').digest('hex').slice(0, 16)
        expect(hashOf(value, key)).toBe(`hash:${want}`)
      }
    }
  })
})
