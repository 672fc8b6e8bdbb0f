/**
 * Maps a statement node-sql-parser read to the operations of the policy language.
 * Choices worth knowing: REPLACE is an insert plus a delete (it deletes the rows it collides with);
 * INSERT ... ON DUPLICATE KEY UPDATE is an insert plus an update (WHERE present: only colliding rows, absent
 * when it writes the target's own rows back whole);
 * SELECT ... INTO OUTFILE/DUMPFILE is a select plus a copy; CREATE TABLE ... AS SELECT is a create plus
 * a select; RENAME TABLE is an alter; LOAD DATA is a copy; an ALTER TABLE that drops a column, index or
 * key is an alter plus a drop, one that truncates a partition an alter plus a truncate.
 */
import type {Kind, Operation, WhereState} from '../types.js'
import type {Parsed} from './parser.js'
import type {QualifiedName} from './tokens.js'
import {type Found, isObj, walk} from './walk.js'
import {judgeWhere} from './where.js'
import {scansOf, scansWhole, writeTarget} from './where-self.js'

/** Operations of one statement, plus what the session must learn from it. */
export interface StatementOps {
  readonly ops: Operation[]
  readonly literalSensitive: boolean
  /** `USE db`: unqualified names resolve against `db` from here on. */
  readonly schemaChange?: string
}

/** `schema.table`, unqualified names resolved against the current database. */
export function qualify(q: QualifiedName, schema: string): string {
  return `${q.schema ?? schema}.${q.name}`
}

/** Builds an operation with de-duplicated tables and functions. */
export function operation(
  kind: Kind,
  tables: Iterable<string>,
  functions: Iterable<string>,
  where: WhereState = null,
): Operation {
  return {kind, tables: [...new Set(tables)], functions: [...new Set(functions)], where}
}

/**
 * Tables of a walk, cross-checked with node-sql-parser's tableList. The walker knows CTE scopes and
 * the tableList does not, so for a name some CTE defines only the walker's answer counts.
 */
export function tablesOf(found: Found, schema: string): string[] {
  const out = new Set(found.tables.map((t) => qualify(t, schema)))
  for (const entry of found.tableList) {
    const [, db, table] = entry.split('::')
    if (table === undefined || table === 'null') continue
    const q = {schema: db === undefined || db === 'null' ? null : db.toLowerCase(), name: table.toLowerCase()}
    if (q.schema === null && found.cteNames.has(q.name)) continue
    out.add(qualify(q, schema))
  }
  return [...out]
}

/** Table names that node-sql-parser stores as bare strings rather than `{db, table}` objects. */
function extraTables(ast: Record<string, unknown>): QualifiedName[] {
  const out: QualifiedName[] = []
  if (ast.type === 'desc' && typeof ast.table === 'string')
    out.push({schema: null, name: ast.table.toLowerCase()})
  if (ast.type === 'alter' && Array.isArray(ast.expr)) {
    for (const e of ast.expr as unknown[]) {
      if (isObj(e) && e.resource === 'table' && typeof e.table === 'string') {
        out.push({schema: null, name: e.table.toLowerCase()})
      }
    }
  }
  if (ast.type === 'grant' && isObj(ast.on) && Array.isArray(ast.on.priv_level)) {
    for (const p of ast.on.priv_level as unknown[]) {
      if (!isObj(p) || typeof p.name !== 'string') continue
      out.push({
        schema: typeof p.prefix === 'string' ? p.prefix.toLowerCase() : null,
        name: p.name.toLowerCase(),
      })
    }
  }
  return out
}

/**
 * What an ALTER TABLE does beyond altering: `DROP [COLUMN] c`, `DROP INDEX`, `DROP PRIMARY KEY`,
 * `DROP FOREIGN KEY` drop something, a drop operation of the table as well (as `DROP INDEX i ON t` is);
 * `TRUNCATE PARTITION` deletes the partition's rows, a truncate of the table, and so does `ENGINE=BLACKHOLE`
 * (the table keeps no rows in that engine: converting it discards them all).
 */
function alterActions(ast: Record<string, unknown>, tables: string[], fns: string[]): Operation[] {
  const kinds = new Set<Kind>()
  for (const e of Array.isArray(ast.expr) ? (ast.expr as unknown[]) : []) {
    if (!isObj(e)) continue
    if (e.action === 'drop') kinds.add('drop')
    if (e.action === 'truncate') kinds.add('truncate')
    if (e.resource === 'engine' && String(e.engine).toUpperCase() === 'BLACKHOLE') kinds.add('truncate')
  }
  return [...kinds].map((kind) => operation(kind, tables, fns))
}

const SIMPLE_KINDS: Readonly<Record<string, Kind>> = {
  rename: 'alter',
  drop: 'drop',
  truncate: 'truncate',
  set: 'set',
  show: 'show',
  desc: 'show',
  explain: 'explain',
  transaction: 'transaction',
  call: 'call',
  lock: 'lock',
  unlock: 'lock',
}

/** Statement types whose tables the token scan double-checks (table-scan.ts). */
const SCANNED = new Set([
  'select',
  'insert',
  'replace',
  'update',
  'delete',
  'create',
  'drop',
  'alter',
  'truncate',
])

/**
 * The operations of a parsed statement; a file written with INTO OUTFILE adds a copy. `scanned`
 * are the tables the token scan found, added to what the parser saw.
 */
export function operationsOf(
  parsed: Parsed,
  schema: string,
  scanned: readonly QualifiedName[],
): StatementOps {
  const ast = parsed.ast
  if (!isObj(ast)) return {ops: [], literalSensitive: false}
  const found = walk(ast)
  found.tableList.push(...parsed.tableList)
  if (SCANNED.has(String(ast.type))) {
    found.tables.push(...scanned.filter((t) => t.schema !== null || !found.cteNames.has(t.name)))
  }
  const result = statementOps(ast, found, schema)
  if (!found.writesFile) return result
  const all = result.ops.flatMap((o) => o.tables)
  return {...result, ops: [...result.ops, operation('copy', all, found.functions)]}
}

/**
 * Whether an INSERT or REPLACE writes the target's own rows back, read whole (`REPLACE INTO t SELECT id,
 * NULL FROM t`, `INSERT INTO t SELECT * FROM t ON DUPLICATE KEY UPDATE v = NULL`): every row then collides,
 * so its delete or update has no WHERE.
 */
function readsWhole(ast: Record<string, unknown>): {whole: boolean; literalSensitive: boolean} {
  const target = writeTarget(ast)
  if (target === undefined || !scansWhole(ast.values, target)) return {whole: false, literalSensitive: false}
  const verdict = judgeWhere((ast.values as Record<string, unknown>).where)
  return {whole: verdict.where === 'absent', literalSensitive: verdict.literalSensitive}
}

function statementOps(ast: Record<string, unknown>, found: Found, schema: string): StatementOps {
  found.tables.push(...extraTables(ast))
  const tables = tablesOf(found, schema)
  const fns = found.functions
  const type = String(ast.type)
  switch (type) {
    case 'select':
      return {ops: [operation('select', tables, fns)], literalSensitive: false}
    case 'insert':
    case 'replace': {
      const ops = [operation('insert', tables, fns)]
      // The rows it collides with bound it, unless it writes the target's own rows back whole.
      const own = readsWhole(ast)
      const collided: WhereState = own.whole ? 'absent' : 'present'
      if (type === 'replace') ops.push(operation('delete', tables, fns, collided))
      if (ast.on_duplicate_update) ops.push(operation('update', tables, fns, collided))
      return {ops, literalSensitive: own.literalSensitive}
    }
    case 'update':
    case 'delete': {
      const target = writeTarget(ast)
      const verdict = judgeWhere(ast.where, target, scansOf(ast))
      const op = operation(type, tables, fns, verdict.where)
      const notNull =
        verdict.notNull === undefined || target === undefined
          ? undefined
          : {schema: target.db, table: target.name, columns: verdict.notNull}
      return {
        ops: [notNull === undefined ? op : {...op, notNull}],
        literalSensitive: verdict.literalSensitive,
      }
    }
    case 'create': {
      const ops = [operation('create', tables, fns)]
      if (ast.keyword === 'table' && isObj(ast.query_expr)) {
        const inner = walk(ast.query_expr)
        ops.push(operation('select', tablesOf(inner, schema), inner.functions))
      }
      return {ops, literalSensitive: false}
    }
    case 'grant': {
      const kind = String(ast.to_from).toUpperCase() === 'FROM' ? 'revoke' : 'grant'
      return {ops: [operation(kind, tables, fns)], literalSensitive: false}
    }
    case 'alter':
      return {
        ops: [operation('alter', tables, fns), ...alterActions(ast, tables, fns)],
        literalSensitive: false,
      }
    case 'set': {
      // SET @v = (SELECT ...) reads what its subqueries read: a select of those tables too.
      const ops = [operation('set', tables, fns)]
      if (tables.length > 0) ops.push(operation('select', tables, fns))
      return {ops, literalSensitive: false}
    }
    case 'load_data': {
      // LOAD DATA adds rows to its table (REPLACE deletes those they collide with): an insert too, so rules
      // on writes of the table meet it.
      const ops = [operation('copy', tables, fns), operation('insert', tables, fns)]
      if (String(ast.replace_ignore).toLowerCase() === 'replace')
        ops.push(operation('delete', tables, fns, 'present'))
      return {ops, literalSensitive: false}
    }
    case 'use': {
      const db = typeof ast.db === 'string' ? ast.db.toLowerCase() : null
      const ops = [operation('set', [], fns)]
      return db === null ? {ops, literalSensitive: false} : {ops, literalSensitive: false, schemaChange: db}
    }
    default:
      return {ops: [operation(SIMPLE_KINDS[type] ?? 'other', tables, fns)], literalSensitive: false}
  }
}
