/**
 * The guard: the proxy's hot-path entry point. Analysis plus evaluation costs tens of microseconds per
 * query, so decisions are cached under a key that abstracts literal values (pgbench sends a new literal
 * in every query). The cache never returns a decision the uncached path would not:
 * - the key is the dialect's literal-abstracted text (src/policy/normalize), which does not exist, and
 *   the query is uncached, whenever its lexer is not certain it splits the text exactly as the server
 *   does, and for PREPARE and EXECUTE, whose analysis depends on session state or string content;
 * - the key also holds everything else the decision depends on: the eval context and the default schema;
 * - the key text is not built per query: the lexer records where the literals are, the cache is indexed
 *   by a hash of the key read straight from the query, and a hit counts only when the stored key (the
 *   text between literals and the kinds of the literals, which determine the key text) and context are
 *   equal character for character (the hash is public, so collisions can be made: a collision is a
 *   miss, never someone else's decision);
 * - an analysis that says literal values decided part of it (`literalSensitive`) is never shared: its
 *   shape is marked so that every statement of that shape takes the uncached path;
 * - unparseable queries are not cached (some literal could make a sibling statement parse differently).
 */
import {analyze} from './analyze.js'
import {evaluate, evaluateOperations} from './evaluate.js'
import {Lru} from './lru.js'
import {hashText, scan, ShapeScan, type ShapeKey} from './normalize/index.js'
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
  /** The hash of a key to use instead of ShapeScan.hash (tests that make every key collide). */
  readonly shapeHash?: (shape: ShapeScan, seed: readonly [number, number]) => number
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

/** A cache slot: the exact key it was stored under, checked on every hit. */
interface Slot {
  readonly shape: ShapeKey
  readonly context: string
  readonly entry: Entry
}

/** The context part of the key, remembered with the fields it was made from (sessions reuse one). */
interface ContextKey {
  readonly actor: string
  readonly identity: string | undefined
  readonly target: string | undefined
  readonly schema: string
  readonly groups: readonly string[] | undefined
  readonly text: string
  readonly seed: readonly [number, number]
}

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
  private readonly cache: Lru<number, Slot> | null
  private readonly analyzer: (sql: string, dialect: Dialect, actx: AnalyzeContext) => Analysis
  private readonly scan = new ShapeScan()
  private readonly shapeHash: ((shape: ShapeScan, seed: readonly [number, number]) => number) | undefined
  private lastContext: ContextKey | null = null

  constructor(
    readonly policy: Policy,
    readonly dialect: Dialect,
    options: GuardOptions = {},
  ) {
    const size = options.cacheSize ?? 10_000
    // A hit reorders its slot only once it drifted half the capacity from the recent end: a slot used
    // that often is never evicted, and a hit costs one Map lookup.
    this.cache = size > 0 ? new Lru(size, {refreshAfter: size >> 1}) : null
    this.analyzer = options.analyzer ?? analyze
    this.shapeHash = options.shapeHash
  }

  /** Decides a query (one or several statements) for a session. */
  decide(sql: string, ctx: EvalContext, actx: AnalyzeContext): GuardVerdict {
    if (this.cache === null) return this.cold(sql, ctx, actx)
    const shape = this.scan
    if (!scan(sql, this.dialect, shape)) {
      this.stats.bypassed++
      return this.cold(sql, ctx, actx)
    }
    const context = this.contextKey(ctx, actx)
    const hash = this.shapeHash === undefined ? shape.hash(context.seed) : this.shapeHash(shape, context.seed)
    const slot = this.cache.get(hash)
    if (slot !== undefined && slot.context === context.text && shape.matches(slot.shape)) {
      if (slot.entry === LITERAL_SENSITIVE) {
        this.stats.bypassed++
        return this.cold(sql, ctx, actx)
      }
      this.stats.hits++
      return slot.entry
    }
    this.stats.misses++
    const key = shape.key() // before the analyzer runs: nothing may reuse the scan in between
    const verdict = this.cold(sql, ctx, actx)
    if (verdict.analysis.ok) {
      const entry = verdict.analysis.literalSensitive ? LITERAL_SENSITIVE : deepFreeze(verdict)
      this.cache.set(hash, {shape: key, context: context.text, entry})
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

  /** The context part of the key: recomputed only when a field differs from the last query's. */
  private contextKey(ctx: EvalContext, actx: AnalyzeContext): ContextKey {
    const last = this.lastContext
    if (
      last !== null &&
      last.actor === ctx.actor &&
      last.identity === ctx.identity &&
      last.target === ctx.target &&
      last.schema === actx.defaultSchema &&
      sameGroups(last.groups, ctx.groups)
    )
      return last
    const text = contextText(ctx, actx)
    const key: ContextKey = {
      actor: ctx.actor,
      identity: ctx.identity,
      target: ctx.target,
      schema: actx.defaultSchema,
      groups: ctx.groups === undefined ? undefined : [...ctx.groups],
      text,
      seed: hashText(text),
    }
    this.lastContext = key
    return key
  }
}

function sameGroups(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false
  return true
}

const field = (v: string | undefined): string => (v === undefined ? '-' : `${v.length}:${v}`)

/**
 * Everything besides the text that a decision depends on, encoded so that no two contexts share a
 * prefix: every field is length-prefixed, and the group list is counted.
 */
function contextText(ctx: EvalContext, actx: AnalyzeContext): string {
  let key = ctx.actor + field(ctx.identity) + field(ctx.target) + field(actx.defaultSchema)
  const groups = ctx.groups
  if (groups === undefined) return key + '-'
  key += `${groups.length}[`
  for (const g of groups) key += field(g)
  return key
}
