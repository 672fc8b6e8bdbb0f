/** Character classes shared by the literal-abstracting lexers (ASCII only: they refuse anything else). */

/** Character codes the lexers name. */
export const Ch = {
  tab: 9,
  lf: 10,
  ff: 12,
  cr: 13,
  space: 32,
  bang: 33,
  dquote: 34,
  hash: 35,
  dollar: 36,
  amp: 38,
  squote: 39,
  star: 42,
  plus: 43,
  minus: 45,
  dot: 46,
  slash: 47,
  zero: 48,
  nine: 57,
  question: 63,
  at: 64,
  upperM: 77,
  backslash: 92,
  underscore: 95,
  backtick: 96,
  lowerE: 101,
} as const

/** Bits of CLASS: what an ASCII character can be in both dialects. */
const IDENT_START = 1
const IDENT_PART = 2
const DIGIT = 4
const HEX = 8
const PUNCT = 16

/** One table lookup per character instead of chains of comparisons: the lexers run on every query. */
const CLASS = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c)
  if (/[A-Za-z_]/.test(ch)) CLASS[c]! |= IDENT_START | IDENT_PART
  if (/[0-9]/.test(ch)) CLASS[c]! |= DIGIT | IDENT_PART | HEX
  if (/[A-Fa-f]/.test(ch)) CLASS[c]! |= HEX
  if (ch === '$') CLASS[c]! |= IDENT_PART
  // Printable ASCII punctuation both lexers pass through unchanged (quotes, comment starts and `\` excluded).
  if ('!#%&()*+,-./:;<=>?@[]^{|}~'.includes(ch)) CLASS[c]! |= PUNCT
}

/** True for `[A-Za-z_]`. */
export function isIdentStart(c: number): boolean {
  return c < 128 && (CLASS[c]! & IDENT_START) !== 0
}

/** True for `[A-Za-z0-9_$]`: what continues an identifier in both dialects. */
export function isIdentPart(c: number): boolean {
  return c < 128 && (CLASS[c]! & IDENT_PART) !== 0
}

/** True for `[0-9]`. */
export function isDigit(c: number): boolean {
  return c >= Ch.zero && c <= Ch.nine
}

/** True for `[0-9A-Fa-f]`. */
export function isHex(c: number): boolean {
  return c < 128 && (CLASS[c]! & HEX) !== 0
}

/** True for punctuation copied to the key as it is. */
export function isPunct(c: number): boolean {
  return c < 128 && (CLASS[c]! & PUNCT) !== 0
}

/** `c` lowercased when it is an ASCII letter; other identifier characters never map onto a letter. */
const lower = (c: number): number => c | 0x20

/** True when an identifier (of any case) is one whose analysis depends on session state or string content. */
export function isSessionWord(sql: string, start: number, end: number): boolean {
  if (end - start !== 7) return false
  const a = lower(sql.charCodeAt(start))
  if (a === 0x65) return matchesLower(sql, start, 'execute')
  if (a === 0x70) return matchesLower(sql, start, 'prepare')
  return false
}

/** True when the identifier at `start` equals the lowercase `word` in any case. */
function matchesLower(sql: string, start: number, word: string): boolean {
  for (let k = 1; k < word.length; k++)
    if (lower(sql.charCodeAt(start + k)) !== word.charCodeAt(k)) return false
  return true
}

/** Number classes readNumber reports, as placeholder kinds (see shape.ts). */
export const NumberClass = {integer: 1, decimal: 2, exponent: 3} as const

/**
 * Reads a number at `i` (`12`, `1.5`, `1.`, `1e-5`): returns `end * 4 + class` (NumberClass), or -1
 * when what follows could make the server read it differently (`1abc`, `0x1F`, `1_000`, `1..2`, `1e`).
 * One number rather than an object: this runs for every number of every query.
 */
export function readNumber(sql: string, i: number): number {
  const n = sql.length
  let j = i
  let cls: number = NumberClass.integer
  while (j < n && isDigit(sql.charCodeAt(j))) j++
  if (j < n && sql.charCodeAt(j) === Ch.dot) {
    j++
    cls = NumberClass.decimal
    while (j < n && isDigit(sql.charCodeAt(j))) j++
  }
  const e = j < n ? sql.charCodeAt(j) | 0x20 : 0
  if (e === Ch.lowerE) {
    j++
    const sign = j < n ? sql.charCodeAt(j) : 0
    if (sign === Ch.plus || sign === Ch.minus) j++
    if (!(j < n && isDigit(sql.charCodeAt(j)))) return -1
    while (j < n && isDigit(sql.charCodeAt(j))) j++
    cls = NumberClass.exponent
  }
  if (j < n) {
    const next = sql.charCodeAt(j)
    if (isIdentPart(next) || next === Ch.dot || next >= 128) return -1
  }
  return j * 4 + cls
}

const isWellFormed = (String.prototype as unknown as {isWellFormed?: (this: string) => boolean}).isWellFormed
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * True when the text has no NUL and no lone surrogate: the server reads a query up to its first NUL,
 * and a lone surrogate becomes U+FFFD on the way to the parser, which can then read the next character
 * differently. Such text is never keyed.
 */
export function keyable(sql: string): boolean {
  if (sql.includes('\u0000')) return false
  return isWellFormed === undefined ? !LONE_SURROGATE.test(sql) : isWellFormed.call(sql)
}

/** End of a B'…' or X'…' literal (kept as it is), or -1 if a digit is not one the server accepts. */
export function bitString(sql: string, q: number, hex: boolean): number {
  const n = sql.length
  for (let j = q + 1; j < n; j++) {
    const c = sql.charCodeAt(j)
    if (c === Ch.squote) return j + 1
    if (hex ? !isHex(c) : c !== Ch.zero && c !== Ch.zero + 1) return -1
  }
  return -1
}
