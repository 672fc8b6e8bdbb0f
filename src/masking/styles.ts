/**
 * What a masked value becomes, per style. Every output is JSON-, CSV- and array-literal-safe: ASCII
 * letters, digits, `* [ ] - _ . : @ +` and spaces, plus the domain of a partial email (which may keep
 * the bytes of a non-ASCII domain); never a quote, backslash, comma, brace, parenthesis, tab or newline.
 * Strings here are latin1 views of bytes, like the scanner's.
 *
 * - redact: `[REDACTED]`;
 * - partial: what a person needs to recognise the value and nothing that identifies it: email
 *   `a***@example.com`, card `**** **** **** 1111`, ssn `***-**-6789`, phone `***-***-**71` (last two
 *   digits), iban `DE** **** 3000`, secret its public prefix (`ghp_****`, `AKIA****`) or `[REDACTED]`,
 *   anything else its first character and `***` when it has 6+ characters, else `***`;
 * - hash: `hash:` + the first 16 hex digits of HMAC-SHA256(key, value bytes): deterministic per key, so
 *   masked values still join and group;
 * - null: handled by the caller (the field becomes NULL).
 * Whatever the style, an output that would contain the original value or its reverse is `[REDACTED]`.
 */
import {createHmac} from 'node:crypto'

import type {MaskKey, MaskStyle, SpanKind} from './types.js'
import {digitsOf, utf8Length} from './text.js'

/** The `redact` style's marker. */
export const REDACTED = '[REDACTED]'

/** Prefixes a token format makes public anyway (they name the format, not the holder). */
const SECRET_PREFIXES = [
  'github_pat_',
  'ghp_',
  'gho_',
  'ghs_',
  'ghu_',
  'ghr_',
  'glpat-',
  'xoxa-',
  'xoxb-',
  'xoxp-',
  'xoxr-',
  'xoxs-',
  'sk_live_',
  'rk_live_',
  'sk_test_',
  'rk_test_',
  'sk-proj-',
  'sk-ant-',
  'sk-',
  'npm_',
  'AKIA',
  'ASIA',
  'AIza',
  'SG.',
  'pypi-',
  'eyJ',
]

/** Characters a partial output may keep from the original (its first character, an email's local part). */
const SAFE_FIRST = /^[A-Za-z0-9\x80-\xff]/

/** The masked text for `value` (latin1 view of its bytes) of kind `kind` under `style` (not `null`). */
export function replacement(
  value: string,
  kind: SpanKind | 'unknown',
  style: Exclude<MaskStyle, 'null'>,
  key: MaskKey,
): string {
  let out: string
  switch (style) {
    case 'redact':
      return REDACTED
    case 'hash':
      out = hashOf(value, key)
      break
    case 'partial':
      out = partial(value, kind)
      break
  }
  return leaks(out, value) ? REDACTED : out
}

/** `hash:` + 16 hex digits of HMAC-SHA256 over the value's bytes. */
export function hashOf(value: string, key: MaskKey): string {
  return 'hash:' + createHmac('sha256', key).update(value, 'latin1').digest('hex').slice(0, 16)
}

function partial(value: string, kind: SpanKind | 'unknown'): string {
  switch (kind) {
    case 'email': {
      const at = value.lastIndexOf('@')
      return firstChar(value) + '***@' + value.slice(at + 1)
    }
    case 'credit_card':
      return '**** **** **** ' + digitsOf(value).slice(-4)
    case 'ssn':
      return '***-**-' + digitsOf(value).slice(-4)
    case 'phone':
      return '***-***-**' + digitsOf(value).slice(-2)
    case 'iban': {
      const compact = value.replace(/ /g, '')
      return compact.slice(0, 2) + '** **** ' + compact.slice(-4)
    }
    case 'secret': {
      const prefix = SECRET_PREFIXES.find((p) => value.startsWith(p))
      return prefix === undefined ? REDACTED : prefix + '****'
    }
    case 'mixed':
    case 'unknown':
      return unknownPartial(value)
  }
}

/** First character and `***` for values of 6+ characters (when that character is safe to show), else `***`. */
function unknownPartial(value: string): string {
  let chars = 0
  for (let i = 0; i < value.length && chars < 6; i += utf8Length(value.charCodeAt(i))) chars++
  return chars >= 6 && SAFE_FIRST.test(value) ? firstChar(value) + '***' : '***'
}

/** The first UTF-8 character of a latin1 view, whole. */
function firstChar(value: string): string {
  return value.slice(0, utf8Length(value.charCodeAt(0)))
}

/** True when `out` contains `value` or its reverse (by characters); values under 2 bytes cannot be avoided. */
function leaks(out: string, value: string): boolean {
  if (value.length < 2 || out.length < value.length) return false
  if (out.includes(value)) return true
  if (/[\x80-\xff]/.test(value)) {
    const chars = [...Buffer.from(value, 'latin1').toString('utf8')].reverse().join('')
    return out.includes(Buffer.from(chars, 'utf8').toString('latin1'))
  }
  return containsReversed(out, value)
}

/** `out.includes(reverse(value))` for ASCII, without building the reversed string. */
function containsReversed(out: string, value: string): boolean {
  const last = value.length - 1
  for (let i = 0; i + last < out.length; i++) {
    let j = 0
    while (j <= last && out.charCodeAt(i + j) === value.charCodeAt(last - j)) j++
    if (j > last) return true
  }
  return false
}
