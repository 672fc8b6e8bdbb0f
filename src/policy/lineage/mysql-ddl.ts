/**
 * Statements that act on a table's stored rows without a query, read from their tokens (node-sql-parser
 * reads few of them): DDL that checks every stored value (a UNIQUE key, a CHECK, a type change), whose
 * success answers a question about the values; HANDLER reads, which choose and sort rows by a WHERE or
 * an index; CHECKSUM TABLE, whose result is computed from every value.
 */
import type {Token} from '../mysql/lexer.js'
import {conditionEffects, type Decides, newDecides} from './decides.js'
import {type Acc, mergeAcc, newAcc} from './model.js'
import {nameAt, nameOf, type TableNames, word} from './mysql-renames.js'
import type {LineageEffect, StatementLineage} from './types.js'

/** A table as `[schema, table]`. */
type Table = [string, string]

/**
 * The columns of `table` among `names` (lower-case; all of them when undefined). When the table's
 * columns are unknown, the names as written, which a rule on the table's column matches all the same;
 * all of an unknown table's columns are untraced (opaque).
 */
function columnsOf(table: Table, state: TableNames, names?: ReadonlySet<string>): Acc {
  const acc = newAcc()
  const cols = state.catalog.columns(table[0], table[1])
  const source = (c: string): string => `${table[0]}.${table[1]}.${c}`
  if (cols !== undefined)
    for (const c of cols) if (names === undefined || names.has(c.toLowerCase())) acc.sources.add(source(c))
  if (cols === undefined && names === undefined) acc.opaque = true
  if (cols === undefined) for (const n of names ?? []) acc.sources.add(source(n))
  return acc
}

/** The names (lower-case) in the parenthesised group that opens at `open`, and the index after it. */
function groupAt(stmt: readonly Token[], open: number): [Set<string>, number] {
  const names = new Set<string>()
  let depth = 0
  for (let j = open; j < stmt.length; j++) {
    const t = stmt[j]
    if (t?.text === '(') depth++
    else if (t?.text === ')' && --depth === 0) return [names, j + 1]
    // Function names too (`LENGTH(email)`): they name no column of the table, and `ssn(1)` is a prefix.
    const name = nameOf(t)
    if (name !== undefined) names.add(name.toLowerCase())
  }
  return [names, stmt.length]
}

/** The first parenthesised group at or after `from`, before `to`: its names and the index after it. */
function nextGroup(stmt: readonly Token[], from: number, to: number): [Set<string>, number] | undefined {
  for (let j = from; j < to; j++) if (stmt[j]?.text === '(') return groupAt(stmt, j)
  return undefined
}

/** The specifications of an ALTER TABLE from `from` on: [start, end) at commas outside parentheses. */
function specs(stmt: readonly Token[], from: number): [number, number][] {
  const out: [number, number][] = []
  let depth = 0
  let start = from
  for (let j = from; j < stmt.length; j++) {
    const text = stmt[j]?.text
    if (text === '(') depth++
    else if (text === ')') depth--
    else if (text === ',' && depth === 0) {
      out.push([start, j])
      start = j + 1
    }
  }
  out.push([start, stmt.length])
  return out
}

/**
 * DDL over a table's stored rows that checks or sorts them (the MySQL side of postgres.ts's
 * alterChecks): whether it succeeds (or warns) shows their values. A UNIQUE or PRIMARY key (`ADD UNIQUE
 * (ssn(1))` fails when two values share a first character), a FOREIGN key (both sides), a column's new
 * type (`MODIFY email INT`), a conversion to another character set and a period's bounds go into FAILS;
 * a CHECK and partitioning (which bound a row must fit, which partition it lands in) into CONDITION;
 * `ALTER TABLE ... ORDER BY` (rows stored sorted, read back in that order) into ORDER. Plain indexes,
 * drops, defaults and comments check nothing; renames are copies (mysql-renames.ts).
 */
export function ddlEffects(stmt: readonly Token[], state: TableNames): LineageEffect[] {
  const checks = newDecides()
  if (word(stmt[0], 'CREATE')) uniqueIndex(stmt, state, checks)
  else if (word(stmt[0], 'ALTER')) alterTable(stmt, state, checks)
  return conditionEffects(checks)
}

/** `CREATE [OR REPLACE] UNIQUE INDEX [IF NOT EXISTS] name [USING x] ON t (cols)`: the key's columns. */
function uniqueIndex(stmt: readonly Token[], state: TableNames, checks: Decides): void {
  const index = stmt.findIndex((t) => word(t, 'INDEX'))
  const before = stmt.slice(1, Math.max(index, 1))
  const only = before.every((t) => ['OR', 'REPLACE', 'UNIQUE', 'ONLINE', 'OFFLINE'].some((w) => word(t, w)))
  if (index < 0 || !only || !before.some((t) => word(t, 'UNIQUE'))) return
  const on = stmt.findIndex((t, k) => k > index && word(t, 'ON'))
  const table = on < 0 ? undefined : nameAt(stmt, on + 1, state)
  if (table === undefined) return void (checks.fails.opaque = true)
  const group = nextGroup(stmt, table[2], stmt.length)
  mergeAcc(checks.fails, columnsOf([table[0], table[1]], state, group?.[0]))
}

/** `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t spec [, spec]... [partitioning]`. */
function alterTable(stmt: readonly Token[], state: TableNames, checks: Decides): void {
  const at = stmt.findIndex((t, k) => k > 0 && word(t, 'TABLE'))
  if (at < 0 || at > 3) return
  const from = word(stmt[at + 1], 'IF') && word(stmt[at + 2], 'EXISTS') ? at + 3 : at + 1
  const name = nameAt(stmt, from, state)
  if (name === undefined) return
  const table: Table = [name[0], name[1]]
  for (const [start, end] of specs(stmt, name[2])) spec(stmt, start, end, table, state, checks)
}

/** One specification of an ALTER TABLE, tokens [start, end). */
function spec(
  stmt: readonly Token[],
  start: number,
  end: number,
  table: Table,
  state: TableNames,
  checks: Decides,
): void {
  const of = (names?: ReadonlySet<string>): Acc => columnsOf(table, state, names)
  const head = stmt[start]
  // MODIFY [COLUMN] [IF EXISTS] c type, CHANGE [COLUMN] [IF EXISTS] old new type: every stored value
  // is converted to the new definition (a type, a length, NOT NULL, a character set).
  if (word(head, 'MODIFY') || word(head, 'CHANGE')) {
    let k = word(stmt[start + 1], 'COLUMN') ? start + 2 : start + 1
    if (word(stmt[k], 'IF')) k += 2
    const column = nameOf(stmt[k])
    mergeAcc(checks.fails, of(new Set(column === undefined ? [] : [column.toLowerCase()])))
    if (column === undefined) mergeAcc(checks.fails, of())
  }
  // CONVERT TO CHARACTER SET: a character the new set lacks fails (or warns).
  if (word(head, 'CONVERT') && word(stmt[start + 1], 'TO')) mergeAcc(checks.fails, of())
  // ORDER BY a, b: the list runs to the end (its commas are no specification's).
  if (word(head, 'ORDER') && word(stmt[start + 1], 'BY'))
    mergeAcc(checks.order, of(groupOf(stmt, start + 2, stmt.length)))
  for (let j = start; j < end; j++) {
    const t = stmt[j]
    if (word(t, 'CHECK') && stmt[j + 1]?.text === '(') mergeAcc(checks.acc, of(groupAt(stmt, j + 1)[0]))
    // A key over stored values: ADD [CONSTRAINT [name]] UNIQUE | PRIMARY KEY | FOREIGN KEY (cols), or a
    // period's bounds (ADD PERIOD FOR p (start, end) checks start < end). Not a new column's own UNIQUE,
    // which has no group after it.
    if (word(head, 'ADD') && ['UNIQUE', 'PRIMARY', 'FOREIGN', 'PERIOD'].some((w) => word(t, w))) {
      const group = nextGroup(stmt, j + 1, end)
      if (group !== undefined) mergeAcc(checks.fails, of(group[0]))
    }
    // REFERENCES parent (cols): each value must be among the parent's.
    if (word(t, 'REFERENCES')) {
      const parent = nameAt(stmt, j + 1, state)
      const group = parent === undefined ? undefined : nextGroup(stmt, parent[2], end)
      if (parent === undefined) checks.fails.opaque = true
      else mergeAcc(checks.fails, columnsOf([parent[0], parent[1]], state, group?.[0]))
    }
    // Partitioning (PARTITION BY, ADD / REORGANIZE / EXCHANGE PARTITION, CONVERT TABLE t TO PARTITION):
    // a row that fits no bound fails, and the partition a row lands in is read back with PARTITION (p).
    if (partitions(stmt, j)) {
      mergeAcc(checks.acc, of())
      const other = stmt.findIndex((x, k) => k > j && k < end && word(x, 'TABLE'))
      const t2 = other < 0 ? undefined : nameAt(stmt, other + 1, state)
      if (t2 !== undefined) mergeAcc(checks.acc, columnsOf([t2[0], t2[1]], state))
    }
  }
}

/** The names of tokens [from, end) (an ORDER BY list), lower-case. */
function groupOf(stmt: readonly Token[], from: number, end: number): Set<string> {
  const names = new Set<string>()
  for (let j = from; j < end; j++) {
    const name = nameOf(stmt[j])
    if (name !== undefined) names.add(name.toLowerCase())
  }
  return names
}

/** Whether the token at `j` starts a partitioning that places or checks stored rows. */
function partitions(stmt: readonly Token[], j: number): boolean {
  const t = stmt[j]
  if (word(t, 'PARTITION') && word(stmt[j + 1], 'BY')) return true
  if (word(t, 'PARTITION') && ['ADD', 'REORGANIZE', 'EXCHANGE'].some((w) => word(stmt[j - 1], w))) return true
  // CONVERT TABLE t TO PARTITION p VALUES ...
  return word(t, 'CONVERT') && word(stmt[j + 1], 'TABLE')
}

/** A statement's lineage as the session remembers it (prepared statements, open handlers). */
type Remembered = StatementLineage & {readonly diagnostics: boolean}

/**
 * A statement read from its tokens alone: HANDLER (which updates `remembered`, the session's prepared
 * statements, with the handlers it opens and closes) and CHECKSUM TABLE; undefined for any other.
 */
export function tokenStatement(
  stmt: readonly Token[],
  state: TableNames,
  remembered: Map<string, Remembered>,
): {lineage: Remembered; effects: LineageEffect[]} | undefined {
  const checksum = checksumStatement(stmt, state)
  if (checksum !== undefined) return {lineage: {...checksum, diagnostics: false}, effects: []}
  const handler = handlerStatement(stmt, state, remembered)
  if (handler === undefined) return undefined
  for (const e of handler.effects)
    if (e.kind === 'prepare') remembered.set(e.name, {...e.lineage, diagnostics: false})
    else if (e.kind === 'deallocate') remembered.delete(e.name)
  return {lineage: {...handler.lineage, diagnostics: false}, effects: handler.effects}
}

/** The key under which the session's open HANDLER of a name is remembered (with prepared statements). */
function handlerKey(name: string): string {
  return `\u0000handler ${name}`
}

/** What a HANDLER statement does: its rows' lineage, and its effects (an OPEN remembers the table). */
interface TableStatement {
  readonly lineage: StatementLineage
  readonly effects: LineageEffect[]
}

const UNKNOWN_ROWS: StatementLineage = {columns: null, reads: [], readsUnknown: true}

/**
 * `HANDLER t OPEN [[AS] h]`, `HANDLER h READ ...`, `HANDLER h CLOSE`. The handler's name (the alias, or
 * the table) is remembered with the session's prepared statements (`handlerKey`), so that a READ
 * through an alias judges the table it reads. A READ's WHERE chooses rows (CONDITION over the columns
 * it names); an index read (`READ idx FIRST|NEXT|PREV|LAST`, `READ idx >= (...)`) returns rows in the
 * index's order (ORDER), from the key it is compared with (CONDITION), over every column of the table
 * (the catalog does not say which an index holds). A plain `READ FIRST|NEXT` reads rows as stored.
 * Its rows are of unknown lineage (masked from what the column definitions name).
 */
function handlerStatement(
  stmt: readonly Token[],
  state: TableNames,
  handlers: ReadonlyMap<string, StatementLineage>,
): TableStatement | undefined {
  if (!word(stmt[0], 'HANDLER')) return undefined
  const name = nameAt(stmt, 1, state)
  if (name === undefined) return {lineage: UNKNOWN_ROWS, effects: []}
  const verb = stmt[name[2]]
  if (word(verb, 'OPEN')) {
    const alias = nameOf(word(stmt[name[2] + 1], 'AS') ? stmt[name[2] + 2] : stmt[name[2] + 1])
    const key = handlerKey(
      alias === undefined ? name[1] : state.exactNames === true ? alias : alias.toLowerCase(),
    )
    const cols = columnsOf([name[0], name[1]], state)
    const opened: StatementLineage = {columns: [], reads: [...cols.sources].sort(), readsUnknown: cols.opaque}
    return {lineage: UNKNOWN_ROWS, effects: [{kind: 'prepare', name: key, lineage: opened}]}
  }
  if (word(verb, 'CLOSE'))
    return {lineage: UNKNOWN_ROWS, effects: [{kind: 'deallocate', name: handlerKey(name[1])}]}
  if (!word(verb, 'READ')) return {lineage: UNKNOWN_ROWS, effects: []}
  // The handler's table: the one it was opened on; a name never opened here reads its own table, and
  // an alias the session opened where lineage did not see is untraced.
  const opened = handlers.get(handlerKey(name[1]))
  const known: Acc = opened === undefined ? columnsOf([name[0], name[1]], state) : newAcc()
  if (opened !== undefined) {
    for (const s of opened.reads) known.sources.add(s)
    known.opaque = opened.readsUnknown
  }
  const among = (names?: ReadonlySet<string>): Acc => {
    if (names === undefined || known.opaque) return known
    const acc = newAcc()
    for (const s of known.sources)
      if (names.has(s.slice(s.lastIndexOf('.') + 1).toLowerCase())) acc.sources.add(s)
    return acc
  }
  const rest = stmt.slice(name[2] + 1)
  const where = rest.findIndex((t) => word(t, 'WHERE'))
  const head = where < 0 ? rest : rest.slice(0, where)
  const plain =
    ['FIRST', 'NEXT'].some((w) => word(head[0], w)) && (head.length === 1 || word(head[1], 'LIMIT'))
  const decides = newDecides()
  if (!plain) {
    mergeAcc(decides.order, known)
    // A key compared with (`= (...)`, `>= (...)`): which rows come back shows how the index's values compare.
    if (head.some((t) => t.type === 'op')) mergeAcc(decides.acc, known)
  }
  if (where >= 0) {
    const limit = rest.findIndex((t, k) => k > where && word(t, 'LIMIT'))
    mergeAcc(decides.acc, among(groupOf(rest, where + 1, limit < 0 ? rest.length : limit)))
  }
  return {lineage: UNKNOWN_ROWS, effects: conditionEffects(decides)}
}

/**
 * `CHECKSUM TABLE t [, t2...] [QUICK | EXTENDED]`: its `Checksum` column is computed from every value
 * of the tables (a guessed row can be checked against it offline), so it is masked like them; the
 * `Table` column is the table's name.
 */
function checksumStatement(stmt: readonly Token[], state: TableNames): StatementLineage | undefined {
  if (!word(stmt[0], 'CHECKSUM') || !/^TABLES?$/i.test(stmt[1]?.value ?? '')) return undefined
  const acc = newAcc()
  for (let i = 2; i < stmt.length;) {
    const name = nameAt(stmt, i, state)
    if (name === undefined) break
    mergeAcc(acc, columnsOf([name[0], name[1]], state))
    if (stmt[name[2]]?.text !== ',') break
    i = name[2] + 1
  }
  if (acc.sources.size === 0) acc.opaque = true
  const reads = [...acc.sources].sort()
  return {
    columns: [
      {name: 'table', sources: [], opaque: false},
      {name: 'checksum', sources: reads, opaque: acc.opaque},
    ],
    reads,
    readsUnknown: acc.opaque,
  }
}
