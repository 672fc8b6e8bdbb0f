/** Statement splitting, canonical rendering and a cursor over the tokens of one statement. */
import type {Token} from './lexer.js'

/** Splits tokens at top-level `;` (strings and comments are already single tokens); drops empty statements. */
export function splitStatements(tokens: readonly Token[]): Token[][] {
  const out: Token[][] = []
  let cur: Token[] = []
  for (const t of tokens) {
    if (t.type === 'punct' && t.text === ';') {
      if (cur.length > 0) out.push(cur)
      cur = []
    } else {
      cur.push(t)
    }
  }
  if (cur.length > 0) out.push(cur)
  return out
}

const TIGHT = new Set(['.', '(', ')', ','])

const LITERAL_WORDS = new Set(['NULL', 'TRUE', 'FALSE', 'DEFAULT'])

/** A token that can only be (part of) a literal: no name, function, variable or subquery. */
function literalOnly(t: Token): boolean {
  if (t.type === 'string' || t.type === 'number' || t.type === 'param') return true
  if (t.type === 'word') return LITERAL_WORDS.has(t.value.toUpperCase())
  return t.text === ',' || t.text === '-' || t.text === '+'
}

/**
 * Drops the second and later rows of an `INSERT ... VALUES` whose rows hold only literals: they
 * cannot reference a table or call a function, and node-sql-parser needs seconds for a dump's
 * megabyte-long row lists. Rows with anything else stay, so nothing that matters is dropped.
 */
export function compactValues(tokens: readonly Token[]): readonly Token[] {
  const first = tokens[0]
  if (!isWord(first, 'INSERT') && !isWord(first, 'REPLACE')) return tokens
  const v = tokens.findIndex((t) => isWord(t, 'VALUES') || isWord(t, 'VALUE'))
  if (v < 0) return tokens
  const kept: Token[] = tokens.slice(0, v + 1)
  let i = v + 1
  let rows = 0
  while (tokens[i]?.text === '(') {
    let j = i + 1
    while (j < tokens.length && tokens[j]!.text !== ')' && literalOnly(tokens[j]!)) j++
    if (tokens[j]?.text !== ')') return tokens
    if (rows === 0) kept.push(...tokens.slice(i, j + 1))
    rows++
    i = j + 1
    if (tokens[i]?.text !== ',' || tokens[i + 1]?.text !== '(') break
    i++
  }
  if (rows < 2) return tokens
  return [...kept, ...tokens.slice(i)]
}

const HINT_VERBS = ['USE', 'IGNORE', 'FORCE']

/** The end (exclusive) of an index hint starting at `i`, or -1: `USE|IGNORE|FORCE INDEX|KEY [FOR JOIN|ORDER BY|GROUP BY] (names)`. */
function indexHintEnd(tokens: readonly Token[], i: number): number {
  if (!HINT_VERBS.some((w) => isWord(tokens[i], w))) return -1
  if (!isWord(tokens[i + 1], 'INDEX') && !isWord(tokens[i + 1], 'KEY')) return -1
  let j = i + 2
  if (isWord(tokens[j], 'FOR')) {
    if (isWord(tokens[j + 1], 'JOIN')) j += 2
    else if (
      (isWord(tokens[j + 1], 'ORDER') || isWord(tokens[j + 1], 'GROUP')) &&
      isWord(tokens[j + 2], 'BY')
    )
      j += 3
    else return -1
  }
  if (tokens[j]?.text !== '(') return -1
  for (j++; j < tokens.length && tokens[j]!.text !== ')'; j++) {
    const t = tokens[j]!
    if (t.type !== 'word' && t.type !== 'ident' && t.text !== ',') return -1
  }
  return j < tokens.length ? j + 1 : -1
}

/**
 * Drops the runs of tokens `runEnd` finds: for a position it answers where a run starting there ends
 * (exclusive), or -1. The token after a run counts as after a gap, so rendering never joins its neighbours.
 */
function dropRuns(tokens: readonly Token[], runEnd: (i: number) => number): readonly Token[] {
  let out: Token[] | undefined
  for (let i = 0; i < tokens.length; i++) {
    const end = runEnd(i)
    if (end < 0) {
      out?.push(tokens[i]!)
      continue
    }
    out ??= tokens.slice(0, i)
    const after = tokens[end]
    if (after !== undefined) out.push({...after, gap: true})
    i = end
  }
  return out ?? tokens
}

/**
 * Drops index hints after a table reference (`FROM t FORCE INDEX (i)`, `JOIN u USE KEY FOR JOIN (a, b)`,
 * several separated by commas), which node-sql-parser cannot read. A hint chooses how a table is read,
 * never which tables, columns or functions: it holds only keywords and index names, and USE, IGNORE,
 * FORCE, INDEX and KEY are reserved words, so the sequence means nothing else.
 */
export function withoutIndexHints(tokens: readonly Token[]): readonly Token[] {
  return dropRuns(tokens, (i) => {
    const prev = tokens[i - 1]
    const afterTable =
      prev !== undefined && (prev.type === 'word' || prev.type === 'ident' || prev.text === ')')
    let end = afterTable ? indexHintEnd(tokens, i) : -1
    for (let next = end; end >= 0 && tokens[next]?.text === ','; next = end) {
      const more = indexHintEnd(tokens, next + 1)
      if (more < 0) break
      end = more
    }
    return end
  })
}

/**
 * Modifiers node-sql-parser cannot read or misreads (its MariaDB grammar takes `UPDATE IGNORE t` for a
 * table named ignore aliased t), by the verb they follow. They change priority, locking, join order or
 * error handling, never which rows, tables or functions. All are reserved words except QUICK, which the server
 * also reads as the modifier right after DELETE (a table of that name must be quoted there).
 */
const MODIFIERS: Readonly<Record<string, ReadonlySet<string>>> = {
  DELETE: new Set(['LOW_PRIORITY', 'QUICK', 'IGNORE']),
  UPDATE: new Set(['LOW_PRIORITY', 'IGNORE']),
  INSERT: new Set(['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'IGNORE']),
  REPLACE: new Set(['LOW_PRIORITY', 'DELAYED']),
  DROP: new Set(['TEMPORARY']),
  // node-sql-parser reads the column after `SELECT STRAIGHT_JOIN` as a table.
  SELECT: new Set(['STRAIGHT_JOIN']),
}

/** Drops the modifiers of MODIFIERS that follow their verb. */
export function withoutModifiers(tokens: readonly Token[]): readonly Token[] {
  return dropRuns(tokens, (i) => {
    const verb = tokens[i - 1]
    const modifiers = verb?.type === 'word' ? MODIFIERS[verb.value.toUpperCase()] : undefined
    let j = i
    while (
      modifiers !== undefined &&
      tokens[j]?.type === 'word' &&
      modifiers.has(tokens[j]!.value.toUpperCase())
    )
      j++
    return j > i ? j : -1
  })
}

/** The tokens node-sql-parser and the table scan read: modifiers and index hints dropped. */
export function parserTokens(tokens: readonly Token[]): readonly Token[] {
  return withoutIndexHints(withoutModifiers(tokens))
}

/** The text node-sql-parser reads for one statement's tokens (parserTokens), long literal VALUES compacted. */
export function parserText(tokens: readonly Token[]): string {
  return render(compactValues(parserTokens(tokens)))
}

/**
 * The text node-sql-parser reads: canonical tokens, a space wherever the original had a gap, and
 * between adjacent operators so that `--x` (minus minus x to MySQL) can never read as a comment.
 */
export function render(tokens: readonly Token[]): string {
  let out = ''
  let prev: Token | undefined
  for (const t of tokens) {
    if (prev !== undefined) {
      const ops = prev.type === 'op' && t.type === 'op' && !TIGHT.has(t.text) && !TIGHT.has(prev.text)
      if (t.gap || ops) out += ' '
    }
    out += t.text
    prev = t
  }
  return out
}

/** Whether a token is the keyword `word` (case-insensitive; quoted identifiers are never keywords). */
export function isWord(t: Token | undefined, word: string): boolean {
  return t !== undefined && t.type === 'word' && t.value.toUpperCase() === word
}

/** A name as MySQL matches it here: unquoted or backticked, lower-cased. */
export function nameOf(t: Token | undefined): string | null {
  if (t === undefined || (t.type !== 'word' && t.type !== 'ident')) return null
  return t.value.toLowerCase()
}

/** A possibly qualified object name: `db.name` or `name`. */
export interface QualifiedName {
  readonly schema: string | null
  readonly name: string
}

/** A forward-only cursor over one statement's tokens, for the narrow recognizers. */
export class Cursor {
  private i = 0

  constructor(readonly tokens: readonly Token[]) {}

  /** The token `ahead` positions on, if any. */
  peek(ahead = 0): Token | undefined {
    return this.tokens[this.i + ahead]
  }

  /** Consumes and returns the next token. */
  next(): Token | undefined {
    const t = this.tokens[this.i]
    if (t !== undefined) this.i++
    return t
  }

  /** True when every token was consumed. */
  atEnd(): boolean {
    return this.i >= this.tokens.length
  }

  /** Current position, to slice tokens later. */
  get index(): number {
    return this.i
  }

  /** Consumes the next token if it is the keyword `word`. */
  word(word: string): boolean {
    if (!isWord(this.peek(), word)) return false
    this.i++
    return true
  }

  /** Consumes a sequence of keywords, all or nothing. */
  words(...words: string[]): boolean {
    if (!words.every((w, k) => isWord(this.peek(k), w))) return false
    this.i += words.length
    return true
  }

  /** Consumes the next token if it is one of `words`; returns which (upper case) or null. */
  oneOf<const W extends string>(...words: W[]): W | null {
    const w = words.find((x) => isWord(this.peek(), x))
    if (w === undefined) return null
    this.i++
    return w
  }

  /** Consumes the punctuation or operator `text`. */
  sym(text: string): boolean {
    const t = this.peek()
    if (t === undefined || (t.type !== 'punct' && t.type !== 'op') || t.text !== text) return false
    this.i++
    return true
  }

  /** Consumes a token of `type`, returning it. */
  take(type: Token['type']): Token | null {
    const t = this.peek()
    if (t?.type !== type) return null
    this.i++
    return t
  }

  /** Consumes a name (word or backticked identifier), lower-cased. */
  name(): string | null {
    const n = nameOf(this.peek())
    if (n !== null) this.i++
    return n
  }

  /** Consumes `name` or `schema.name`. */
  qualified(): QualifiedName | null {
    const first = this.name()
    if (first === null) return null
    if (!this.sym('.')) return {schema: null, name: first}
    const second = this.name()
    return second === null ? null : {schema: first, name: second}
  }

  /** Consumes tokens up to (not including) a top-level `,` or the end: one expression. */
  expression(): Token[] {
    const start = this.i
    let depth = 0
    while (this.i < this.tokens.length) {
      const t = this.tokens[this.i]!
      if (t.type === 'punct' && t.text === ',' && depth === 0) break
      if (t.type === 'punct' && t.text === '(') depth++
      if (t.type === 'punct' && t.text === ')') depth--
      if (depth < 0) break
      this.i++
    }
    return this.tokens.slice(start, this.i)
  }

  /** Consumes `( ... )` and returns the tokens inside, or null. */
  parenthesized(): Token[] | null {
    if (!this.sym('(')) return null
    const inner = this.expressionUntilClose()
    return inner !== null && this.sym(')') ? inner : null
  }

  private expressionUntilClose(): Token[] | null {
    const start = this.i
    let depth = 0
    for (; this.i < this.tokens.length; this.i++) {
      const t = this.tokens[this.i]!
      if (t.type !== 'punct') continue
      if (t.text === '(') depth++
      if (t.text === ')' && depth-- === 0) return this.tokens.slice(start, this.i)
    }
    return null
  }

  /** The remaining tokens, consuming them. */
  rest(): Token[] {
    const r = this.tokens.slice(this.i)
    this.i = this.tokens.length
    return r
  }
}

/**
 * Parentheses nested deeper than this are refused before node-sql-parser reads the statement: its time
 * grows exponentially with nesting (`SELECT (SELECT (...) AS x) AS x`: 0.5 s at 16 levels, 7.7 s at
 * 22, measured here), and the proxy's event loop, every session's, would wait for it.
 */
export const MAX_PAREN_DEPTH = 12

/** True when the statement's parentheses nest deeper than MAX_PAREN_DEPTH. */
export function nestsTooDeep(tokens: readonly Token[]): boolean {
  let depth = 0
  for (const t of tokens) {
    if (t.type === 'string' || t.type === 'ident') continue
    if (t.text === '(') {
      if (++depth > MAX_PAREN_DEPTH) return true
    } else if (t.text === ')') depth = Math.max(0, depth - 1)
  }
  return false
}
