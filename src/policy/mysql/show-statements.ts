/** The SHOW statements beyond the connect-time ones: exact grammars, one per form. */
import {type Recognition, likeOrWhere, recognized, user} from './recognized.js'
import type {Cursor, QualifiedName} from './tokens.js'

/** `FROM db` / `IN db`: null when absent, false when malformed. */
function optionalDb(c: Cursor): string | null | false {
  if (!c.oneOf('FROM', 'IN')) return null
  return c.name() ?? false
}

/** Filters then the end: `show` with the expressions of a WHERE. */
function filtered(c: Cursor, tables: QualifiedName[] = []): Recognition {
  const e = likeOrWhere(c)
  return e === null ? null : recognized('show', tables, e)
}

const end = (c: Cursor, tables: QualifiedName[] = []): Recognition =>
  c.atEnd() ? recognized('show', tables) : null

/** `LIMIT n` or `LIMIT offset, n`, optional, then the end. */
function limitThenEnd(c: Cursor): Recognition {
  if (c.word('LIMIT')) {
    if (c.take('number') === null) return null
    if (c.sym(',') && c.take('number') === null) return null
  }
  return end(c)
}

function showCreate(c: Cursor): Recognition {
  const what = c.oneOf(
    'TABLE',
    'VIEW',
    'DATABASE',
    'SCHEMA',
    'PROCEDURE',
    'FUNCTION',
    'TRIGGER',
    'EVENT',
    'SEQUENCE',
    'USER',
  )
  switch (what) {
    case null:
      return null
    case 'USER':
      return user(c) ? end(c) : null
    case 'DATABASE':
    case 'SCHEMA':
      c.words('IF', 'NOT', 'EXISTS')
      return c.name() !== null ? end(c) : null
    case 'TABLE':
    case 'VIEW':
    case 'SEQUENCE': {
      const t = c.qualified()
      return t === null ? null : end(c, [t])
    }
    case 'PROCEDURE':
    case 'FUNCTION':
    case 'TRIGGER':
    case 'EVENT':
      return c.qualified() !== null ? end(c) : null
  }
}

function showIndex(c: Cursor): Recognition {
  if (!c.oneOf('FROM', 'IN')) return null
  const t = c.qualified()
  if (t === null) return null
  const db = optionalDb(c)
  if (db === false) return null
  const table = db === null ? t : {schema: db, name: t.name}
  return filtered(c, [table])
}

function showGrants(c: Cursor): Recognition {
  if (!c.word('FOR')) return end(c)
  if (!user(c)) return null
  if (c.word('USING')) {
    do {
      if (!user(c)) return null
    } while (c.sym(','))
  }
  return end(c)
}

/** SHOW forms other than FULL/scoped ones; the cursor is just after SHOW. */
export function recognizeShowMore(c: Cursor): Recognition {
  const w = c.oneOf(
    'VARIABLES',
    'STATUS',
    'DATABASES',
    'SCHEMAS',
    'WARNINGS',
    'ERRORS',
    'COUNT',
    'CREATE',
    'INDEX',
    'INDEXES',
    'KEYS',
    'STORAGE',
    'ENGINES',
    'ENGINE',
    'GRANTS',
    'TABLE',
    'OPEN',
    'PROCEDURE',
    'FUNCTION',
    'TRIGGERS',
    'EVENTS',
    'CHARACTER',
    'CHARSET',
    'COLLATION',
    'PLUGINS',
    'PRIVILEGES',
    'PROFILES',
    'MASTER',
    'BINARY',
    'SLAVE',
    'REPLICA',
  )
  switch (w) {
    case null:
      return null
    case 'VARIABLES':
    case 'STATUS':
    case 'DATABASES':
    case 'SCHEMAS':
    case 'CHARSET':
    case 'COLLATION':
      return filtered(c)
    case 'CHARACTER':
      return c.word('SET') ? filtered(c) : null
    case 'WARNINGS':
    case 'ERRORS':
      return limitThenEnd(c)
    case 'COUNT':
      return c.sym('(') && c.sym('*') && c.sym(')') && c.oneOf('WARNINGS', 'ERRORS') ? end(c) : null
    case 'CREATE':
      return showCreate(c)
    case 'INDEX':
    case 'INDEXES':
    case 'KEYS':
      return showIndex(c)
    case 'STORAGE':
      return c.word('ENGINES') ? end(c) : null
    case 'ENGINES':
    case 'PLUGINS':
    case 'PRIVILEGES':
    case 'PROFILES':
      return end(c)
    case 'ENGINE':
      return c.name() !== null && c.oneOf('STATUS', 'MUTEX', 'LOGS') ? end(c) : null
    case 'GRANTS':
      return showGrants(c)
    case 'TABLE':
    case 'OPEN':
    case 'TRIGGERS':
    case 'EVENTS': {
      if (w === 'TABLE' && !c.word('STATUS')) return null
      if (w === 'OPEN' && !c.word('TABLES')) return null
      return optionalDb(c) === false ? null : filtered(c)
    }
    case 'PROCEDURE':
    case 'FUNCTION':
      return c.word('STATUS') ? filtered(c) : null
    case 'MASTER':
      return c.oneOf('STATUS', 'LOGS') ? end(c) : null
    case 'BINARY':
      return c.word('LOGS') ? end(c) : null
    case 'SLAVE':
    case 'REPLICA':
      return c.oneOf('STATUS', 'HOSTS') ? end(c) : null
  }
}
