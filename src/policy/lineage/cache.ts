/**
 * A lineage cache under the guard's literal-abstracted key: lineage never depends on a literal's value
 * (only on names, structure and the catalog), so statements that differ only in literals share it.
 * Results that read or change session state (FETCH, EXECUTE, DECLARE, PREPARE...) are never cached,
 * nor results that read something unknown (the catalog view may not have loaded it yet).
 */
import {Lru} from '../lru.js'
import {normalizePostgres} from '../normalize/postgres.js'
import {lineagePostgres} from './postgres.js'
import type {CatalogView, LineageContext, LineageResult} from './types.js'

/**
 * Lineage results of one session's catalog view. The results depend on the catalog: call `clear()`
 * whenever the proxy drops or refreshes its catalog cache (after DDL, or a new search_path).
 */
export class LineageCache {
  private lru: Lru<string, LineageResult>

  constructor(
    private readonly catalog: CatalogView,
    private readonly capacity = 2_000,
  ) {
    this.lru = new Lru(capacity)
  }

  /** The lineage of a query, from the cache when a statement of the same shape was seen. */
  lineage(sql: string, ctx: LineageContext): LineageResult {
    const shape = normalizePostgres(sql)
    if (shape === null) return lineagePostgres(sql, this.catalog, ctx)
    const key = `${ctx.defaultSchema.length}:${ctx.defaultSchema}${shape}`
    const hit = this.lru.get(key)
    if (hit !== undefined) return hit
    const result = lineagePostgres(sql, this.catalog, ctx)
    // An unknown read may only mean the catalog view had not loaded a relation yet: recompute it next time.
    if (result.ok && !result.sessionDependent && !result.statements.some((s) => s.readsUnknown))
      this.lru.set(key, result)
    return result
  }

  /** Forgets every result (the catalog changed). */
  clear(): void {
    this.lru = new Lru(this.capacity)
  }

  /** Number of cached results. */
  get size(): number {
    return this.lru.size
  }
}
