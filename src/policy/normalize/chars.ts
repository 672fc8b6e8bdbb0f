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
  at: 64,
  upperM: 77,
  backslash: 92,
  underscore: 95,
  backtick: 96,
  lowerE: 101,
} as const

/** True for `[A-Za-z_]`. */
export function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === Ch.underscore
}

/** True for `[A-Za-z0-9_$]`: what continues an identifier in both dialects. */
export function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === Ch.dollar
}

/** True for `[0-9]`. */
export function isDigit(c: number): boolean {
  return c >= Ch.zero && c <= Ch.nine
}

/** True for `[0-9A-Fa-f]`. */
export function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
}

/** Printable ASCII punctuation both lexers pass through unchanged (quotes, comment starts and `\` excluded). */
const PUNCT = new Uint8Array(128)
for (const ch of '!#%&()*+,-./:;<=>?@[]^{|}~') PUNCT[ch.charCodeAt(0)] = 1

/** True for punctuation copied to the key as it is. */
export function isPunct(c: number): boolean {
  return c < 128 && PUNCT[c] === 1
}

/** True when an identifier (of any case) is one whose analysis depends on session state or string content. */
export function isSessionWord(sql: string, start: number, end: number): boolean {
  if (end - start !== 7) return false
  const w = sql.slice(start, end).toLowerCase()
  return w === 'execute' || w === 'prepare'
}

/**
 * Reads a number at `i` (`12`, `1.5`, `1.`, `1e-5`): returns its end and class, or -1 when what follows
 * could make the server read it differently (`1abc`, `0x1F`, `1_000`, `1..2`, `1e`).
 */
export function readNumber(sql: string, i: number): {end: number; placeholder: string} | -1 {
  const n = sql.length
  let j = i
  let placeholder = '0'
  while (j < n && isDigit(sql.charCodeAt(j))) j++
  if (j < n && sql.charCodeAt(j) === Ch.dot) {
    j++
    placeholder = '0.0'
    while (j < n && isDigit(sql.charCodeAt(j))) j++
  }
  const e = j < n ? sql.charCodeAt(j) | 0x20 : 0
  if (e === Ch.lowerE) {
    j++
    const sign = j < n ? sql.charCodeAt(j) : 0
    if (sign === Ch.plus || sign === Ch.minus) j++
    if (!(j < n && isDigit(sql.charCodeAt(j)))) return -1
    while (j < n && isDigit(sql.charCodeAt(j))) j++
    placeholder = '0e0'
  }
  if (j < n) {
    const next = sql.charCodeAt(j)
    if (isIdentPart(next) || next === Ch.dot || next >= 128) return -1
  }
  return {end: j, placeholder}
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
