/**
 * `phone`: numbers written the way people write phone numbers, never a bare run of digits (ids,
 * timestamps, amounts and versions are bare runs or dotted groups far more often than phones are).
 *
 * - international: `+` and 9-15 digits (E.164), with spaces, dashes, dots or a parenthesised group:
 *   `+1 (415) 555-2671`, `+44 20 7946 0958`, `+4915112345678`; not a lone `.` (`+12345678.90`);
 * - North American: `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `1-800-555-0199`, with valid
 *   area and exchange codes (first digit 2-9) and one separator throughout;
 * - national with a trunk 0: `020 7946 0958`, `06 12 34 56 78`, `030 1234567`: 10-12 digits in
 *   groups of 2+ joined by one kind of separator (space or dash); all-pairs only as 5 pairs (France).
 * None may be glued to a word character or continue a dotted/dashed number (`2.345.678.9012`).
 */
import {BIT, type RawSpan} from './spans.js'
import {LB, digitsOf} from './text.js'

const NOT_AFTER_NUMBER = String.raw`(?<![0-9][.-])`
const PHONE = new RegExp(
  String.raw`${LB}(?<!\+)(?:(\+[1-9][0-9 ().-]{6,24}[0-9])` +
    String.raw`|${NOT_AFTER_NUMBER}((?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[ .-]?[0-9]{4}|[2-9][0-9]{2}([ .-])[2-9][0-9]{2}\3[0-9]{4}))` +
    String.raw`|${NOT_AFTER_NUMBER}(0[1-9][0-9]{0,4}([ -])[0-9]{2,8}(?:\5[0-9]{2,8}){0,4}))` +
    String.raw`(?![0-9A-Za-z_]|[.-][0-9])`,
  'g',
)

/** Appends the phone numbers of `s` to `out`. */
export function findPhones(s: string, out: RawSpan[]): void {
  PHONE.lastIndex = 0
  for (let m = PHONE.exec(s); m !== null; m = PHONE.exec(s)) {
    const text = m[0]
    const digits = digitsOf(text).length
    const ok = m[1] !== undefined ? international(text, digits) : m[2] !== undefined || national(text, digits)
    if (ok) out.push({start: m.index, end: m.index + text.length, bits: BIT.phone})
  }
}

/** Checks a trunk-0 candidate: 10-12 digits; pairs only in the French 5 x 2 layout (`04 11 23 35 42 49` is a draw). */
function national(text: string, digits: number): boolean {
  if (digits < 10 || digits > 12) return false
  return !/^\d\d(?:[ -]\d\d)+$/.test(text) || digits === 10
}

/** Checks an E.164-style candidate: digit count, one parenthesised group at most, sane separators. */
function international(text: string, digits: number): boolean {
  if (digits < 9 || digits > 15) return false
  if (/[ .-]{2}|\(\)|[ .-]\)|\([ .-]/.test(text)) return false
  const open = text.split('(').length - 1
  const close = text.split(')').length - 1
  if (open > 1 || open !== close || text.indexOf(')') < text.indexOf('(')) return false
  const seps = text.match(/[ .()-]/g) ?? []
  return !(seps.length === 1 && seps[0] === '.')
}
