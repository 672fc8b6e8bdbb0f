/**
 * `credit_card` and `ssn`, read from runs of digit groups joined by single spaces or dashes.
 *
 * - credit_card: 13-19 digits that pass Luhn and fit an issuer's prefix and length (checks.ts),
 *   written either unbroken or in the groupings cards are printed in: 4-4-4-4 (plus a 1-3 digit tail
 *   for 17-19 digit cards), 4-6-5 (Amex), 4-6-4 (Diners), with one separator throughout.
 * - ssn: AAA-GG-SSSS (or with spaces) outside the never-issued ranges (area 000, 666, 9xx; group 00;
 *   serial 0000). A dashed SSN must be the whole dash-joined run (`1-123-45-6789` is some other id).
 *   Nine bare digits are an SSN only right after an SSN label (`ssn`, `SSN#`, `social security
 *   number`, a JSON key `"ssn":`): nine-digit ids, amounts and ZIP+4 codes are far more common.
 *
 * Neither may be glued to a word character (`x4111...`, `4111...abc`): those are identifiers.
 */
import {luhn, plausibleIin, validSsn} from './checks.js'
import {BIT, type RawSpan} from './spans.js'
import {wordAt, wordBefore} from './text.js'

const RUNS = /[0-9]+(?:[ -][0-9]+)*/g
const SSN_LABEL =
  /(?:^|[^A-Za-z])(?:ssn|ss#|social[ _-]?security(?:[ _-]?(?:no|num|number))?)[^0-9A-Za-z]{0,6}$/i

/** A digit group of a run: `[start, end)` and the separator before it (0 for the first). */
interface Group {
  start: number
  end: number
  sep: number
}

/** Card groupings after a first group of 4, longest first: lengths of the following groups. */
const CARD_LAYOUTS: readonly (readonly number[])[] = [
  [4, 4, 4, 3],
  [4, 4, 4, 2],
  [4, 4, 4, 1],
  [4, 4, 4],
  [6, 5],
  [6, 4],
]

function groupsOf(s: string, start: number, end: number): Group[] {
  const groups: Group[] = []
  let g = start
  let sep = 0
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 32
    if (c === 32 || c === 45) {
      groups.push({start: g, end: i, sep})
      sep = c
      g = i + 1
    }
  }
  return groups
}

/** Appends the card numbers and/or SSNs (as `bits` asks) of `s` to `out`. */
export function findNumbers(s: string, bits: number, out: RawSpan[]): void {
  RUNS.lastIndex = 0
  for (let m = RUNS.exec(s); m !== null; m = RUNS.exec(s)) {
    const end = m.index + m[0].length
    const groups = groupsOf(s, m.index, end)
    const leftOk = !wordBefore(s, m.index)
    const rightOk = !wordAt(s, end)
    if (bits & BIT.credit_card) cards(s, groups, leftOk, rightOk, out)
    if (bits & BIT.ssn) ssns(s, groups, leftOk, rightOk, out)
  }
}

function cardAt(s: string, groups: Group[], i: number, rightOk: boolean): number {
  const first = groups[i]!
  const len = first.end - first.start
  const last = groups.length - 1
  if (len >= 13 && len <= 19) {
    return (i < last || rightOk) && validCard(s.slice(first.start, first.end)) ? i : -1
  }
  if (len !== 4) return -1
  for (const layout of CARD_LAYOUTS) {
    const j = i + layout.length
    if (j > last || (j === last && !rightOk)) continue
    let digits = s.slice(first.start, first.end)
    let k = 0
    for (; k < layout.length; k++) {
      const g = groups[i + 1 + k]!
      if (g.end - g.start !== layout[k] || g.sep !== groups[i + 1]!.sep) break
      digits += s.slice(g.start, g.end)
    }
    if (k === layout.length && validCard(digits)) return j
  }
  return -1
}

function validCard(digits: string): boolean {
  return plausibleIin(digits) && luhn(digits)
}

function cards(s: string, groups: Group[], leftOk: boolean, rightOk: boolean, out: RawSpan[]): void {
  for (let i = leftOk ? 0 : 1; i < groups.length; i++) {
    const j = cardAt(s, groups, i, rightOk)
    if (j < 0) continue
    out.push({start: groups[i]!.start, end: groups[j]!.end, bits: BIT.credit_card})
    i = j
  }
}

function ssns(s: string, groups: Group[], leftOk: boolean, rightOk: boolean, out: RawSpan[]): void {
  const last = groups.length - 1
  for (let i = leftOk ? 0 : 1; i <= last; i++) {
    const a = groups[i]!
    const alen = a.end - a.start
    if (alen === 9 && (i < last || rightOk) && SSN_LABEL.test(s.slice(Math.max(0, a.start - 40), a.start))) {
      const d = s.slice(a.start, a.end)
      if (validSsn(d.slice(0, 3), d.slice(3, 5), d.slice(5)))
        out.push({start: a.start, end: a.end, bits: BIT.ssn})
      continue
    }
    if (alen !== 3 || i + 2 > last || (i + 2 === last && !rightOk)) continue
    const g = groups[i + 1]!
    const z = groups[i + 2]!
    if (g.end - g.start !== 2 || z.end - z.start !== 4 || g.sep !== z.sep) continue
    if (g.sep === 45 && (a.sep === 45 || (i + 3 <= last && groups[i + 3]!.sep === 45))) continue
    if (!validSsn(s.slice(a.start, a.end), s.slice(g.start, g.end), s.slice(z.start, z.end))) continue
    out.push({start: a.start, end: z.end, bits: BIT.ssn})
    i += 2
  }
}
