/**
 * Statements clients send on connect or interactively that node-sql-parser cannot read: SET NAMES and
 * other SET forms, SHOW ..., USE, DESCRIBE, transaction control and KILL. Exact grammars, tokenized.
 */
import type {Token} from './lexer.js'
import {type Recognition, likeOrWhere, recognized, users} from './recognized.js'
import {Cursor, type QualifiedName, isWord} from './tokens.js'
import {recognizeShowMore} from './show-statements.js'

const SCOPES = ['GLOBAL', 'SESSION', 'LOCAL', 'PERSIST', 'PERSIST_ONLY']

/** A charset or collation name: a word, a backticked name, a string or DEFAULT. */
function charsetName(c: Cursor): boolean {
  return c.name() !== null || c.take('string') !== null
}

/** `= expr` or `:= expr`: a single literal or name stays, anything else goes to the parser. */
function assignedValue(c: Cursor, exprs: Token[][]): boolean {
  if (!c.sym('=') && !c.sym(':=')) return false
  const expr = c.expression()
  if (expr.length === 0) return false
  const only = expr.length === 1 ? expr[0]!.type : null
  // `utf8mb4`, `ON`, `NULL`, `'TRADITIONAL'`, `1`: a bare value; anything else must parse.
  if (only !== 'word' && only !== 'ident' && only !== 'string' && only !== 'number') exprs.push(expr)
  return true
}

/** One item of a SET list. */
function setItem(c: Cursor, exprs: Token[][]): boolean {
  if (c.word('NAMES')) {
    if (!charsetName(c)) return false
    return !c.word('COLLATE') || charsetName(c)
  }
  if (c.words('CHARACTER', 'SET') || c.word('CHARSET')) return charsetName(c)
  if (c.take('variable') !== null) return assignedValue(c, exprs)
  c.oneOf(...SCOPES)
  if (c.qualified() === null) return false
  return assignedValue(c, exprs)
}

/** `SET TRANSACTION` characteristics. */
function transactionCharacteristics(c: Cursor): boolean {
  do {
    if (c.words('ISOLATION', 'LEVEL')) {
      const ok =
        c.words('READ', 'UNCOMMITTED') ||
        c.words('READ', 'COMMITTED') ||
        c.words('REPEATABLE', 'READ') ||
        c.word('SERIALIZABLE')
      if (!ok) return false
    } else if (!c.words('READ', 'WRITE') && !c.words('READ', 'ONLY')) {
      return false
    }
  } while (c.sym(','))
  return c.atEnd()
}

function recognizeSet(c: Cursor): Recognition {
  const scoped = SCOPES.some((s) => c.words(s, 'TRANSACTION'))
  if (scoped || c.word('TRANSACTION')) return transactionCharacteristics(c) ? recognized('set') : null
  return recognizeSetList(c)
}

function recognizeSetList(c: Cursor): Recognition {
  const exprs: Token[][] = []
  do {
    if (!setItem(c, exprs)) return null
  } while (c.sym(','))
  return c.atEnd() ? recognized('set', [], exprs) : null
}

/** `FROM db` / `IN db`, optional. */
function fromDb(c: Cursor): string | null | false {
  if (!c.oneOf('FROM', 'IN')) return null
  return c.name() ?? false
}

/** A table named as `db.t`, or `t` then an optional `FROM db`. */
function tableThenDb(c: Cursor): QualifiedName | null {
  const t = c.qualified()
  if (t === null) return null
  const db = fromDb(c)
  if (db === false) return null
  return db === null ? t : {schema: db, name: t.name}
}

function recognizeShow(c: Cursor): Recognition {
  if (c.oneOf('GLOBAL', 'SESSION', 'LOCAL')) {
    if (!c.oneOf('VARIABLES', 'STATUS')) return null
    const e = likeOrWhere(c)
    return e === null ? null : recognized('show', [], e)
  }
  const full = c.word('FULL')
  if (c.word('PROCESSLIST')) return c.atEnd() ? recognized('show') : null
  if (c.word('TABLES')) {
    if (fromDb(c) === false) return null
    const e = likeOrWhere(c)
    return e === null ? null : recognized('show', [], e)
  }
  if (c.oneOf('COLUMNS', 'FIELDS')) {
    if (!c.oneOf('FROM', 'IN')) return null
    const t = tableThenDb(c)
    const e = t === null ? null : likeOrWhere(c)
    return t === null || e === null ? null : recognized('show', [t], e)
  }
  if (full) return null
  return recognizeShowMore(c)
}

/** Reserved words that start what EXPLAIN explains: never a table name after DESCRIBE. */
const EXPLAINABLE = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'REPLACE',
  'TABLE',
  'WITH',
  'VALUES',
  'ANALYZE',
  'FOR',
]

/** `DESCRIBE t [column | 'pattern']`, also spelled DESC and EXPLAIN. */
function recognizeDescribeTable(c: Cursor): Recognition {
  if (EXPLAINABLE.some((w) => isWord(c.peek(), w))) return null
  const t = c.qualified()
  if (t === null) return null
  if (!c.atEnd() && c.name() === null) c.take('string')
  return c.atEnd() ? recognized('show', [t]) : null
}

/** `COMMIT|ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`. */
function endTransaction(c: Cursor): boolean {
  c.word('WORK')
  if (c.word('AND')) {
    c.word('NO')
    if (!c.word('CHAIN')) return false
  }
  if (c.word('NO')) return c.word('RELEASE') && c.atEnd()
  c.word('RELEASE')
  return c.atEnd()
}

/** An XA transaction id: `'gtrid'[, 'bqual'[, formatID]]`. */
function xid(c: Cursor): boolean {
  if (c.take('string') === null) return false
  if (!c.sym(',')) return true
  if (c.take('string') === null) return false
  return !c.sym(',') || c.take('number') !== null
}

function recognizeXa(c: Cursor): boolean {
  const verb = c.oneOf('START', 'BEGIN', 'END', 'PREPARE', 'COMMIT', 'ROLLBACK', 'RECOVER')
  if (verb === null) return false
  if (verb === 'RECOVER') return (!c.word('CONVERT') || c.word('XID')) && c.atEnd()
  if (!xid(c)) return false
  if (verb === 'START' || verb === 'BEGIN') c.oneOf('JOIN', 'RESUME')
  if (verb === 'END' && c.word('SUSPEND') && c.words('FOR', 'MIGRATE')) return c.atEnd()
  if (verb === 'COMMIT') c.words('ONE', 'PHASE')
  return c.atEnd()
}

function recognizeTransaction(c: Cursor, first: string): boolean {
  switch (first) {
    case 'START':
      if (!c.word('TRANSACTION')) return false
      if (c.atEnd()) return true
      do {
        const ok =
          c.words('WITH', 'CONSISTENT', 'SNAPSHOT') || c.words('READ', 'ONLY') || c.words('READ', 'WRITE')
        if (!ok) return false
      } while (c.sym(','))
      return c.atEnd()
    case 'BEGIN':
      c.word('WORK')
      return c.atEnd()
    case 'COMMIT':
      return endTransaction(c)
    case 'ROLLBACK':
      c.word('WORK')
      if (c.word('TO')) {
        c.word('SAVEPOINT')
        return c.name() !== null && c.atEnd()
      }
      return endTransaction(c)
    case 'SAVEPOINT':
      return c.name() !== null && c.atEnd()
    case 'RELEASE':
      return c.word('SAVEPOINT') && c.name() !== null && c.atEnd()
    case 'XA':
      return recognizeXa(c)
    default:
      return false
  }
}

/** `KILL [HARD|SOFT] [CONNECTION|QUERY] [ID] n` or `KILL [HARD|SOFT] USER u`. */
function recognizeKill(c: Cursor): Recognition {
  c.oneOf('HARD', 'SOFT')
  if (c.word('USER')) return users(c) && c.atEnd() ? recognized('other') : null
  c.oneOf('CONNECTION', 'QUERY')
  c.word('ID')
  const n = c.take('number') ?? c.take('param')
  return n !== null && c.atEnd() ? recognized('other') : null
}

/** Recognizes a connect-time or interactive statement; null if it is none of them. */
export function recognizeConnectStatement(tokens: readonly Token[]): Recognition {
  const c = new Cursor(tokens)
  const first = c.oneOf(
    'SET',
    'SHOW',
    'USE',
    'DESCRIBE',
    'DESC',
    'EXPLAIN',
    'START',
    'BEGIN',
    'COMMIT',
    'ROLLBACK',
    'SAVEPOINT',
    'RELEASE',
    'XA',
    'KILL',
  )
  switch (first) {
    case null:
      return null
    case 'SET':
      return recognizeSet(c)
    case 'SHOW':
      return recognizeShow(c)
    case 'USE': {
      const db = c.name()
      return db !== null && c.atEnd() ? {...recognized('set'), schemaChange: db} : null
    }
    case 'DESCRIBE':
    case 'DESC':
    case 'EXPLAIN':
      return recognizeDescribeTable(c)
    case 'KILL':
      return recognizeKill(c)
    case 'START':
    case 'BEGIN':
    case 'COMMIT':
    case 'ROLLBACK':
    case 'SAVEPOINT':
    case 'RELEASE':
    case 'XA':
      return recognizeTransaction(c, first) ? recognized('transaction') : null
  }
}
