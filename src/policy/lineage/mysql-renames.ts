/**
 * Statements that move a table's values out from under a masking rule without reading them into a
 * result: `RENAME TABLE a TO b`, `ALTER TABLE a RENAME TO b`, `ALTER TABLE a RENAME COLUMN / CHANGE`
 * (the rule names the old column), `ALTER TABLE a CONVERT PARTITION p TO TABLE b`, a column added with
 * a generated expression or a DEFAULT computed from other columns, and writes of a user variable (which
 * may hold any value the session read). Each is a `write` effect: the new table (or the renamed one)
 * holds what `a` held.
 */
import type {Token} from '../mysql/lexer.js'
import {isObj} from '../mysql/walk.js'
import type {MysqlState} from './mysql-query.js'
import type {LineageEffect} from './types.js'

/** What reading table names from tokens needs of a statement's state. */
export type TableNames = Pick<MysqlState, 'catalog' | 'schema' | 'exactNames'>

/** True when a statement's tree holds a user or system variable anywhere. */
export function mentionsVariable(v: unknown, depth = 0): boolean {
  if (depth > 200) return true
  if (Array.isArray(v)) return v.some((x) => mentionsVariable(x, depth + 1))
  if (!isObj(v)) return false
  if (v.type === 'var') return true
  return Object.entries(v).some(([k, x]) => k !== 'loc' && mentionsVariable(x, depth + 1))
}

/** Whether a token is the keyword `w` (upper-case). */
export const word = (t: Token | undefined, w: string): boolean =>
  t !== undefined && t.type === 'word' && t.value.toUpperCase() === w

/** A possibly qualified table name at `i`: [schema, table, index after it], or undefined. */
export function nameAt(
  stmt: readonly Token[],
  i: number,
  state: Pick<TableNames, 'schema' | 'exactNames'>,
): [string, string, number] | undefined {
  const fold = (s: string): string => (state.exactNames ? s : s.toLowerCase())
  const a = stmt[i]
  if (a === undefined || (a.type !== 'word' && a.type !== 'ident')) return undefined
  const b = stmt[i + 2]
  if (stmt[i + 1]?.text === '.' && b !== undefined && (b.type === 'word' || b.type === 'ident'))
    return [fold(a.value), fold(b.value), i + 3]
  return [state.schema, fold(a.value), i + 1]
}

/**
 * `to` now holds the values `from` held (every column of it, or unknown ones): each column under its
 * own name, or, for a column renamed, `renamed` (old name, new name) only. A view is read through its
 * definition under any name: it stores nothing.
 */
function moved(
  from: [string, string],
  to: [string, string],
  state: TableNames,
  /** A column renamed (old name, new name); null when the names cannot be read. */
  renamed?: [string, string] | null,
): Extract<LineageEffect, {kind: 'write'}> {
  const cols = state.catalog.columns(from[0], from[1])
  const view = state.catalog.viewDefinition?.(from[0], from[1]) !== undefined
  const source = (c: string): string => `${from[0]}.${from[1]}.${c}`
  const stored = view
    ? []
    : cols === undefined || renamed === null
      ? null
      : renamed !== undefined
        ? cols
            .filter((c) => c.toLowerCase() === renamed[0].toLowerCase())
            .map((c) => ({name: renamed[1], sources: [source(c)], opaque: false}))
        : cols.map((c) => ({name: c, sources: [source(c)], opaque: false}))
  return {
    kind: 'write',
    table: `${to[0]}.${to[1]}`,
    reads: (cols ?? []).map(source),
    unknown: cols === undefined,
    columns: stored,
    temporary: false,
    afterDdl: false,
  }
}

/** A column name token's text. */
export const nameOf = (t: Token | undefined): string | undefined =>
  t !== undefined && (t.type === 'word' || t.type === 'ident') ? t.value : undefined

/** The write effects of RENAME TABLE and of an ALTER TABLE that renames the table or a column. */
export function renameWrites(stmt: readonly Token[], state: TableNames): LineageEffect[] {
  const out: LineageEffect[] = []
  if (word(stmt[0], 'RENAME') && word(stmt[1], 'TABLE')) {
    // RENAME TABLE a TO b [, c TO d ...]
    let i = 2
    for (;;) {
      const from = nameAt(stmt, i, state)
      if (from === undefined || !word(stmt[from[2]], 'TO')) break
      const to = nameAt(stmt, from[2] + 1, state)
      if (to === undefined) break
      out.push(moved([from[0], from[1]], [to[0], to[1]], state))
      if (stmt[to[2]]?.text !== ',') break
      i = to[2] + 1
    }
    return out
  }
  if (!word(stmt[0], 'ALTER')) return out
  const at = stmt.findIndex((t, k) => k > 0 && word(t, 'TABLE'))
  if (at < 0 || at > 3) return out
  const table = nameAt(stmt, at + 1, state)
  if (table === undefined) return out
  const self: [string, string] = [table[0], table[1]]
  for (let i = table[2]; i < stmt.length; i++) {
    const t = stmt[i]
    if (word(t, 'RENAME') && /^(INDEX|KEY)$/i.test(stmt[i + 1]?.value ?? '')) continue
    if (word(t, 'CHANGE') || (word(t, 'RENAME') && word(stmt[i + 1], 'COLUMN'))) {
      // CHANGE [COLUMN] old new type, RENAME COLUMN old TO new.
      const k = word(stmt[i + 1], 'COLUMN') ? i + 2 : i + 1
      const old = nameOf(stmt[k])
      const now = nameOf(word(t, 'CHANGE') ? stmt[k + 1] : stmt[k + 2])
      out.push(moved(self, self, state, old !== undefined && now !== undefined ? [old, now] : null))
    } else if (word(t, 'RENAME')) {
      const j = word(stmt[i + 1], 'TO') || word(stmt[i + 1], 'AS') ? i + 2 : i + 1
      const to = nameAt(stmt, j, state)
      if (to !== undefined) out.push(moved(self, [to[0], to[1]], state))
    } else if (word(t, 'CONVERT') && word(stmt[i + 1], 'PARTITION')) {
      // CONVERT PARTITION p TO TABLE t2: t2 holds the partition's rows.
      const j = stmt.findIndex((x, k) => k > i && word(x, 'TABLE'))
      const to = j < 0 ? undefined : nameAt(stmt, j + 1, state)
      out.push(moved(self, to === undefined ? ['', ''] : [to[0], to[1]], state))
    } else if ((word(t, 'AS') || word(t, 'DEFAULT')) && stmt[i + 1]?.text === '(')
      // A generated column, or a column added with a DEFAULT computed from the table's columns: every
      // stored row gets the value (`ADD d VARCHAR(40) DEFAULT (email)` copies email into d).
      out.push(generated(stmt, i, self, state))
  }
  return out
}

/**
 * A generated column (`ADD [COLUMN] c type [GENERATED ALWAYS] AS (expr)`, also with MODIFY or CHANGE)
 * or a column's computed default (`ADD c type DEFAULT (expr)`, `ALTER [COLUMN] c SET DEFAULT (expr)`):
 * every later read of `c` computes `expr` from the table's columns, so `c` holds what they hold. Its
 * sources are the table's columns the expression names; the column is unknown when its name cannot be
 * read, opaque when the table's columns are unknown.
 */
function generated(
  stmt: readonly Token[],
  as: number,
  self: [string, string],
  state: TableNames,
): LineageEffect {
  let k = as
  while (k > 0 && !['ADD', 'MODIFY', 'CHANGE', 'ALTER'].some((w) => word(stmt[k], w))) k--
  let n = word(stmt[k + 1], 'COLUMN') ? k + 2 : k + 1
  if (word(stmt[n], 'IF')) n += 3
  if (word(stmt[k], 'CHANGE')) n++
  const name = k > 0 ? nameOf(stmt[n]) : undefined
  // The expression: the tokens inside the parentheses after AS.
  const names = new Set<string>()
  for (let depth = 0, j = as + 1; j < stmt.length; j++) {
    const text = stmt[j]?.text
    if (text === '(') depth++
    else if (text === ')' && --depth === 0) break
    const id = nameOf(stmt[j])
    if (id !== undefined) names.add(id.toLowerCase())
  }
  const cols = state.catalog.columns(self[0], self[1])
  const sources = (cols ?? [])
    .filter((c) => names.has(c.toLowerCase()))
    .map((c) => `${self[0]}.${self[1]}.${c}`)
  return {
    ...moved(self, self, state),
    columns: name === undefined ? null : [{name, sources, opaque: cols === undefined}],
  }
}
