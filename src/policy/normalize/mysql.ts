/**
 * A single-pass lexer that turns MySQL/MariaDB SQL into a cache key: '…' string literals and numbers
 * become placeholders of their token class, ordinary comment bodies are emptied, everything else
 * (identifiers, `backticks`, "double-quoted" text, '…' holding a doubled quote, operators,
 * whitespace, numbers with an exponent) is kept byte for byte.
 *
 * It returns null (the query takes the uncached path) whenever it is not certain to split the text
 * exactly as the server does: executable comments (`/*!`, `/*M!`: the server runs their content),
 * backslashes anywhere (their meaning depends on NO_BACKSLASH_ESCAPES), `--` not followed by a space,
 * `*∕` outside a comment, a comment inside a comment, anything unterminated, non-ASCII or control
 * characters outside a literal, and numbers glued to other characters (`0x1F`, `1e`, `1abc` is a name).
 * "…" is kept as it is because under ANSI_QUOTES it is an identifier, not a string. A `?` outside literals,
 * quoted text and comments is counted as a prepared statement's placeholder (it is kept in the key).
 */
import {
  bitString,
  Ch,
  isDigit,
  isIdentPart,
  isIdentStart,
  isPunct,
  isSessionWord,
  keyable,
  readNumber,
  NumberClass,
} from './chars.js'
import {ShapeScan, Span} from './shape.js'

/** End of a quoted run ('…', "…" or `…`) with doubled quotes, or -1 for a backslash or no end. */
function quoted(sql: string, q: number, quote: number): number {
  const n = sql.length
  for (let j = q + 1; j < n; j++) {
    const c = sql.charCodeAt(j)
    if (c === quote) {
      if (j + 1 < n && sql.charCodeAt(j + 1) === quote) j++
      else return j + 1
    } else if (c === Ch.backslash && quote !== Ch.backtick) return -1
  }
  return -1
}

/** True when the '…' literal from `q` to `end` holds a doubled quote. */
function hasDoubledQuote(sql: string, q: number, end: number): boolean {
  const at = sql.indexOf("''", q + 1)
  return at >= 0 && at < end - 1
}

/** End of a line comment's body (the newline is not part of it), or -1 if a CR makes its end unclear. */
function lineComment(sql: string, from: number): number {
  const n = sql.length
  let j = from
  while (j < n && sql.charCodeAt(j) !== Ch.lf) {
    if (sql.charCodeAt(j) === Ch.cr) return -1
    j++
  }
  return j
}

/** End of a /* comment, or -1 for executable comments, nested openings or no end. */
function blockComment(sql: string, s: number): number {
  const third = sql.charCodeAt(s + 2)
  if (third === Ch.bang || (third === Ch.upperM && sql.charCodeAt(s + 3) === Ch.bang)) return -1
  const close = sql.indexOf('*/', s + 2)
  if (close < 0) return -1
  if (sql.slice(s + 2, close).includes('/*')) return -1
  return close + 2
}

const isSpace = (c: number): boolean => c === Ch.space || c === Ch.lf || c === Ch.tab || c === Ch.cr

const scratch = new ShapeScan()

/** The literal-abstracted form of a MySQL query, or null when the lexer is not certain of it. */
export function normalizeMysql(sql: string): string | null {
  return scanMysql(sql, scratch) ? scratch.render() : null
}

/**
 * Finds the spans of a MySQL query's key into `scan`; false when the lexer is not certain of it
 * (then `scan` holds nothing usable).
 */
export function scanMysql(sql: string, scan: ShapeScan): boolean {
  scan.reset(sql)
  if (!keyable(sql)) return false
  const n = sql.length
  let i = 0
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (isSpace(c)) {
      i++
    } else if (isIdentStart(c) || c === Ch.dollar) {
      const start = i
      while (i < n && isIdentPart(sql.charCodeAt(i))) i++
      if (i < n && sql.charCodeAt(i) >= 128) return false
      if (isSessionWord(sql, start, i)) return false
      const p = c | 0x20
      if (i - start === 1 && i < n && sql.charCodeAt(i) === Ch.squote && (p === 0x62 || p === 0x78)) {
        i = bitString(sql, i, p === 0x78)
        if (i < 0) return false
      }
    } else if (isDigit(c)) {
      const num = readNumber(sql, i)
      if (num === -1) return false
      const end = Math.floor(num / 4)
      const cls = num % 4
      // node-sql-parser reads 1e5 but fails on 1e999: numbers with an exponent are kept as they are.
      if (cls !== NumberClass.exponent) scan.add(i, end, cls as 1 | 2)
      i = end
    } else if (c === Ch.squote || c === Ch.dquote || c === Ch.backtick) {
      const end = quoted(sql, i, c)
      if (end < 0) return false
      // '…' after @ names a variable: keep it, as any "…" and `…`. node-sql-parser fails on some
      // strings with doubled quotes ('a''b' after an introducer) and not on others: keep those too.
      if (c === Ch.squote && !(i > 0 && sql.charCodeAt(i - 1) === Ch.at) && !hasDoubledQuote(sql, i, end)) {
        scan.add(i, end, Span.string)
      }
      i = end
    } else if (c === Ch.hash) {
      const end = lineComment(sql, i + 1)
      if (end < 0) return false
      scan.add(i, end, Span.hashComment)
      i = end
    } else if (c === Ch.minus && i + 1 < n && sql.charCodeAt(i + 1) === Ch.minus) {
      // `--` starts a comment only when a space or control character follows; `1--1` is arithmetic.
      if (!(i + 2 < n && isSpace(sql.charCodeAt(i + 2)))) return false
      const end = lineComment(sql, i + 2)
      if (end < 0) return false
      scan.add(i, end, Span.dashComment)
      i = end
    } else if (c === Ch.slash && i + 1 < n && sql.charCodeAt(i + 1) === Ch.star) {
      const end = blockComment(sql, i)
      if (end < 0) return false
      if (sql.charCodeAt(i + 2) === Ch.plus)
        i = end // an optimizer hint: kept as it is
      else {
        scan.add(i, end, Span.blockComment)
        i = end
      }
    } else if (c === Ch.star && i + 1 < n && sql.charCodeAt(i + 1) === Ch.slash) {
      return false
    } else if (c === Ch.dot && i + 1 < n && isDigit(sql.charCodeAt(i + 1))) {
      return false
    } else if (isPunct(c) && c !== Ch.hash) {
      if (c === Ch.question) scan.placeholders++
      i++
    } else {
      return false
    }
  }
  return true
}
