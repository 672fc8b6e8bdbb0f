/**
 * Administrative statements node-sql-parser cannot read: table maintenance (ANALYZE, OPTIMIZE,
 * REPAIR, CHECK, CHECKSUM), FLUSH, HANDLER, plugins, GRANT/REVOKE and LOCK TABLES forms.
 * Exact grammars over tokens; nothing here evaluates an expression except HANDLER's WHERE, which
 * goes back to the parser.
 */
import type {Token} from './lexer.js'
import {type Recognition, recognized, users} from './recognized.js'
import {Cursor, type QualifiedName, isWord} from './tokens.js'

/** `t[, t]...` */
function tableList(c: Cursor): QualifiedName[] | null {
  const out: QualifiedName[] = []
  do {
    const t = c.qualified()
    if (t === null) return null
    out.push(t)
  } while (c.sym(','))
  return out
}

/** Only names, numbers, commas and parentheses: option lists that cannot hold an expression. */
function inertRest(c: Cursor): boolean {
  return c
    .rest()
    .every(
      (t) =>
        t.type === 'word' ||
        t.type === 'ident' ||
        t.type === 'number' ||
        t.text === ',' ||
        t.text === '(' ||
        t.text === ')',
    )
}

function recognizeMaintenance(
  c: Cursor,
  verb: 'ANALYZE' | 'OPTIMIZE' | 'REPAIR' | 'CHECK' | 'CHECKSUM',
): Recognition {
  c.oneOf('NO_WRITE_TO_BINLOG', 'LOCAL')
  if (!c.oneOf('TABLE', 'TABLES')) return null
  const tables = tableList(c)
  if (tables === null || !inertRest(c)) return null
  return recognized(verb === 'ANALYZE' ? 'analyze' : 'other', tables)
}

const FLUSH_OPTIONS = [
  'PRIVILEGES',
  'LOGS',
  'STATUS',
  'HOSTS',
  'BINARY',
  'ENGINE',
  'ERROR',
  'GENERAL',
  'RELAY',
  'SLOW',
  'QUERY',
  'CACHE',
  'USER_RESOURCES',
  'OPTIMIZER_COSTS',
  'DES_KEY_FILE',
  'USER_STATISTICS',
  'CLIENT_STATISTICS',
  'INDEX_STATISTICS',
  'TABLE_STATISTICS',
]

function recognizeFlush(c: Cursor): Recognition {
  c.oneOf('NO_WRITE_TO_BINLOG', 'LOCAL')
  if (c.oneOf('TABLES', 'TABLE')) {
    const tables = c.atEnd() || isWord(c.peek(), 'WITH') || isWord(c.peek(), 'FOR') ? [] : tableList(c)
    if (tables === null) return null
    if (c.words('WITH', 'READ', 'LOCK') || c.words('FOR', 'EXPORT')) {
      return c.atEnd() ? recognized('lock', tables) : null
    }
    return c.atEnd() ? recognized('other', tables) : null
  }
  const rest = c.rest()
  const inert = rest.every(
    (t) => t.text === ',' || (t.type === 'word' && FLUSH_OPTIONS.includes(t.value.toUpperCase())),
  )
  return rest.length > 0 && inert ? recognized('other') : null
}

/**
 * HANDLER t OPEN [[AS] a] | HANDLER t CLOSE | HANDLER t READ ... [WHERE expr] [LIMIT ...]. OPEN and READ
 * are a `select` of the table (rules on reading it meet them; READ may name the alias OPEN gave it).
 */
function recognizeHandler(c: Cursor): Recognition {
  const t = c.qualified()
  if (t === null) return null
  const verb = c.oneOf('OPEN', 'CLOSE', 'READ')
  if (verb === 'OPEN') {
    c.word('AS')
    if (!c.atEnd()) c.name()
    return c.atEnd() ? recognized('select', [t]) : null
  }
  if (verb === 'CLOSE') return c.atEnd() ? recognized('other', [t]) : null
  if (verb === null) return null
  const rest = c.rest()
  const where = rest.findIndex((x) => isWord(x, 'WHERE'))
  const head = where < 0 ? rest : rest.slice(0, where)
  // Index values only: no variables, no function calls, no subqueries.
  const call = head.some((x, i) => (x.type === 'word' || x.type === 'ident') && head[i + 1]?.text === '(')
  if (call || head.some((x) => x.type === 'variable' || isWord(x, 'SELECT'))) return null
  if (where < 0) return recognized('select', [t])
  const tail = rest.slice(where + 1)
  const limit = tail.findIndex((x) => isWord(x, 'LIMIT'))
  const expr = limit < 0 ? tail : tail.slice(0, limit)
  const limitOk =
    limit < 0 ||
    tail.slice(limit + 1).every((x) => x.type === 'number' || x.text === ',' || isWord(x, 'OFFSET'))
  return limitOk && expr.length > 0 ? recognized('select', [t], [expr]) : null
}

function recognizePlugin(c: Cursor, verb: 'INSTALL' | 'UNINSTALL'): Recognition {
  if (c.word('SONAME')) return c.take('string') !== null && c.atEnd() ? recognized('other') : null
  if (!c.word('PLUGIN') || c.name() === null) return null
  if (verb === 'INSTALL' && (!c.word('SONAME') || c.take('string') === null)) return null
  return c.atEnd() ? recognized('other') : null
}

/** The privilege level of GRANT/REVOKE as a table pattern: `*.*`, `db.*`, `db.t`, `t`, `*`. */
function privilegeLevel(c: Cursor): QualifiedName | null {
  c.oneOf('TABLE', 'FUNCTION', 'PROCEDURE', 'PACKAGE')
  const part = (): string | null => (c.sym('*') ? '*' : c.name())
  const first = part()
  if (first === null) return null
  if (!c.sym('.')) return {schema: null, name: first}
  const second = part()
  return second === null ? null : {schema: first, name: second}
}

/** GRANT/REVOKE privileges ON level TO/FROM users; roles and PROXY forms have no tables. */
function recognizeGrant(c: Cursor, verb: 'GRANT' | 'REVOKE'): Recognition {
  const kind = verb === 'GRANT' ? 'grant' : 'revoke'
  if (verb === 'REVOKE') c.words('IF', 'EXISTS')
  const privs: Token[] = []
  while (!c.atEnd() && !isWord(c.peek(), 'ON') && !isWord(c.peek(), verb === 'GRANT' ? 'TO' : 'FROM')) {
    privs.push(c.next()!)
  }
  const inert = privs.every(
    (t) => t.type === 'word' || t.type === 'ident' || t.text === ',' || t.text === '(' || t.text === ')',
  )
  if (privs.length === 0 || !inert) return null
  let tables: QualifiedName[] = []
  if (c.word('ON')) {
    const level = privilegeLevel(c)
    if (level === null) return null
    tables = [level]
  }
  if (!c.word(verb === 'GRANT' ? 'TO' : 'FROM') || !users(c)) return null
  if (verb === 'GRANT')
    while (c.words('WITH', 'GRANT', 'OPTION') || c.words('WITH', 'ADMIN', 'OPTION')) continue
  else c.words('IGNORE', 'UNKNOWN', 'USER')
  return c.atEnd() ? recognized(kind, tables) : null
}

function recognizeLock(c: Cursor): Recognition {
  if (!c.oneOf('TABLE', 'TABLES')) return null
  const tables: QualifiedName[] = []
  do {
    const t = c.qualified()
    if (t === null) return null
    tables.push(t)
    if (c.word('AS')) {
      if (c.name() === null) return null
    } else if (!isWord(c.peek(), 'READ') && !isWord(c.peek(), 'WRITE') && !isWord(c.peek(), 'LOW_PRIORITY')) {
      c.name()
    }
    const ok =
      c.words('READ', 'LOCAL') ||
      c.word('READ') ||
      c.words('LOW_PRIORITY', 'WRITE') ||
      c.words('WRITE', 'CONCURRENT') ||
      c.word('WRITE')
    if (!ok) return null
  } while (c.sym(','))
  return c.atEnd() ? recognized('lock', tables) : null
}

/** Recognizes an administrative statement; null if it is none of them. */
export function recognizeAdminStatement(tokens: readonly Token[]): Recognition {
  const c = new Cursor(tokens)
  const verb = c.oneOf(
    'ALTER',
    'ANALYZE',
    'OPTIMIZE',
    'REPAIR',
    'CHECK',
    'CHECKSUM',
    'FLUSH',
    'HANDLER',
    'INSTALL',
    'UNINSTALL',
    'GRANT',
    'REVOKE',
    'LOCK',
    'UNLOCK',
  )
  switch (verb) {
    case null:
      return null
    case 'ALTER': {
      // mysqldump's `ALTER TABLE t DISABLE KEYS` / `ENABLE KEYS`.
      const t = c.word('TABLE') ? c.qualified() : null
      return t !== null && c.oneOf('DISABLE', 'ENABLE') && c.word('KEYS') && c.atEnd()
        ? recognized('alter', [t])
        : null
    }
    case 'ANALYZE':
    case 'OPTIMIZE':
    case 'REPAIR':
    case 'CHECK':
    case 'CHECKSUM':
      return recognizeMaintenance(c, verb)
    case 'FLUSH':
      return recognizeFlush(c)
    case 'HANDLER':
      return recognizeHandler(c)
    case 'INSTALL':
    case 'UNINSTALL':
      return recognizePlugin(c, verb)
    case 'GRANT':
    case 'REVOKE':
      return recognizeGrant(c, verb)
    case 'LOCK':
      return recognizeLock(c)
    case 'UNLOCK':
      return c.oneOf('TABLE', 'TABLES') && c.atEnd() ? recognized('lock') : null
  }
}
