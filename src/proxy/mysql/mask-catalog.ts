/**
 * The catalog facts a MySQL session's masking has read: columns of tables, view definitions, and the
 * stored code of schemas, cached until the session runs DDL.
 */
import type {MysqlCatalogView} from '../../policy/lineage/mysql-query.js'
import {lexMysql} from '../../policy/mysql/lexer.js'
import type {SchemaCode} from './mask-code.js'

/**
 * The session's catalog cache, keyed by `schema.table`: lower-case, or as written when the server
 * compares table names by case (`exact`, lower_case_table_names=0). A lookup stores both forms.
 */
export class MysqlCatalog implements MysqlCatalogView {
  exact = false
  /** Set once the session set a system variable from a value it read (see MysqlCatalogView). */
  systemVariablesCopied = false
  /** Columns by table; null: looked up and not found (a temporary table, another case, no privilege). */
  readonly tables = new Map<string, readonly string[] | null>()
  /** Generated columns by table and lower-case name: the table's columns each is computed from. */
  private readonly generated = new Map<string, ReadonlyMap<string, readonly string[] | null>>()
  /** View definitions ('' when the session may not read it: unknown, masked). */
  readonly views = new Map<string, string>()
  /** Schemas whose views were all read by the last lookup (one snapshot). */
  readonly viewSchemas = new Set<string>()
  /** Names lineage asked for that are not loaded yet. */
  readonly misses = new Set<string>()
  /** Views lineage expanded: looked up again before every statement that reads them. */
  readonly used = new Set<string>()
  /** Triggers and routines, by lower-case schema (mask-code.ts). */
  readonly storedCode = new Map<string, SchemaCode>()

  private keyOf(schema: string, table: string): string {
    return this.exact ? `${schema}.${table}` : `${schema}.${table}`.toLowerCase()
  }

  columns(schema: string, table: string): readonly string[] | undefined {
    const key = this.keyOf(schema, table)
    const cols = this.tables.get(key)
    if (cols === undefined) this.misses.add(key)
    return cols ?? undefined
  }

  /**
   * Stores a table's columns as the catalog lookup read them, in order: `name`, or `name NUL expression`
   * for a generated column (null: the table was not found). A generated column is computed from the
   * table's columns its expression names (null when the expression cannot be read).
   */
  setColumns(key: string, rows: readonly string[] | null): void {
    const exprs = new Map<string, string>()
    const columns = rows?.map((text) => {
      const nul = text.indexOf('\0')
      if (nul < 0) return text
      exprs.set(text.slice(0, nul).toLowerCase(), text.slice(nul + 1))
      return text.slice(0, nul)
    })
    this.tables.set(key, columns ?? null)
    if (exprs.size === 0) {
      this.generated.delete(key)
      return
    }
    const generated = new Map<string, readonly string[] | null>()
    for (const [column, expr] of exprs) {
      const lexed = lexMysql(expr)
      if (!lexed.ok || lexed.execComments.length > 0) {
        generated.set(column, null)
        continue
      }
      const named = new Set(
        lexed.tokens.filter((t) => t.type === 'word' || t.type === 'ident').map((t) => t.value.toLowerCase()),
      )
      generated.set(
        column,
        (columns ?? []).filter((c) => named.has(c.toLowerCase())),
      )
    }
    this.generated.set(key, generated)
  }

  /** The columns a generated column is computed from (see CatalogView.generatedFrom). */
  generatedFrom(schema: string, table: string, column: string): readonly string[] | null | undefined {
    return this.generated.get(this.keyOf(schema, table))?.get(column.toLowerCase())
  }

  viewDefinition(schema: string, name: string): string | undefined {
    const key = this.keyOf(schema, name)
    const def = this.views.get(key)
    if (def !== undefined) this.used.add(key)
    return def
  }

  /**
   * Inside a view, a relation of a schema whose views were read with it is a table when it is not
   * among them. Elsewhere nothing unknown is assumed a table (a name in another case may be a view).
   */
  notView(schema: string, _table: string, inView: boolean): boolean {
    return inView && this.viewSchemas.has(this.exact ? schema : schema.toLowerCase())
  }

  clear(): void {
    this.tables.clear()
    this.generated.clear()
    this.views.clear()
    this.viewSchemas.clear()
    this.misses.clear()
    this.storedCode.clear()
  }
}
