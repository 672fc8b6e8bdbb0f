/**
 * Which tables a MySQL view reads, for `tables` rules (src/proxy/views.ts): MariaDB keeps no list of a
 * view's tables, so its definition in information_schema.VIEWS is read with the guard's own analyzer,
 * and the tables found are looked up in turn (views of views).
 */
import {analyze} from '../../policy/index.js'
import type {NamedRelation} from '../views.js'
import {quote} from './mask-code.js'

/** Runs a query of the proxy's own and returns its text rows; rejects when the server refused it. */
export type RowsQuery = (sql: string) => Promise<readonly (readonly (string | null)[])[]>

/** Views followed for one name before the lookup gives up (and the statement is denied). */
const MAX_VIEWS = 64

/**
 * The tables and views (`schema.name`) the view `relation` reads, through views of views; [] when it is
 * not a view. Rejects when a definition cannot be read: the caller denies the statement.
 */
export async function viewTables(ask: RowsQuery, relation: NamedRelation): Promise<string[]> {
  const out = new Set<string>()
  const seen = new Set<string>()
  let asking: NamedRelation[] = [relation]
  while (asking.length > 0) {
    const next: NamedRelation[] = []
    for (const [schema, name, definition] of await ask(viewsSql(asking))) {
      if (schema == null || name == null) continue
      const view = `${schema}.${name}`
      if (seen.has(view.toLowerCase())) continue
      seen.add(view.toLowerCase())
      if (seen.size > MAX_VIEWS) throw new Error(`${relation.name} reads more than ${MAX_VIEWS} views`)
      for (const table of definitionTables(view, schema, definition ?? '')) {
        if (out.has(table)) continue
        out.add(table)
        const dot = table.indexOf('.')
        next.push({schema: table.slice(0, dot), name: table.slice(dot + 1)})
      }
    }
    asking = next
  }
  return [...out]
}

/** The tables a view's definition names; throws when it is hidden (no SHOW VIEW privilege) or unreadable. */
function definitionTables(view: string, schema: string, definition: string): string[] {
  if (definition === '')
    throw new Error(`the definition of view ${view} is hidden from this user: grant it SHOW VIEW`)
  const a = analyze(definition, 'mysql', {defaultSchema: schema})
  if (!a.ok) throw new Error(`the definition of view ${view} could not be read: ${a.error}`)
  return a.operations.flatMap((op) => op.tables)
}

/**
 * The views of these names, compared without case as notNullSql does (the stricter reading where the
 * server would tell names apart); a name without a schema is looked up in the session's database.
 */
function viewsSql(relations: readonly NamedRelation[]): string {
  const matches = relations.map((r) => {
    const schema = r.schema === null ? 'DATABASE()' : quote(r.schema)
    return `(LOWER(TABLE_SCHEMA) = LOWER(${schema}) AND LOWER(TABLE_NAME) = LOWER(${quote(r.name)}))`
  })
  return `SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE ${matches.join(' OR ')}`
}
