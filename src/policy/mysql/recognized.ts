/**
 * What the narrow recognizers return for statements node-sql-parser cannot read. Each recognizer
 * accepts one exact grammar over tokens; any token it does not expect makes it return null, and the
 * statement stays unparseable. Expressions inside (SET values, DO, SHOW ... WHERE) are not trusted to
 * the recognizer: they go back to node-sql-parser as `SELECT <expr>`.
 */
import type {Kind} from '../types.js'
import type {Token} from './lexer.js'
import type {Cursor, QualifiedName} from './tokens.js'

/** A statement a recognizer read. */
export interface Recognized {
  readonly kind: Kind
  readonly tables: readonly QualifiedName[]
  /** Expressions whose tables and functions count: each parsed as `SELECT <expr>`. */
  readonly exprs: readonly Token[][]
  /** Functions named by the statement itself (`CALL`-like), lower-cased. */
  readonly functions?: readonly string[]
  /** A statement nested in this one; `runs` when the server executes it (EXPLAIN ANALYZE). */
  readonly inner?: {readonly tokens: readonly Token[]; readonly runs: boolean}
  /** This statement is exactly `rewrite` (`TABLE t` is `SELECT * FROM t`): analyze that instead. */
  readonly rewrite?: readonly Token[]
  /** `PREPARE name FROM 'text'`. */
  readonly prepare?: {readonly name: string; readonly text: string}
  readonly execute?: string
  /**
   * The statement runs this text now, as one prepared statement (`EXECUTE IMMEDIATE 'text'`): `via` says how,
   * `schema` is the database it runs in when not the session's, `using` whether it passes values (`USING @v`).
   */
  readonly immediate?: {
    readonly text: string
    readonly via: string
    readonly schema?: string
    readonly using: boolean
  }
  readonly deallocate?: string
  readonly schemaChange?: string
}

/** A statement that was recognized but must not be analyzed further (`PREPARE s FROM @v`). */
export interface Refused {
  readonly refused: string
}

/** The answer of a recognizer. */
export type Recognition = Recognized | Refused | null

/** A recognized statement of `kind` touching `tables`, with `exprs` to check. */
export function recognized(
  kind: Kind,
  tables: readonly QualifiedName[] = [],
  exprs: readonly Token[][] = [],
): Recognized {
  return {kind, tables, exprs}
}

/** A synthetic token, for rewrites. */
export function synth(text: string, type: Token['type'] = 'word'): Token {
  return {type, text, value: text, gap: true, exec: -1}
}

/** `LIKE 'pattern'`, `WHERE expr` or nothing, then the end; null if anything else follows. */
export function likeOrWhere(c: Cursor): Token[][] | null {
  if (c.word('LIKE')) return c.take('string') !== null && c.atEnd() ? [] : null
  if (c.word('WHERE')) {
    const expr = c.rest()
    return expr.length > 0 ? [expr] : null
  }
  return c.atEnd() ? [] : null
}

/** A user: `'u'@'h'`, `u@h`, `CURRENT_USER[()]`; true if one was consumed. */
export function user(c: Cursor): boolean {
  if (c.word('CURRENT_USER')) {
    if (c.sym('(')) return c.sym(')')
    return true
  }
  if (c.take('string') === null && c.name() === null) return false
  c.take('variable')
  return true
}

/** A comma-separated list of users. */
export function users(c: Cursor): boolean {
  do {
    if (!user(c)) return false
  } while (c.sym(','))
  return true
}
