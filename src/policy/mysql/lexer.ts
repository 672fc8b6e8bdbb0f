/**
 * A lexer for MySQL/MariaDB query text that splits it the way the server does: strings with
 * backslash escapes and doubled quotes, backtick identifiers, `#`, `-- ` and `/* *\/` comments, and
 * executable comments (`/*! *\/`, `/*M! *\/`) whose content is code. node-sql-parser gets the
 * canonical text rendered from these tokens, never the raw query, so it cannot disagree with the
 * server about where a string, a comment or a statement ends.
 */

/** What a token is; `op` covers operators, `punct` the characters that structure statements. */
export type TokenType = 'word' | 'ident' | 'string' | 'number' | 'variable' | 'param' | 'op' | 'punct'

/** One token of MySQL text. */
export interface Token {
  readonly type: TokenType
  /** Canonical text for node-sql-parser. */
  readonly text: string
  /** Decoded value: a string's content, an identifier's name; the text otherwise. */
  readonly value: string
  /** Whitespace, a comment or an executable-comment marker came before this token. */
  readonly gap: boolean
  /** Index in `execComments` of the executable comment holding this token, or -1. */
  readonly exec: number
  /** A "…" string: under ANSI_QUOTES (which the proxy cannot see) it names a column instead. */
  readonly doubleQuoted?: boolean
}

/** An executable comment: `/*!` runs on MySQL and MariaDB, `/*M!` only on MariaDB. */
export interface ExecComment {
  readonly mariadbOnly: boolean
  /** The server version the content needs (`50110` for 5.1.10), or null when it always runs. */
  readonly version: number | null
}

/** The result of lexing: tokens, or the reason the text cannot be read. */
export type LexResult =
  | {readonly ok: true; readonly tokens: readonly Token[]; readonly execComments: readonly ExecComment[]}
  | {readonly ok: false; readonly error: string}

const MULTI_OPS = ['<=>', '->>', '<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>', '->']
const SINGLE_OPS = '=<>!~^&|+-*/%:'
const PUNCT = '(),;.{}'
/**
 * `/*M!999999 ... *\/` is MariaDB's way of writing "never" (mariadb-dump's sandbox line): no server
 * this analyzer meets is MariaDB 90 or later, so such a comment is a plain comment.
 */
const MARIADB_NEVER = 900000
const NUMBER = /(?:0x[0-9a-fA-F]+|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/y

/** Thrown inside the lexer only; `lexMysql` turns it into `{ok: false}`. */
class LexError extends Error {}

const isDigit = (c: string): boolean => c >= '0' && c <= '9'
const isSpace = (c: string): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v'
/** MySQL identifier characters: ASCII letters, digits, `_`, `$` and anything beyond U+007F. */
const isIdentChar = (c: string): boolean =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c === '_' || c === '$' || c > '\u007f'

const isAsciiWord = (w: string): boolean => /^[A-Za-z0-9_$]*$/.test(w)
/** Byte 0xA0 is a space to MySQL's 8-bit character sets (latin1 and others): `itemsÂ\xa0UNION`. */
const NBSP_BYTE = 0xa0
const UTF8 = new TextEncoder()

/**
 * Outside quotes, what a non-ASCII character is depends on the connection's character set, which the
 * proxy does not track: bytes that are not UTF-8 (decoded as U+FFFD), or a character one of whose
 * bytes an 8-bit charset reads as a space, could end a name for the server and not for the guard.
 */
function checkCharset(word: string): void {
  for (const ch of word) {
    if (ch <= '\u007f') continue
    if (ch === '\ufffd') throw new LexError('bytes that are not UTF-8 outside a quoted string')
    if (UTF8.encode(ch).includes(NBSP_BYTE))
      throw new LexError('a character some character sets read as a space outside a quoted string')
  }
}

/**
 * A number as node-sql-parser reads it as a number: it takes `1e3` and `0b01` for column names and
 * fails on `.5`, so exponents are expanded to plain decimals and binary becomes `b'...'`.
 */
function canonicalNumber(n: string): string {
  if (/^0b/.test(n)) return `b'${n.slice(2)}'`
  if (/^0x/.test(n)) return n
  const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(n)
  if (!m) throw new LexError('bad number')
  const [, int = '', frac = '', exp] = m
  if (exp === undefined) return `${int || '0'}.${frac}`.replace(/\.$/, '')
  const shift = Number(exp)
  if (Math.abs(shift) > 400) throw new LexError('number exponent out of range')
  const digits = `${int}${frac}`.replace(/^0+(?=\d)/, '') || '0'
  const point = int.length + shift
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length)
  return `${digits.slice(0, point)}.${digits.slice(point)}`
}

/** Canonical single-quoted form of a decoded value: only `''` and `\\` escapes. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/** Canonical backtick form of an identifier. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

const ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  // LIKE patterns keep the backslash before % and _.
  '%': '\\%',
  _: '\\_',
}

/**
 * How the session's sql_mode reads quotes: NO_BACKSLASH_ESCAPES makes `\` an ordinary character in
 * strings, ANSI_QUOTES makes "…" an identifier (which has no escapes either).
 */
interface QuoteMode {
  readonly backslashEscapes: boolean
  readonly doubleQuoteIdent: boolean
}

const DEFAULT_MODE: QuoteMode = {backslashEscapes: true, doubleQuoteIdent: false}
/** The other sql_modes a session can be in without the proxy seeing it (a SET earlier in the query). */
const OTHER_MODES: readonly QuoteMode[] = [
  {backslashEscapes: false, doubleQuoteIdent: false},
  {backslashEscapes: true, doubleQuoteIdent: true},
  {backslashEscapes: false, doubleQuoteIdent: true},
]

class Lexer {
  private pos = 0
  private gap = false
  private exec = -1
  private execEnd = -1
  readonly tokens: Token[] = []
  readonly execComments: ExecComment[] = []
  /** Source offsets where each token starts and ends, to compare how two modes split the text. */
  readonly spans: number[] = []
  private start = 0

  constructor(
    private readonly sql: string,
    private readonly mode: QuoteMode = DEFAULT_MODE,
  ) {}

  run(): void {
    const s = this.sql
    while (this.pos < s.length) {
      const c = s[this.pos]!
      if (isSpace(c)) {
        this.pos++
        this.gap = true
      } else if (c === '#' || (c === '-' && s[this.pos + 1] === '-' && this.dashCommentAt(this.pos + 2))) {
        this.lineComment()
      } else if (c === '/' && s[this.pos + 1] === '*') {
        this.blockComment()
      } else if (c === '*' && s[this.pos + 1] === '/' && this.exec >= 0) {
        this.closeExec()
      } else {
        this.start = this.pos
        this.token(c)
      }
    }
    if (this.exec >= 0) throw new LexError('unterminated executable comment')
  }

  /** MySQL needs whitespace or a control character (or the end) after `--`: `--x` is minus minus x. */
  private dashCommentAt(i: number): boolean {
    const c = this.sql[i]
    return c === undefined || c <= ' ' || c === '\u007f'
  }

  private lineComment(): void {
    const end = this.sql.indexOf('\n', this.pos)
    this.pos = end < 0 ? this.sql.length : end + 1
    this.gap = true
  }

  private blockComment(): void {
    const s = this.sql
    if (this.exec >= 0) throw new LexError('nested comment inside an executable comment')
    const start = this.pos
    if (s[start + 2] === '!' || (s[start + 2] === 'M' && s[start + 3] === '!')) {
      this.openExec(s[start + 2] === 'M')
      return
    }
    const end = s.indexOf('*/', start + 2)
    if (end < 0) throw new LexError('unterminated comment')
    const body = s.slice(start + 2, end)
    // MySQL 8 reads optimizer hints with its own scanner, which knows quotes: refuse anything
    // where that scanner and a plain search for `*/` could disagree.
    if (body.startsWith('+') && /['"`]/.test(body)) throw new LexError('quotes inside an optimizer hint')
    if (body.includes('\0')) throw new LexError('NUL byte in a comment')
    this.pos = end + 2
    this.gap = true
  }

  private openExec(mariadbOnly: boolean): void {
    const s = this.sql
    let p = this.pos + (mariadbOnly ? 4 : 3)
    let digits = 0
    while (isDigit(s[p + digits] ?? '')) digits++
    let version: number | null = null
    const maxDigits = mariadbOnly ? 6 : 5
    // MariaDB reads 5 or 6 digits, MySQL 5: a 6th digit after `/*!` is version or code depending
    // on the server, so such a comment cannot be read safely.
    if (digits > maxDigits) throw new LexError('ambiguous version number in an executable comment')
    if (digits >= 5) {
      version = Number(s.slice(p, p + digits))
      p += digits
    }
    const end = s.indexOf('*/', p)
    if (end < 0) throw new LexError('unterminated executable comment')
    if (mariadbOnly && version !== null && version >= MARIADB_NEVER) {
      this.pos = end + 2
      this.gap = true
      return
    }
    this.execComments.push({mariadbOnly, version})
    this.exec = this.execComments.length - 1
    this.execEnd = end
    this.pos = p
    this.gap = true
  }

  private closeExec(): void {
    // A server that skips the comment ends it at the first `*/`; one that runs it ends it where the
    // code ends. Both must agree, or some text would be code for one and comment for the other.
    if (this.pos !== this.execEnd) throw new LexError('ambiguous end of an executable comment')
    this.exec = -1
    this.pos += 2
    this.gap = true
  }

  private push(type: TokenType, text: string, value: string, doubleQuoted = false): void {
    const t: Token = {type, text, value, gap: this.gap, exec: this.exec}
    this.tokens.push(doubleQuoted ? {...t, doubleQuoted} : t)
    this.spans.push(this.start, this.pos)
    this.gap = false
  }

  private token(c: string): void {
    const s = this.sql
    if (c === '"' && this.mode.doubleQuoteIdent) {
      const name = this.readBacktick('"')
      this.push('ident', quoteIdent(name), name)
    } else if (c === "'" || c === '"') {
      const value = this.readQuoted(c)
      this.push('string', quoteString(value), value, c === '"')
    } else if (c === '`') {
      const name = this.readBacktick()
      this.push('ident', quoteIdent(name), name)
    } else if (c === '@') {
      this.variable()
    } else if (c === '?') {
      this.pos++
      this.push('param', '?', '?')
    } else if (isDigit(c) || (c === '.' && isDigit(s[this.pos + 1] ?? '') && !this.afterName())) {
      this.numberOrWord()
    } else if (isIdentChar(c)) {
      this.word()
    } else if (PUNCT.includes(c)) {
      this.pos++
      this.push('punct', c, c)
    } else {
      this.operator(c)
    }
  }

  /** A `.` right after a name qualifies it (`t.5x`), it does not start a number. */
  private afterName(): boolean {
    const last = this.tokens[this.tokens.length - 1]
    return !this.gap && last !== undefined && (last.type === 'word' || last.type === 'ident')
  }

  private operator(c: string): void {
    const s = this.sql
    const multi = MULTI_OPS.find((op) => s.startsWith(op, this.pos))
    if (multi !== undefined) {
      this.pos += multi.length
      this.push('op', multi, multi)
    } else if (SINGLE_OPS.includes(c)) {
      this.pos++
      this.push('op', c, c)
    } else if (c === '\\' && s[this.pos + 1] === 'N') {
      // MariaDB's `\N` is NULL.
      this.pos += 2
      this.push('word', 'NULL', 'NULL')
    } else {
      const code = c.codePointAt(0) ?? 0
      throw new LexError(`unexpected character U+${code.toString(16).padStart(4, '0').toUpperCase()}`)
    }
  }

  private readQuoted(quote: string): string {
    const s = this.sql
    let out = ''
    let i = this.pos + 1
    for (;;) {
      const c = s[i]
      if (c === undefined) throw new LexError('unterminated string literal')
      if (c === '\\' && this.mode.backslashEscapes) {
        const n = s[i + 1]
        if (n === undefined) throw new LexError('unterminated string literal')
        out += ESCAPES[n] ?? n
        i += 2
      } else if (c === quote) {
        if (s[i + 1] === quote) {
          out += quote
          i += 2
        } else {
          this.pos = i + 1
          return out
        }
      } else {
        out += c
        i++
      }
    }
  }

  private readBacktick(quote = '`'): string {
    const s = this.sql
    let out = ''
    let i = this.pos + 1
    for (;;) {
      const c = s[i]
      if (c === undefined) throw new LexError('unterminated quoted identifier')
      if (c === quote) {
        if (s[i + 1] !== quote) {
          this.pos = i + 1
          if (out.includes('\0')) throw new LexError('NUL byte in an identifier')
          return out
        }
        out += quote
        i += 2
      } else {
        out += c
        i++
      }
    }
  }

  private variable(): void {
    const s = this.sql
    const system = s[this.pos + 1] === '@'
    this.pos += system ? 2 : 1
    const c = s[this.pos] ?? ''
    if (!system && (c === "'" || c === '"' || c === '`')) {
      const name = c === '`' ? this.readBacktick() : this.readQuoted(c)
      this.push('variable', `@${quoteIdent(name)}`, `@${name}`)
      return
    }
    let end = this.pos
    while (end < s.length && (isIdentChar(s[end]!) || s[end] === '.')) end++
    if (end === this.pos) throw new LexError('empty variable name')
    const name = s.slice(this.pos, end)
    if (!/^[A-Za-z0-9_$.]+$/.test(name)) throw new LexError('unsupported variable name')
    this.pos = end
    const text = (system ? '@@' : '@') + name
    this.push('variable', text, text)
  }

  private numberOrWord(): void {
    const s = this.sql
    NUMBER.lastIndex = this.pos
    const m = NUMBER.exec(s)
    const len = m?.[0].length ?? 0
    if (len > 0 && !isIdentChar(s[this.pos + len] ?? '')) {
      this.pos += len
      this.push('number', canonicalNumber(m![0]), m![0])
      return
    }
    this.word()
  }

  private word(): void {
    const s = this.sql
    let end = this.pos
    while (end < s.length && isIdentChar(s[end]!)) end++
    const word = s.slice(this.pos, end)
    if (!isAsciiWord(word)) checkCharset(word)
    this.pos = end
    const q = s[end]
    if (q === "'" && /^[xXbBnN]$/.test(word)) {
      const value = this.readQuoted("'")
      if (word.toUpperCase() === 'N') this.push('string', `N${quoteString(value)}`, value)
      else if (/^[xX]$/.test(word) && /^[0-9a-fA-F]*$/.test(value)) this.push('string', `X'${value}'`, value)
      else if (/^[bB]$/.test(word) && /^[01]*$/.test(value)) this.push('string', `B'${value}'`, value)
      else throw new LexError('bad hexadecimal or bit literal')
      return
    }
    // Names starting with a digit or holding non-ASCII characters are never keywords: quote them so
    // node-sql-parser reads one identifier, as the server does.
    const plain = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(word)
    this.push(plain ? 'word' : 'ident', plain ? word : quoteIdent(word), word)
  }

  fail(e: unknown): string {
    if (e instanceof LexError) return e.message
    throw e
  }
}

/** Lexes MySQL text in one quote mode: the tokens, or the error and the tokens read before it. */
function lexIn(sql: string, mode: QuoteMode): {lexer: Lexer; error: string | undefined} {
  const lexer = new Lexer(sql, mode)
  try {
    lexer.run()
  } catch (e) {
    return {lexer, error: lexer.fail(e)}
  }
  return {lexer, error: undefined}
}

/**
 * True when a session in `mode` would split the text into the same statements as `primary` did, as
 * far as the server would run it: a reading that fails to lex stops the server at that statement, so
 * only the statements it completed before must agree.
 */
function sameSplit(sql: string, primary: Lexer, mode: QuoteMode): boolean {
  const {lexer, error} = lexIn(sql, mode)
  let n = lexer.spans.length
  if (error !== undefined) {
    const lastEnd = lexer.tokens.map((t) => t.text).lastIndexOf(';')
    n = (lastEnd + 1) * 2
  } else if (n !== primary.spans.length) return false
  for (let i = 0; i < n; i++) if (lexer.spans[i] !== primary.spans[i]) return false
  return true
}

/**
 * Lexes MySQL text; never throws on bad input. The proxy cannot see every sql_mode change (a SET
 * earlier in the same query, ANSI_QUOTES, which no status flag reports), so text that some mode would
 * split differently (a backslash before a quote: `'\' ; DROP TABLE t; -- '`) is refused.
 */
export function lexMysql(sql: string): LexResult {
  const {lexer, error} = lexIn(sql, DEFAULT_MODE)
  if (error !== undefined) return {ok: false, error}
  if (sql.includes('\\') && !OTHER_MODES.every((m) => sameSplit(sql, lexer, m)))
    return {
      ok: false,
      error:
        'a backslash in a quoted string makes the text read differently under NO_BACKSLASH_ESCAPES or ANSI_QUOTES',
    }
  return {ok: true, tokens: lexer.tokens, execComments: lexer.execComments}
}
