/**
 * A query's literal-abstracted shape as the lexers find it: the query text plus the spans (literals,
 * comment bodies) that the key replaces with a placeholder. The key text is never built on the hot
 * path: `hash` reads the key's characters straight from the query, and `equals` compares them with a
 * stored key text, so a cache can check every hit exactly. `render` builds the text (on a miss, and
 * for normalize()).
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
  /** Length of the key text. */
  length = 0
  /** Triples (start, end, kind). */
  private spans = new Int32Array(3 * 32)

  /** Starts a new query. */
  reset(sql: string): void {
    this.sql = sql
    this.count = 0
    this.length = sql.length
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
    this.length += PLACEHOLDERS[kind].length - (end - start)
  }

  /**
   * The key text: the query with every span replaced by its placeholder. Built with join, which gives a
   * flat string: `equals` reads it character by character, which is slow on a string built with `+`.
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
   * The hash of `prefix` (a text hashed with hashText) followed by the key text, as an integer below
   * 2^53. Equal texts give equal hashes; a cache must still compare texts (`equals`): the hash is not
   * secret, so anyone can make two shapes collide.
   */
  hash(prefix: readonly [number, number]): number {
    const {sql, spans} = this
    let h1 = prefix[0]
    let h2 = prefix[1]
    let last = 0
    for (let k = 0; k <= 3 * this.count; k += 3) {
      const end = k < 3 * this.count ? spans[k]! : sql.length
      for (let j = last; j < end; j++) {
        const c = sql.charCodeAt(j)
        h1 = Math.imul(h1 ^ c, 0x01000193)
        h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
      }
      if (k === 3 * this.count) break
      const placeholder = PLACEHOLDERS[spans[k + 2]! as SpanKind]
      for (let j = 0; j < placeholder.length; j++) {
        const c = placeholder.charCodeAt(j)
        h1 = Math.imul(h1 ^ c, 0x01000193)
        h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
      }
      last = spans[k + 1]!
    }
    return (h1 >>> 0) * 0x200000 + (h2 >>> 11)
  }

  /**
   * True when the key text is exactly `key`, character for character (a loop measured faster than
   * startsWith on slices here). `key` must be flat (see render) for charCodeAt to be fast.
   */
  equals(key: string): boolean {
    if (key.length !== this.length) return false
    const {sql, spans} = this
    const last3 = 3 * this.count
    let p = 0
    let last = 0
    for (let k = 0; k <= last3; k += 3) {
      const end = k < last3 ? spans[k]! : sql.length
      for (let j = last; j < end; j++) if (sql.charCodeAt(j) !== key.charCodeAt(p++)) return false
      if (k === last3) break
      const placeholder = PLACEHOLDERS[spans[k + 2]! as SpanKind]
      for (let j = 0; j < placeholder.length; j++)
        if (placeholder.charCodeAt(j) !== key.charCodeAt(p++)) return false
      last = spans[k + 1]!
    }
    return p === key.length
  }
}
