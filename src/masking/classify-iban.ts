/**
 * `iban`: a registered country code, two check digits and exactly that country's BBAN length of
 * upper-case letters and digits, unbroken or in groups joined by single spaces, passing the mod-97
 * check. Lower-case IBANs are not recognised (banks print them upper-case).
 */
import {IBAN_LENGTHS, ibanChecksum} from './checks.js'
import {BIT, type RawSpan} from './spans.js'
import {LB, isDigit, wordAt} from './text.js'

const START = new RegExp(String.raw`${LB}[A-Z]{2}[0-9]{2}`, 'g')

function isUpperOrDigit(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90)
}

/** Appends the IBANs of `s` to `out`. */
export function findIbans(s: string, out: RawSpan[]): void {
  START.lastIndex = 0
  for (let m = START.exec(s); m !== null; m = START.exec(s)) {
    const len = IBAN_LENGTHS.get(m[0].slice(0, 2))
    if (len === undefined) continue
    let compact = m[0]
    let i = m.index + 4
    while (compact.length < len && i < s.length) {
      const c = s.charCodeAt(i)
      if (isUpperOrDigit(c)) {
        compact += s[i]
        i++
      } else if (c === 32 && isUpperOrDigit(s.charCodeAt(i + 1))) i++
      else break
    }
    if (compact.length !== len || wordAt(s, i) || !ibanChecksum(compact)) continue
    out.push({start: m.index, end: i, bits: BIT.iban})
    START.lastIndex = i
  }
}
