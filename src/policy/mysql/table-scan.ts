/**
 * A safety net under node-sql-parser: the names that follow table-introducing keywords (FROM, JOIN,
 * UPDATE, INTO, TABLE, USING) in the tokens themselves. node-sql-parser sometimes misreads a statement
 * and still succeeds (`UPDATE IGNORE users SET ...` gives a table named `ignore` with alias `users`);
 * whatever it answers, these names are tables of the statement too. Over-approximates on purpose.
 */
import type {Token} from './lexer.js'
import {type QualifiedName, isWord, nameOf} from './tokens.js'

const INTRODUCERS = new Set(['FROM', 'JOIN', 'STRAIGHT_JOIN', 'UPDATE', 'INTO', 'TABLE', 'TABLES', 'USING'])
const MODIFIERS = new Set([
  'LOW_PRIORITY',
  'DELAYED',
  'HIGH_PRIORITY',
  'IGNORE',
  'QUICK',
  'IF',
  'NOT',
  'EXISTS',
])
/** Words that end a table reference rather than alias it. */
const RESERVED = new Set([
  'AS',
  'CROSS',
  'DUAL',
  'FOR',
  'FORCE',
  'FROM',
  'GROUP',
  'HAVING',
  'IGNORE',
  'INNER',
  'INTO',
  'JOIN',
  'LEFT',
  'LIMIT',
  'LOCK',
  'NATURAL',
  'ON',
  'ORDER',
  'OUTER',
  'OUTFILE',
  'DUMPFILE',
  'PARTITION',
  'PROCEDURE',
  'RIGHT',
  'SELECT',
  'SET',
  'STRAIGHT_JOIN',
  'UNION',
  'USE',
  'USING',
  'VALUE',
  'VALUES',
  'WHERE',
  'WINDOW',
  'WITH',
  'READ',
  'WRITE',
  'LIKE',
  'TABLE',
  'TABLES',
  'DEFAULT',
  'CHARACTER',
  'CHARSET',
  'COLUMNS',
  'FIELDS',
  'LINES',
  'TERMINATED',
])
/** Openers of a parenthesis that holds a statement (where FROM introduces tables again). */
const STATEMENT_STARTS = ['SELECT', 'WITH', 'VALUES', 'TABLE']

const isName = (t: Token | undefined): boolean =>
  t?.type === 'ident' || (t?.type === 'word' && !RESERVED.has(t.value.toUpperCase()))

/** Whether `UPDATE` at `i` is a clause (`ON DUPLICATE KEY UPDATE`, `FOR UPDATE`), not a statement. */
function clauseUpdate(tokens: readonly Token[], i: number): boolean {
  return isWord(tokens[i - 1], 'KEY') || isWord(tokens[i - 1], 'FOR')
}

/** Reads `name[.name] [[AS] alias]` (repeated over commas) from `i`; returns the names and the next index. */
function readTables(tokens: readonly Token[], i: number, out: QualifiedName[]): number {
  for (;;) {
    while (tokens[i]?.type === 'word' && MODIFIERS.has(tokens[i]!.value.toUpperCase())) i++
    if (!isName(tokens[i])) return i
    const first = nameOf(tokens[i])!
    i++
    let name: QualifiedName = {schema: null, name: first}
    if (tokens[i]?.text === '.' && isName(tokens[i + 1])) {
      name = {schema: first, name: nameOf(tokens[i + 1])!}
      i += 2
    }
    // `JSON_TABLE(...)`, `LATERAL (...)`: a table function or a keyword, not a table.
    if (tokens[i]?.text === '(') return i
    out.push(name)
    if (isWord(tokens[i], 'AS')) i++
    if (isName(tokens[i])) i++
    if (tokens[i]?.text !== ',') return i
    i++
  }
}

/** Names following table-introducing keywords, outside expression parentheses. */
export function scanTables(tokens: readonly Token[]): QualifiedName[] {
  const out: QualifiedName[] = []
  // One entry per open parenthesis: true when it holds a statement.
  const parens: boolean[] = []
  let i = 0
  while (i < tokens.length) {
    const t = tokens[i]!
    if (t.type === 'punct' && t.text === '(') {
      parens.push(STATEMENT_STARTS.some((w) => isWord(tokens[i + 1], w)))
    } else if (t.type === 'punct' && t.text === ')') {
      parens.pop()
    } else if (t.type === 'word' && parens.every((p) => p) && INTRODUCERS.has(t.value.toUpperCase())) {
      if (!(isWord(t, 'UPDATE') && clauseUpdate(tokens, i))) {
        const next = readTables(tokens, i + 1, out)
        if (next > i + 1) {
          i = next
          continue
        }
      }
    }
    i++
  }
  return out
}
