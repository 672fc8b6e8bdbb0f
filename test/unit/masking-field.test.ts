/**
 * maskField, the proxy's per-field entry point: the original Buffer back when nothing is masked, NULL
 * for values that cannot hold a replacement, bytes around a masked span kept exactly (multi-byte text,
 * invalid UTF-8), JSON kept valid, jsonb's binary version byte kept, and malformed input survived.
 */
import {describe, expect, it} from 'vitest'

import {
  FIELD_NULL,
  FIELD_UNCHANGED,
  MaskOutput,
  maskField,
  maskFieldRange,
  maskTextValue,
  type FieldMask,
} from '../../src/masking/index.js'
import {ALL} from './masking-helpers.js'

const KEY = Buffer.from('5f4dcc3b5aa765d61d8327deb882cf99', 'hex')
const detectAll = (type: FieldMask['type'] = 'text', style: 'redact' | 'partial' = 'redact'): FieldMask => ({
  kind: 'detect',
  rules: [{rule: 'pii', classifiers: ALL, style}],
  type,
})
const bytes = (s: string) => Buffer.from(s, 'utf8')

describe('a field with nothing to mask', () => {
  it.each([
    'Stainless steel water bottle, 750 ml',
    '2024-03-15T10:23:45.123Z INFO request_id=550e8400-e29b-41d4-a716-446655440000 200 12ms',
    '{"id": 48213, "sku": "SKU-20481", "price_cents": 129999}',
    '',
  ])('comes back as the same Buffer object: %j', (text) => {
    const input = bytes(text)
    expect(maskField(input, detectAll(), KEY)).toBe(input)
  })

  it('comes back as the same string from maskTextValue', () => {
    const text = 'nothing to see here'
    expect(maskTextValue(text, detectAll(), KEY)).toBe(text)
  })
})

describe('types', () => {
  it('nulls a column-masked value of a non-text type, whatever the style', () => {
    for (const style of ['redact', 'partial', 'hash', 'null'] as const) {
      expect(maskField(bytes('42'), {kind: 'column', rule: 'c', style, type: 'other'}, KEY)).toBeNull()
    }
  })

  it('nulls a non-text value (read as text) in which a classifier finds something, and keeps it otherwise', () => {
    expect(maskField(bytes('4111111111111111'), detectAll('other'), KEY)).toBeNull()
    const clean = bytes('48213')
    expect(maskField(clean, detectAll('other'), KEY)).toBe(clean)
  })

  it('keeps a json value valid JSON: a detected number becomes a string', () => {
    const input = bytes('{"card": 4111111111111111, "email": "alice@example.com", "n": [123-45-6789]}')
    const out = maskField(input, detectAll('json', 'partial'), KEY)!
    expect(JSON.parse(out.toString())).toEqual({
      card: '**** **** **** 1111',
      email: 'a***@example.com',
      n: ['***-**-6789'],
    })
  })

  it('treats text that opens like JSON as JSON', () => {
    const out = maskField(bytes('[4111111111111111, "bob@example.com"]'), detectAll(), KEY)!
    expect(JSON.parse(out.toString())).toEqual(['[REDACTED]', '[REDACTED]'])
  })

  it('masks a whole json column into a JSON string', () => {
    const out = maskField(bytes('{"a": 1}'), {kind: 'column', rule: 'c', style: 'redact', type: 'json'}, KEY)!
    expect(JSON.parse(out.toString())).toBe('[REDACTED]')
  })

  it('keeps the version byte of binary jsonb, and nulls an unknown version', () => {
    const body = '{"email": "alice@example.com"}'
    const input = Buffer.concat([Buffer.from([1]), bytes(body)])
    const out = maskField(input, detectAll('jsonb-binary'), KEY)!
    expect(out[0]).toBe(1)
    expect(JSON.parse(out.subarray(1).toString())).toEqual({email: '[REDACTED]'})
    const clean = Buffer.concat([Buffer.from([1]), bytes('{"a": 1}')])
    expect(maskField(clean, detectAll('jsonb-binary'), KEY)).toBe(clean)
    const column: FieldMask = {kind: 'column', rule: 'c', style: 'redact', type: 'jsonb-binary'}
    expect(maskField(input, column, KEY)).toEqual(Buffer.from('\x01"[REDACTED]"', 'latin1'))
    expect(maskField(Buffer.from([2, 0x7b, 0x7d]), detectAll('jsonb-binary'), KEY)).toBeNull()
    expect(maskField(Buffer.alloc(0), column, KEY)).toBeNull()
  })
})

describe('bytes around a masked span', () => {
  it('keeps multi-byte UTF-8 text exactly', () => {
    const text = 'Grüße an jürgen@example.com — 日本 4111 1111 1111 1111 😀 ✓'
    expect(maskTextValue(text, detectAll('text', 'partial'), KEY)).toBe(
      'Grüße an j***@example.com — 日本 **** **** **** 1111 😀 ✓',
    )
  })

  it('keeps invalid UTF-8 bytes exactly', () => {
    const input = Buffer.concat([
      Buffer.from([0xff, 0xc3]),
      bytes(' alice@example.com '),
      Buffer.from([0x80, 0xe2]),
    ])
    const out = maskField(input, detectAll(), KEY)!
    expect(out).toEqual(
      Buffer.concat([Buffer.from([0xff, 0xc3]), bytes(' [REDACTED] '), Buffer.from([0x80, 0xe2])]),
    )
  })

  it('keeps JSON escapes next to a span intact', () => {
    const json = JSON.stringify({note: 'a\nbob@example.com\tcarol@example.com"'})
    const out = maskTextValue(json, detectAll(), KEY)!
    expect(JSON.parse(out)).toEqual({note: 'a\n[REDACTED]\t[REDACTED]"'})
    const escaped = '{"note":"\\u00e9dave@example.com"}'
    expect(JSON.parse(maskTextValue(escaped, detectAll(), KEY)!)).toEqual({note: 'é[REDACTED]'})
  })
})

describe('rules', () => {
  const plan: FieldMask = {
    kind: 'detect',
    rules: [
      {rule: 'emails', classifiers: ['email'], style: 'partial'},
      {rule: 'everything', classifiers: ['email', 'credit_card', 'secret'], style: 'redact'},
    ],
    type: 'text',
  }

  it('masks a classifier by the first rule that lists it, and reports the rules that fired', () => {
    const fired = new Set<string>()
    const out = maskTextValue('alice@example.com paid with 4111111111111111', plan, KEY, fired)
    expect(out).toBe('a***@example.com paid with [REDACTED]')
    expect([...fired].sort()).toEqual(['emails', 'everything'])
  })

  it('reports nothing when nothing was masked', () => {
    const fired = new Set<string>()
    maskTextValue('nothing here', plan, KEY, fired)
    expect(fired.size).toBe(0)
  })

  it('nulls the field when a null-style rule finds something', () => {
    const nulling: FieldMask = {
      kind: 'detect',
      rules: [{rule: 'n', classifiers: ['ssn'], style: 'null'}],
      type: 'text',
    }
    expect(maskTextValue('ssn 123-45-6789', nulling, KEY)).toBeNull()
  })

  it('reports a column rule and masks the whole value', () => {
    const fired = new Set<string>()
    expect(maskTextValue('x', {kind: 'column', rule: 'col', style: 'redact', type: 'text'}, KEY, fired)).toBe(
      '[REDACTED]',
    )
    expect([...fired]).toEqual(['col'])
  })
})

describe('malformed and hostile input', () => {
  it.each([
    ['NUL bytes', Buffer.from('a\0b\0alice@example.com\0', 'latin1')],
    ['lone continuation bytes', Buffer.from([0x80, 0x80, 0x40, 0x80, 0x2e, 0x80])],
    ['truncated multi-byte character', Buffer.from([0x61, 0x40, 0x62, 0x2e, 0x63, 0x6f, 0xe2, 0x82])],
    ['only separators', bytes('- - - ( ) + . - -')],
    ['backslashes everywhere', bytes('\\\\\\"\\u\\u12\\alice@example.com\\')],
    ['unterminated PEM', bytes('-----BEGIN PRIVATE KEY-----')],
  ])('survives %s', (_why, input) => {
    for (const style of ['redact', 'partial', 'hash', 'null'] as const) {
      const plan: FieldMask = {kind: 'detect', rules: [{rule: 'r', classifiers: ALL, style}], type: 'text'}
      expect(() => maskField(input, plan, KEY)).not.toThrow()
      expect(() => maskField(input, {...plan, type: 'json'}, KEY)).not.toThrow()
    }
  })

  it.each([
    ['many @ signs', '@'.repeat(200_000)],
    ['a long local part with no domain', 'a'.repeat(200_000) + '@'],
    ['a long digit run', '4'.repeat(200_000)],
    ['long spaced digit groups', '4111 '.repeat(40_000)],
    ['repeated JWT headers', 'eyJ'.repeat(70_000)],
    ['repeated PEM headers', '-----BEGIN PRIVATE KEY-----#'.repeat(8_000)],
    ['repeated key words', 'password=x'.repeat(20_000)],
    ['repeated country codes', 'DE89 '.repeat(40_000)],
    ['repeated plus signs', '+1 '.repeat(70_000)],
  ])('finishes on %s', (_why, text) => {
    const out = maskField(bytes(text), detectAll(), KEY)
    expect(out).not.toBeNull()
  })

  it('masks values at the far end of a 1 MB field', () => {
    const text = 'lorem ipsum dolor sit amet '.repeat(40_000) + 'alice@example.com'
    const out = maskTextValue(text, detectAll(), KEY)!
    expect(out.endsWith('[REDACTED]')).toBe(true)
    expect(out).not.toContain('alice@example.com')
  })
})

describe('maskFieldRange, the row path on a range of a network chunk', () => {
  const plans: FieldMask[] = [
    {kind: 'column', rule: 'r', style: 'partial', type: 'text'},
    {kind: 'column', rule: 'r', style: 'redact', type: 'text'},
    {kind: 'column', rule: 'r', style: 'hash', type: 'text'},
    {kind: 'column', rule: 'r', style: 'null', type: 'text'},
    {kind: 'column', rule: 'r', style: 'partial', type: 'json'},
    {kind: 'column', rule: 'r', style: 'redact', type: 'jsonb-binary'},
    {kind: 'column', rule: 'r', style: 'partial', type: 'other'},
    detectAll(),
    detectAll('json', 'partial'),
  ]
  const values = [
    'alice.smith@example.com',
    'a@b.co',
    'x@y',
    '"bob@corp-mail.test"',
    '\x01"bob@corp-mail.test"',
    '.dot@example.com',
    'call 219-09-9999 or 4111 1111 1111 1111',
    'Grüße an zoë@example.com',
    'plain words',
    '',
  ]
  it.each(plans.map((p) => [`${p.kind}/${'style' in p ? p.style : 'detect'}/${p.type}`, p] as const))(
    'agrees with maskField and leaves the bytes around the range alone: %s',
    (_, plan) => {
      const out = new MaskOutput(4)
      for (const v of values) {
        const value = bytes(v)
        const chunk = Buffer.concat([bytes('ab@cd.ef '), value, bytes(' 4111111111111111')])
        const fired = new Set<string>()
        const before = out.used
        const r = maskFieldRange(chunk, 9, 9 + value.length, plan, KEY, fired, out)
        const expected = maskField(value, plan, KEY)
        if (expected === value) expect(r).toBe(FIELD_UNCHANGED)
        else if (expected === null) expect(r).toBe(FIELD_NULL)
        else expect(out.buf.subarray(before, before + r).toString('latin1')).toBe(expected.toString('latin1'))
        expect(out.used).toBe(before + Math.max(r, 0))
      }
    },
  )
})

describe('JSON escapes of ASCII characters', () => {
  it.each([
    ['json', '{"e": "alice.smith\\u0040example.com", "n": "Alice"}', 'alice.smith'],
    ['json', '["219\\u002d09\\u002d9999", "ok"]', '9999'],
    ['json', '{"card": "4111\\u00201111\\u00201111\\u00201111"}', '1111'],
    ['jsonb-binary', '\u0001{"e": "bob\\u0040corp-mail.test"}', 'bob'],
    ['text', '{"free": "mail me: carol\\u0040mailbox.test"}', 'carol'],
  ] as const)('are decoded before classifiers run (%s): %j', (type, text, secret) => {
    const input = Buffer.from(text, 'latin1')
    const out = maskField(input, detectAll(type), KEY)
    expect(out).not.toBe(input)
    const body = out!.subarray(type === 'jsonb-binary' ? 1 : 0).toString('latin1')
    const decoded = JSON.stringify(JSON.parse(body))
    expect(decoded).not.toContain(secret)
    // What is not a find stays as it was.
    if (text.includes('Alice')) expect(JSON.parse(body).n).toBe('Alice')
  })

  it('map partial masks back over the escape, keeping the JSON valid', () => {
    const out = maskField(bytes('{"e": "alice\\u0040example.com"}'), detectAll('json', 'partial'), KEY)
    expect(JSON.parse(out!.toString('utf8'))).toEqual({e: 'a***@example.com'})
  })

  it('leave values with other escapes, or none, as the same Buffer', () => {
    for (const text of ['{"a": "line\\nbreak \\u00e9t\\u00e9"}', '{"a": "\\\\u"}', '{"a": "\\u00"}']) {
      const input = bytes(text)
      expect(maskField(input, detectAll('json'), KEY)).toBe(input)
    }
  })
})
