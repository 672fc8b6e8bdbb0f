/**
 * Statements node-sql-parser cannot read that hold or stand for other statements: PREPARE, EXECUTE,
 * DEALLOCATE, EXPLAIN/ANALYZE of a statement, DO, CALL without parentheses, and MySQL 8's `TABLE t`
 * and `VALUES ROW(...)`, which are rewritten to the SELECT they mean.
 */
import type {Kind} from '../types.js'
import type {Token} from './lexer.js'
import {type Recognition, recognized, synth} from './recognized.js'
import {Cursor, isWord} from './tokens.js'

/** Words that start a statement EXPLAIN can explain. */
const EXPLAINABLE = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'TABLE', 'WITH', 'VALUES']

function startsExplainable(c: Cursor): boolean {
  const t = c.peek()
  return EXPLAINABLE.some((w) => isWord(t, w)) || (t?.type === 'punct' && t.text === '(')
}

/** `FORMAT = name`, optional. */
function format(c: Cursor): boolean {
  if (!c.word('FORMAT')) return true
  return c.sym('=') && (c.name() !== null || c.take('string') !== null)
}

/** EXPLAIN/DESCRIBE of a statement; with ANALYZE the server also runs it. */
function recognizeExplain(c: Cursor): Recognition {
  if (c.words('FOR', 'CONNECTION'))
    return c.take('number') !== null && c.atEnd() ? recognized('explain') : null
  const runs = c.word('ANALYZE')
  if (!runs) c.oneOf('EXTENDED', 'PARTITIONS')
  if (!format(c) || !startsExplainable(c)) return null
  return {...recognized('explain'), inner: {tokens: c.rest(), runs}}
}

/** MariaDB's `ANALYZE [FORMAT=JSON] stmt` runs the statement and reports on it. */
function recognizeAnalyzeStatement(c: Cursor): Recognition {
  if (!format(c) || !startsExplainable(c) || isWord(c.peek(), 'TABLE')) return null
  return {...recognized('explain'), inner: {tokens: c.rest(), runs: true}}
}

function recognizePrepare(c: Cursor): Recognition {
  const name = c.name()
  if (name === null || !c.word('FROM')) return null
  const text = c.take('string')
  if (text !== null) return c.atEnd() ? {...recognized('prepare'), prepare: {name, text: text.value}} : null
  if (c.take('variable') !== null && c.atEnd()) {
    return {refused: `PREPARE ${name} FROM a variable: the statement it prepares cannot be known`}
  }
  return null
}

function recognizeExecute(c: Cursor): Recognition {
  // MariaDB's EXECUTE IMMEDIATE runs the text of an expression; only a string constant can be judged.
  if (isWord(c.peek(), 'IMMEDIATE') && c.peek(1) !== undefined) {
    c.next()
    const text = c.take('string')
    const using = isWord(c.peek(), 'USING')
    if (text === null || !usingVariables(c))
      return {refused: 'EXECUTE IMMEDIATE of an expression: the statement it runs cannot be known'}
    return {...recognized('execute'), immediate: {text: text.value, via: 'EXECUTE IMMEDIATE', using}}
  }
  const name = c.name()
  if (name === null) return null
  return usingVariables(c) ? {...recognized('execute'), execute: name} : null
}

/** `USING @a, @b` or nothing, then the end. */
function usingVariables(c: Cursor): boolean {
  if (c.word('USING')) {
    do {
      if (c.take('variable') === null) return false
    } while (c.sym(','))
  }
  return c.atEnd()
}

/**
 * Procedures of the sys schema (MariaDB and MySQL ship it) that do what a statement of another kind does:
 * `execute_prepared_stmt` runs its text as a prepared statement; the others change the schema or empty
 * tables. Unqualified names count too (the session may be in `sys`), whatever schema they resolve to.
 */
const SYS_PROCEDURES: Readonly<Record<string, Kind>> = {
  create_synonym_db: 'create',
  ps_truncate_all_tables: 'truncate',
}

/** `VALUES ROW(a, b), ROW(c, d)` is `SELECT a, b UNION ALL SELECT c, d`. */
function recognizeValues(c: Cursor): Recognition {
  const out: Token[] = []
  do {
    if (!c.word('ROW')) return null
    const row = c.parenthesized()
    if (row === null || row.length === 0) return null
    if (out.length > 0) out.push(synth('UNION'), synth('ALL'))
    out.push(synth('SELECT'), ...row)
  } while (c.sym(','))
  return c.atEnd() ? {...recognized('select'), rewrite: out} : null
}

function recognizeCall(c: Cursor): Recognition {
  const name = c.qualified()
  if (name === null) return null
  const fn = name.schema === null ? name.name : `${name.schema}.${name.name}`
  const inside = c.atEnd() ? [] : c.parenthesized()
  if (inside === null || !c.atEnd()) return null
  const args = expressionList(inside)
  if (args === null) return null
  const sys = name.schema === null || name.schema === 'sys' ? name.name : undefined
  if (sys === 'execute_prepared_stmt') {
    const text =
      args.length === 1 && args[0]?.length === 1 && args[0][0]?.type === 'string'
        ? args[0][0].value
        : undefined
    if (text === undefined)
      return {refused: `CALL ${fn} of an expression: the statement it runs cannot be known`}
    return {
      ...recognized('call'),
      functions: [fn],
      immediate: {text, via: `CALL ${fn}`, schema: 'sys', using: false},
    }
  }
  const kind = sys === undefined ? undefined : SYS_PROCEDURES[sys]
  return {...recognized(kind ?? 'call', [], args), functions: [fn]}
}

/** Comma-separated expressions (a call's arguments, DO's list), each its tokens; null when one is empty. */
function expressionList(tokens: readonly Token[]): Token[][] | null {
  if (tokens.length === 0) return []
  const c = new Cursor(tokens)
  const args: Token[][] = []
  do {
    const arg = c.expression()
    if (arg.length === 0) return null
    args.push(arg)
  } while (c.sym(','))
  return c.atEnd() ? args : null
}

/**
 * `CALL` of a sys procedure that does what another kind of statement does (SYS_PROCEDURES,
 * `execute_prepared_stmt`): read here before node-sql-parser, which reads it as any CALL. Null otherwise.
 */
export function recognizeSysCall(tokens: readonly Token[]): Recognition {
  const c = new Cursor(tokens)
  if (!c.word('CALL')) return null
  const name = new Cursor(tokens.slice(1)).qualified()
  if (name === null || (name.schema !== null && name.schema !== 'sys')) return null
  if (name.name !== 'execute_prepared_stmt' && SYS_PROCEDURES[name.name] === undefined) return null
  return recognizeCall(c) ?? {refused: `CALL ${name.name} not understood by the MySQL analyzer`}
}

/** Recognizes PREPARE, EXECUTE, DEALLOCATE, EXPLAIN stmt, ANALYZE stmt, DO, CALL, TABLE, VALUES. */
export function recognizeStatementForm(tokens: readonly Token[]): Recognition {
  const c = new Cursor(tokens)
  const verb = c.oneOf(
    'PREPARE',
    'EXECUTE',
    'DEALLOCATE',
    'DROP',
    'EXPLAIN',
    'DESCRIBE',
    'DESC',
    'ANALYZE',
    'DO',
    'CALL',
    'TABLE',
    'VALUES',
  )
  switch (verb) {
    case null:
      return null
    case 'PREPARE':
      return recognizePrepare(c)
    case 'EXECUTE':
      return recognizeExecute(c)
    case 'DEALLOCATE':
    case 'DROP': {
      const name = c.word('PREPARE') ? c.name() : null
      return name !== null && c.atEnd() ? {...recognized('deallocate'), deallocate: name} : null
    }
    case 'EXPLAIN':
    case 'DESCRIBE':
    case 'DESC':
      return recognizeExplain(c)
    case 'ANALYZE':
      return recognizeAnalyzeStatement(c)
    case 'DO': {
      const exprs = c.atEnd() ? null : expressionList(c.rest())
      return exprs === null ? null : recognized('do', [], exprs)
    }
    case 'CALL':
      return recognizeCall(c)
    case 'TABLE':
      return c.atEnd()
        ? null
        : {...recognized('select'), rewrite: [synth('SELECT'), synth('*', 'op'), synth('FROM'), ...c.rest()]}
    case 'VALUES':
      return recognizeValues(c)
  }
}
