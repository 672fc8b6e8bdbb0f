/**
 * A single-pass lexer that turns Postgres SQL into a cache key: standard and E'' string literals and
 * numbers become placeholders of their token class, comment bodies are emptied, and everything else
 * (identifiers, keywords, operators, whitespace, dollar-quoted bodies) is kept byte for byte. Whitespace
 * is kept because it is not always insignificant: `'a'\n'b'` is one literal, `'a' 'b'` a syntax error.
 *
 * It returns null (the query takes the uncached path) whenever it is not certain to split the text
 * exactly as the server does: backslashes in standard strings (their meaning depends on
 * standard_conforming_strings), U&'' strings, E'' escapes other than \\ \' \n \r \t \b \f, anything
 * unterminated, any non-ASCII character or control character outside a literal, and numbers glued to
 * other characters (`0x1F`, `1_000`, `1abc` differ between server versions).
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
} from './chars.js'
import {ShapeScan, Span} from './shape.js'

/** True for the E'' escapes whose meaning is certain: \\ \' \n \r \t \b \f. */
function simpleEscape(c: number): boolean {
  return (
    c === Ch.backslash ||
    c === Ch.squote ||
    c === 0x6e ||
    c === 0x72 ||
    c === 0x74 ||
    c === 0x62 ||
    c === 0x66
  )
}

/** End of a standard '…' literal starting at the quote `q`, or -1 (a backslash, or unterminated). */
function standardString(sql: string, q: number): number {
  const n = sql.length
  for (let j = q + 1; j < n; j++) {
    const c = sql.charCodeAt(j)
    if (c === Ch.squote) {
      if (j + 1 < n && sql.charCodeAt(j + 1) === Ch.squote) j++
      else return j + 1
    } else if (c === Ch.backslash) return -1
  }
  return -1
}

/** End of an E'…' literal starting at the quote `q`, or -1 for unusual escapes or no end. */
function escapeString(sql: string, q: number): number {
  const n = sql.length
  for (let j = q + 1; j < n; j++) {
    const c = sql.charCodeAt(j)
    if (c === Ch.squote) {
      if (j + 1 < n && sql.charCodeAt(j + 1) === Ch.squote) j++
      else return j + 1
    } else if (c === Ch.backslash) {
      if (!simpleEscape(sql.charCodeAt(j + 1))) return -1
      j++
    }
  }
  return -1
}

/** End of a "quoted identifier" (kept as it is), or -1. */
function quotedIdent(sql: string, q: number): number {
  const n = sql.length
  for (let j = q + 1; j < n; j++) {
    const c = sql.charCodeAt(j)
    if (c === Ch.dquote) {
      if (j + 1 < n && sql.charCodeAt(j + 1) === Ch.dquote) j++
      else return j + 1
    }
  }
  return -1
}

/** End of a $tag$…$tag$ body (kept as it is), or -1 when the tag is not one or never closes. */
function dollarQuote(sql: string, d: number): number {
  const n = sql.length
  let j = d + 1
  if (j < n && isIdentStart(sql.charCodeAt(j))) {
    j++
    while (j < n && isIdentPart(sql.charCodeAt(j)) && sql.charCodeAt(j) !== Ch.dollar) j++
  }
  if (j >= n || sql.charCodeAt(j) !== Ch.dollar) return -1
  const tag = sql.slice(d, j + 1)
  const close = sql.indexOf(tag, j + 1)
  if (close < 0) return -1
  return close + tag.length
}

/** End of a nested block comment starting at `/*` position `s`, or -1. */
function blockComment(sql: string, s: number): number {
  const n = sql.length
  let depth = 0
  let j = s + 2
  while (j < n) {
    const c = sql.charCodeAt(j)
    if (c === Ch.slash && j + 1 < n && sql.charCodeAt(j + 1) === Ch.star) {
      depth++
      j += 2
    } else if (c === Ch.star && j + 1 < n && sql.charCodeAt(j + 1) === Ch.slash) {
      if (depth === 0) return j + 2
      depth--
      j += 2
    } else j++
  }
  return -1
}

const scratch = new ShapeScan()

/** The literal-abstracted form of a Postgres query, or null when the lexer is not certain of it. */
export function normalizePostgres(sql: string): string | null {
  return scanPostgres(sql, scratch) ? scratch.render() : null
}

/**
 * Finds the spans of a Postgres query's key into `scan`; false when the lexer is not certain of it
 * (then `scan` holds nothing usable).
 */
export function scanPostgres(sql: string, scan: ShapeScan): boolean {
  scan.reset(sql)
  if (!keyable(sql)) return false
  const n = sql.length
  let i = 0
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === Ch.space || c === Ch.lf || c === Ch.tab || c === Ch.cr || c === Ch.ff) {
      i++
    } else if (isIdentStart(c)) {
      const start = i
      while (i < n && isIdentPart(sql.charCodeAt(i))) i++
      if (i < n && sql.charCodeAt(i) >= 128) return false
      if (isSessionWord(sql, start, i)) return false
      if (i - start === 1 && i < n) {
        const next = sql.charCodeAt(i)
        const p = c | 0x20
        if (p === 0x75 && next === Ch.amp) return false // U&'…', U&"…": unicode escapes
        if (next === Ch.squote) {
          let end: number
          if (p === Ch.lowerE) end = escapeString(sql, i)
          else if (p === 0x62 || p === 0x78) end = bitString(sql, i, p === 0x78)
          else continue // N'…' and the like: a standard string follows
          if (end < 0) return false
          if (p === Ch.lowerE) scan.add(i, end, Span.string)
          i = end
        }
      }
    } else if (isDigit(c)) {
      const num = readNumber(sql, i)
      if (num === -1) return false
      const end = Math.floor(num / 4)
      scan.add(i, end, (num % 4) as 1 | 2 | 3)
      i = end
    } else if (c === Ch.squote) {
      const end = standardString(sql, i)
      if (end < 0) return false
      scan.add(i, end, Span.string)
      i = end
    } else if (c === Ch.dquote) {
      i = quotedIdent(sql, i)
      if (i < 0) return false
    } else if (c === Ch.dollar) {
      if (i + 1 < n && isDigit(sql.charCodeAt(i + 1))) {
        i++
        while (i < n && isDigit(sql.charCodeAt(i))) i++
        if (i < n && (isIdentPart(sql.charCodeAt(i)) || sql.charCodeAt(i) >= 128)) return false
        scan.placeholders++
      } else {
        i = dollarQuote(sql, i)
        if (i < 0) return false
      }
    } else if (c === Ch.minus && i + 1 < n && sql.charCodeAt(i + 1) === Ch.minus) {
      let end = i + 2
      while (end < n && sql.charCodeAt(end) !== Ch.lf && sql.charCodeAt(end) !== Ch.cr) end++
      scan.add(i, end, Span.lineComment)
      i = end
    } else if (c === Ch.slash && i + 1 < n && sql.charCodeAt(i + 1) === Ch.star) {
      const end = blockComment(sql, i)
      if (end < 0) return false
      scan.add(i, end, Span.blockComment)
      i = end
    } else if (c === Ch.dot && i + 1 < n && isDigit(sql.charCodeAt(i + 1))) {
      return false
    } else if (isPunct(c)) {
      i++
    } else {
      return false
    }
  }
  return true
}
