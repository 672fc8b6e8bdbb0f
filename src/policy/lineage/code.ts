/**
 * User-defined code a statement may run without naming a function: operators (`CREATE OPERATOR`),
 * casts through a user's function (`CREATE CAST ... WITH FUNCTION`, explicit or implicit) and domain
 * checks. Such code can read any relation and copy any value anywhere, so it makes the statement as
 * opaque as a call of a user's function. What the catalog view cannot tell counts as code.
 */
import {type AstObject, isObject, list, obj, str, stringList, wrapperType} from '../postgres/ast.js'
import type {CatalogView} from './types.js'

/** Schemas whose operators and casts are the server's own. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema'])

/** Operators behind the A_Expr kinds whose name is a keyword (BETWEEN and its forms compare with these). */
const COMPARISONS = ['<', '<=', '>', '>=', '=', '<>']

/** Nodes that evaluate an expression (where an implicit cast could apply). */
const EXPRESSIONS = new Set([
  'ColumnRef',
  'FuncCall',
  'A_Expr',
  'TypeCast',
  'SubLink',
  'RowExpr',
  'A_ArrayExpr',
])

/** True when a statement may run user-defined operator, cast or domain code (or the catalog cannot tell). */
export function runsUserCode(value: unknown, catalog: CatalogView): boolean {
  if (catalog.code === undefined) return false
  const implicit = catalog.code('cast', '*implicit*')
  const scan: Scan = {catalog, found: false, unknown: false, expressions: false}
  visit(value, scan)
  // An implicit cast through a user's function may apply wherever an expression is evaluated.
  return scan.found || scan.unknown || (implicit !== false && scan.expressions)
}

interface Scan {
  readonly catalog: CatalogView
  /** User code found: the scan stops. */
  found: boolean
  /** Something the catalog view does not know yet: the scan goes on, to ask for all of it at once. */
  unknown: boolean
  expressions: boolean
}

/** Records the catalog's answer for one operator or cast. */
function answer(known: boolean | undefined, scan: Scan): void {
  if (known === true) scan.found = true
  else if (known === undefined) scan.unknown = true
}

function visit(value: unknown, scan: Scan): void {
  if (scan.found) return
  if (Array.isArray(value)) {
    for (const v of value) visit(v, scan)
    return
  }
  if (!isObject(value)) return
  const type = wrapperType(value)
  if (type !== undefined) {
    const node = value[type]
    if (isObject(node)) check(type, node, scan)
    visit(node, scan)
    return
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'object' && v !== null) visit(v, scan)
  }
}

function check(type: string, node: AstObject, scan: Scan): void {
  if (EXPRESSIONS.has(type)) scan.expressions = true
  switch (type) {
    case 'A_Expr':
      return operator(list(node, 'name'), scan)
    case 'SubLink':
      return operator(list(node, 'operName'), scan)
    case 'SortBy':
      return operator(list(node, 'useOp'), scan)
    case 'CaseExpr':
      // `CASE x WHEN v` compares with `=`.
      if (node.arg !== undefined) return operator([{String: {sval: '='}}], scan)
      return
    case 'TypeCast':
      return cast(stringList(list(obj(node, 'typeName') ?? {}, 'names')), scan)
    case 'FuncCall':
      // `name(x)` with no function of that name is a cast to the type `name`.
      return cast(stringList(list(node, 'funcname')), scan)
    default:
  }
}

function operator(names: readonly unknown[], scan: Scan): void {
  if (names.length === 0) return
  const parts = stringList(names)
  if (parts === undefined) {
    scan.found = true
    return
  }
  const name = parts[parts.length - 1] ?? ''
  if (parts.length > 1 && !SYSTEM_SCHEMAS.has(parts[parts.length - 2] ?? '')) {
    scan.found = true
    return
  }
  for (const op of /^[a-z]/i.test(name) ? COMPARISONS : [name])
    answer(scan.catalog.code?.('operator', op), scan)
}

function cast(names: string[] | undefined, scan: Scan): void {
  const name = names?.[names.length - 1]
  if (name === undefined) scan.found = true
  else answer(scan.catalog.code?.('cast', name.toLowerCase()), scan)
}

/** The names of relations a statement may create in the session's temporary schema. */
export function temporaryNames(value: unknown, catalog: CatalogView, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) temporaryNames(v, catalog, out)
    return out
  }
  if (!isObject(value)) return out
  const rel = typeof value.relname === 'string' ? value : undefined
  if (rel !== undefined) {
    const schema = str(rel, 'schemaname')
    if (str(rel, 'relpersistence') === 't' || schema?.startsWith('pg_temp') === true)
      out.push(str(rel, 'relname') ?? '')
  }
  const rename = obj(value, 'RenameStmt')
  const from = rename && obj(rename, 'relation')
  const newname = rename && str(rename, 'newname')
  // Renaming a temporary relation (or, unqualified, one that may be) keeps it temporary.
  if (from && newname !== undefined) {
    const schema = str(from, 'schemaname')
    const name = str(from, 'relname') ?? ''
    if (
      schema?.startsWith('pg_temp') === true ||
      (schema === undefined && catalog.temporary?.(name) === true)
    )
      out.push(newname)
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'object' && v !== null) temporaryNames(v, catalog, out)
  }
  return out
}
