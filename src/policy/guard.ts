/**
 * The guard: the proxy's hot-path entry point. Analysis plus evaluation costs tens of microseconds per
 * query, so decisions are cached under a key that abstracts literal values (pgbench sends a new literal
 * in every query). The cache never returns a decision the uncached path would not:
 * - the key is the dialect's literal-abstracted text (src/policy/normalize), which is null, and the
 *   query uncached, whenever its lexer is not certain it splits the text exactly as the server does,
 *   and null for PREPARE and EXECUTE, whose analysis depends on session state or string content;
 * - the key also holds everything else the decision depends on: the eval context and the default schema;
 * - an analysis that says literal values decided part of it (`literalSensitive`) is never shared: its
 *   shape is marked so that every statement of that shape takes the uncached path;
 * - unparseable queries are not cached (some literal could make a sibling statement parse differently).
 */
import {analyze} from './analyze.js'
import {evaluate, evaluateOperations} from './evaluate.js'
import {Lru} from './lru.js'
import {normalize} from './normalize/index.js'
import type {Analysis, AnalyzeContext, Decision, Dialect, EvalContext, Operation, Policy} from './types.js'

/** A decision together with the analysis it was made from. */
export interface GuardVerdict {
  readonly decision: Decision
  readonly analysis: Analysis
}

/** Options of a Guard. */
export interface GuardOptions {
  /** Entries kept in the decision cache (0 disables it); 10,000 by default. */
  readonly cacheSize?: number
  /** The analyzer to use instead of the real parsers (tests of the cache itself). */
  readonly analyzer?: (sql: string, dialect: Dialect, actx: AnalyzeContext) => Analysis
}

/** Counters of the decision cache, for benchmarks and diagnostics. */
export interface GuardCacheStats {
  hits: number
  misses: number
  /** Queries that took the uncached path because their key could not be made or their shape is marked. */
  bypassed: number
}

const LITERAL_SENSITIVE = Symbol('literal-sensitive')
type Entry = GuardVerdict | typeof LITERAL_SENSITIVE

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** Decides queries for one policy and dialect, with a bounded decision cache. */
export class Guard {
  /** Cache counters; reset only by creating a new Guard. */
  readonly stats: GuardCacheStats = {hits: 0, misses: 0, bypassed: 0}
  private readonly cache: Lru<string, Entry> | null
  private readonly analyzer: (sql: string, dialect: Dialect, actx: AnalyzeContext) => Analysis

  constructor(
    readonly policy: Policy,
    readonly dialect: Dialect,
    options: GuardOptions = {},
  ) {
    const size = options.cacheSize ?? 10_000
    this.cache = size > 0 ? new Lru(size) : null
    this.analyzer = options.analyzer ?? analyze
  }

  /** Decides a query (one or several statements) for a session. */
  decide(sql: string, ctx: EvalContext, actx: AnalyzeContext): GuardVerdict {
    if (this.cache === null) return this.cold(sql, ctx, actx)
    const shape = normalize(sql, this.dialect)
    if (shape === null) {
      this.stats.bypassed++
      return this.cold(sql, ctx, actx)
    }
    const key = contextKey(ctx, actx) + shape
    const entry = this.cache.get(key)
    if (entry === LITERAL_SENSITIVE) {
      this.stats.bypassed++
      return this.cold(sql, ctx, actx)
    }
    if (entry !== undefined) {
      this.stats.hits++
      return entry
    }
    this.stats.misses++
    const verdict = this.cold(sql, ctx, actx)
    if (verdict.analysis.ok) {
      this.cache.set(key, verdict.analysis.literalSensitive ? LITERAL_SENSITIVE : deepFreeze(verdict))
    }
    return verdict
  }

  /** Number of entries in the decision cache. */
  get cacheEntries(): number {
    return this.cache?.size ?? 0
  }

  /** Decides operations that did not come from SQL text, e.g. a protocol-level function call. */
  decideOperations(operations: readonly Operation[], ctx: EvalContext): Decision {
    return evaluateOperations(this.policy, operations, ctx)
  }

  private cold(sql: string, ctx: EvalContext, actx: AnalyzeContext): GuardVerdict {
    const analysis = this.analyzer(sql, this.dialect, actx)
    return {analysis, decision: evaluate(this.policy, analysis, ctx)}
  }
}

const field = (v: string | undefined): string => (v === undefined ? '-' : `${v.length}:${v}`)

/**
 * Everything besides the text that a decision depends on, encoded so that no two contexts share a
 * prefix: every field is length-prefixed, and the group list is counted.
 */
function contextKey(ctx: EvalContext, actx: AnalyzeContext): string {
  let key = ctx.actor + field(ctx.identity) + field(ctx.target) + field(actx.defaultSchema)
  const groups = ctx.groups
  if (groups === undefined) return key + '-'
  key += `${groups.length}[`
  for (const g of groups) key += field(g)
  return key
}
