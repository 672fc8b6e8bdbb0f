/**
 * A query's literal-abstracted shape as the lexers find it: the query text plus the spans (literals,
 * comment bodies) that the key replaces with a placeholder. The key text is never built on the hot
 * path: `hash` reads the kept runs straight from the query, and `matches` compares them with a stored
 * ShapeKey (native string comparisons of the runs between spans, and the spans' kinds), so a cache
 * can check every hit exactly. `render` builds the key text (on a miss, and for normalize()).
 */

/** Placeholder text of each span kind: a literal's token class, or an emptied comment. */
const PLACEHOLDERS = ["''", '0', '0.0', '0e0', '--', '/**/', '#', '-- '] as const

/** Span kinds (indexes into PLACEHOLDERS); the number classes match NumberClass in chars.ts. */
export const Span = {
  string: 0,
  integer: 1,
  decimal: 2,
  exponent: 3,
  lineComment: 4,
  blockComment: 5,
  hashComment: 6,
  dashComment: 7,
} as const

/** The kind of a span. */
export type SpanKind = (typeof Span)[keyof typeof Span]

/** Seeds of the two hash lanes (FNV-1a's offset basis and an arbitrary odd constant). */
const SEED1 = 0x811c9dc5
const SEED2 = 0x2f1b3c4d

/** A 53-bit hash of a string, as two lanes; the start state of a shape's hash (see ShapeScan.hash). */
export function hashText(text: string): readonly [number, number] {
  let h1 = SEED1
  let h2 = SEED2
  for (let j = 0; j < text.length; j++) {
    const c = text.charCodeAt(j)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
  }
  return [h1, h2]
}

/**
 * The spans of one query, reused from query to query (the lexers are synchronous, so one scratch
 * object per caller is enough and nothing is allocated per query).
 */
export class ShapeScan {
  /** The query the spans index into. */
  sql = ''
  /** Number of spans. */
  count = 0
  /** Number of parameter placeholders (`$n`, MySQL's `?`) the lexer found outside literals, comments and quoted text. */
  placeholders = 0
  /** Triples (start, end, kind). */
  private spans = new Int32Array(3 * 32)

  /** Starts a new query. */
  reset(sql: string): void {
    this.sql = sql
    this.count = 0
    this.placeholders = 0
  }

  /** Records that the key replaces `sql[start, end)` with the placeholder of `kind`. */
  add(start: number, end: number, kind: SpanKind): void {
    const at = 3 * this.count
    if (at + 3 > this.spans.length) {
      const grown = new Int32Array(this.spans.length * 2)
      grown.set(this.spans)
      this.spans = grown
    }
    this.spans[at] = start
    this.spans[at + 1] = end
    this.spans[at + 2] = kind
    this.count++
  }

  /**
   * The key text: the query with every span replaced by its placeholder. Built with join, which gives a
   * flat string (key() cuts the runs a cache compares on every hit from it).
   */
  render(): string {
    const {sql, spans} = this
    const parts: string[] = []
    let last = 0
    for (let k = 0; k < 3 * this.count; k += 3) {
      parts.push(sql.slice(last, spans[k]), PLACEHOLDERS[spans[k + 2]! as SpanKind])
      last = spans[k + 1]!
    }
    parts.push(sql.slice(last))
    return parts.join('')
  }

  /**
   * The hash of `prefix` (a text hashed with hashText) followed by the key: each kept run's characters,
   * and after each span one value above any character code for its kind. An integer below 2^53. Equal
   * keys give equal hashes; a cache must still compare keys (`matches`): the hash is not secret, so
   * anyone can make two shapes collide.
   */
  hash(prefix: readonly [number, number]): number {
    const {sql, spans} = this
    const last3 = 3 * this.count
    let h1 = prefix[0]
    let h2 = prefix[1]
    let last = 0
    for (let k = 0; k <= last3; k += 3) {
      const end = k < last3 ? spans[k]! : sql.length
      for (let j = last; j < end; j++) {
        const c = sql.charCodeAt(j)
        h1 = Math.imul(h1 ^ c, 0x01000193)
        h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
      }
      if (k === last3) break
      const c = 0x10000 + spans[k + 2]!
      h1 = Math.imul(h1 ^ c, 0x01000193)
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
      last = spans[k + 1]!
    }
    return (h1 >>> 0) * 0x200000 + (h2 >>> 11)
  }

  /**
   * The key to store for this shape: the kept runs as strings cut from the rendered key (so they hold
   * no literal and no reference to the query) and the kinds of the spans between them.
   */
  key(): ShapeKey {
    const text = this.render()
    const runs: string[] = []
    const kinds: number[] = []
    const {spans} = this
    let last = 0
    let at = 0
    for (let k = 0; k < 3 * this.count; k += 3) {
      const start = spans[k]!
      runs.push(flat(text.slice(at, at + start - last)))
      at += start - last
      const kind = spans[k + 2]! as SpanKind
      kinds.push(kind)
      at += PLACEHOLDERS[kind].length
      last = spans[k + 1]!
    }
    runs.push(flat(text.slice(at)))
    return {text, runs, kinds}
  }

  /**
   * True when this shape is exactly `key`: the same kinds of spans, and the same text between them.
   * That determines the key text (the placeholders follow from the kinds), which is what the cache's
   * safety rests on. Each run is compared with ===, natively: measured three times faster than a
   * loop over characters.
   */
  matches(key: ShapeKey): boolean {
    const n = this.count
    const {runs, kinds} = key
    if (kinds.length !== n) return false
    const {sql, spans} = this
    let last = 0
    for (let k = 0; k < n; k++) {
      const start = spans[3 * k]!
      const run = runs[k]!
      if (start - last !== run.length || kinds[k] !== spans[3 * k + 2]) return false
      if (sql.slice(last, start) !== run) return false
      last = spans[3 * k + 1]!
    }
    const run = runs[n]!
    return sql.length - last === run.length && sql.slice(last) === run
  }
}

/**
 * A flat copy of `s`. A slice of 13 characters or more is a view of its parent string, and === between
 * two views takes V8's slow path; join builds a new flat string (measured: a hit's comparison 3× faster).
 */
function flat(s: string): string {
  return [s, ''].join('')
}

/** A shape as a cache stores it (see ShapeScan.key). */
export interface ShapeKey {
  /** The key text, as render() gives it. */
  readonly text: string
  /** The text between spans: one more run than spans. */
  readonly runs: readonly string[]
  /** The kind of each span. */
  readonly kinds: readonly number[]
}
