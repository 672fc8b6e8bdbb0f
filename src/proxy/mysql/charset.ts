/**
 * The character set the server sends results in (character_set_results), as a session's statements
 * change it: masking must know it to read and rewrite text values. What the proxy cannot tell for sure
 * is `unknown`, and masking then fails closed.
 */

/**
 * The result charset: a charset name (lower case), null when results are not converted (each column
 * comes in its own charset), or UNKNOWN_CHARSET when the proxy cannot tell.
 */
export type ResultCharset = string | null

/** What the proxy cannot tell for sure (no charset has this name): masking fails closed on it. */
export const UNKNOWN_CHARSET = 'unknown'

/** Charsets of the collation ids clients commonly announce in their handshake. */
const COLLATION_CHARSETS: ReadonlyMap<number, string> = new Map([
  [8, 'latin1'], // latin1_swedish_ci
  [47, 'latin1'], // latin1_bin
  [33, 'utf8mb3'], // utf8_general_ci
  [83, 'utf8mb3'], // utf8_bin
  [192, 'utf8mb3'], // utf8_unicode_ci
  [45, 'utf8mb4'], // utf8mb4_general_ci
  [46, 'utf8mb4'], // utf8mb4_bin
  [224, 'utf8mb4'], // utf8mb4_unicode_ci
  [255, 'utf8mb4'], // utf8mb4_0900_ai_ci (MySQL 8)
  [11, 'ascii'], // ascii_general_ci
  [63, 'binary'], // binary
])

/** The result charset a handshake's collation id sets; unknown for ids not listed. */
export function charsetOfCollation(id: number): ResultCharset {
  return COLLATION_CHARSETS.get(id) ?? UNKNOWN_CHARSET
}

/** What a query does to the result charset. */
export type CharsetChange = {readonly kind: 'none'} | {readonly kind: 'set'; readonly charset: ResultCharset}

/** Most statements do not change the result charset: one answer for all of them, no object per query. */
const NO_CHANGE: CharsetChange = Object.freeze({kind: 'none'})

const NAME = String.raw`(?:'([^'\\]+)'|"([^"\\]+)"|` + '`([^`]+)`' + String.raw`|([A-Za-z0-9_]+))`
const END = String.raw`\s*;?\s*$`
/** SET NAMES x [COLLATE y], and SET CHARACTER SET x / SET CHARSET x (both set character_set_results). */
const SET_NAMES = new RegExp(
  String.raw`^\s*SET\s+(?:NAMES|CHARACTER\s+SET|CHARSET)\s+${NAME}(?:\s+COLLATE\s+${NAME})?${END}`,
  'i',
)
/** SET [SESSION | LOCAL | @@[session.|local.]]character_set_results = x. */
const SET_RESULTS = new RegExp(
  String.raw`^\s*SET\s+(?:SESSION\s+|LOCAL\s+|@@(?:SESSION\.|LOCAL\.)?)?character_set_results\s*:?=\s*${NAME}${END}`,
  'i',
)
/** SQL-level EXECUTE: runs a statement whose text this query does not show. */
const EXECUTES = /\bEXECUTE\b/i
/** Words without which a SET statement leaves character_set_results alone. */
const MENTIONS = /\b(?:NAMES|CHARACTER|CHARSET|character_set_results)\b/i

function nameOf(m: RegExpExecArray): {name: string; bare: boolean} {
  return {name: (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').toLowerCase(), bare: m[4] !== undefined}
}

/**
 * How an allowed query changes the result charset once it succeeds. `hasSet`: the guard found a SET
 * statement in it (executable comments and prepared statements it executes included); without one
 * nothing changes. A lone SET NAMES / SET CHARACTER SET / SET character_set_results is read exactly; any
 * other SET that mentions charsets (several assignments, several statements, DEFAULT, comments), and a SET
 * run by EXECUTE, make the charset unknown.
 */
export function resultCharsetChange(sql: string, hasSet: boolean): CharsetChange {
  if (!hasSet) return NO_CHANGE
  // A SET that runs from a prepared statement (EXECUTE name, EXECUTE IMMEDIATE): its text is not here.
  if (EXECUTES.test(sql)) return {kind: 'set', charset: UNKNOWN_CHARSET}
  if (!MENTIONS.test(sql)) return NO_CHANGE
  const names = SET_NAMES.exec(sql)
  if (names !== null) {
    const {name, bare} = nameOf(names)
    return {kind: 'set', charset: bare && (name === 'default' || name === 'null') ? UNKNOWN_CHARSET : name}
  }
  const results = SET_RESULTS.exec(sql)
  if (results === null) return {kind: 'set', charset: UNKNOWN_CHARSET}
  const {name, bare} = nameOf(results)
  if (bare && name === 'null') return {kind: 'set', charset: null}
  return {kind: 'set', charset: bare && name === 'default' ? UNKNOWN_CHARSET : name}
}

/**
 * Result charsets masking can read and write: ASCII bytes mean ASCII characters in them (so classifiers
 * find addresses and digits) and the styles' ASCII strings are valid text. UCS-2, UTF-16 and UTF-32,
 * results left unconverted (null, `binary`: each column in its own charset) and unknown are not.
 */
const MASKABLE_CHARSETS: ReadonlySet<string> = new Set([
  'utf8mb4',
  'utf8mb3',
  'utf8',
  'ascii',
  'latin1',
  'latin2',
  'latin5',
  'latin7',
  'cp1250',
  'cp1251',
  'cp1256',
  'cp1257',
  'cp850',
  'cp852',
  'cp866',
  'koi8r',
  'koi8u',
  'greek',
  'hebrew',
  'armscii8',
  'dec8',
  'hp8',
  'keybcs2',
  'macce',
  'macroman',
  'swe7',
  'tis620',
  'geostd8',
])

/** True when masking can read and rewrite text results in this charset (see MASKABLE_CHARSETS). */
export function maskableCharset(charset: ResultCharset): boolean {
  return charset !== null && MASKABLE_CHARSETS.has(charset)
}
