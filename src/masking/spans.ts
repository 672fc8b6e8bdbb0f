/**
 * Classifier bits and raw spans: what the classifiers emit before overlapping finds are merged.
 */
import type {Classifier, SpanKind} from './types.js'

/** One bit per classifier, so a field's wanted classifiers and a merged span's kinds are plain numbers. */
export const BIT = {
  email: 1,
  credit_card: 2,
  ssn: 4,
  phone: 8,
  iban: 16,
  secret: 32,
} as const satisfies Record<Classifier, number>

/** Classifiers in bit order. */
export const BIT_ORDER: readonly Classifier[] = ['email', 'credit_card', 'ssn', 'phone', 'iban', 'secret']

/** Every classifier's bit. */
export const ALL_BITS = 63

/** A found value: `[start, end)` in the latin1 string and the bits of the classifiers that found it. */
export interface RawSpan {
  start: number
  end: number
  bits: number
}

/** The bits of a list of classifiers. */
export function bitsOf(classifiers: readonly Classifier[]): number {
  let bits = 0
  for (const c of classifiers) bits |= BIT[c]
  return bits
}

/** The kind a span's bits name: its classifier, or `mixed` for merged finds of several. */
export function kindOf(bits: number): SpanKind {
  for (const c of BIT_ORDER) if (bits === BIT[c]) return c
  return 'mixed'
}

/**
 * Sorts spans and merges overlapping ones in place. A span inside another keeps the outer one's kind
 * (an IBAN's digits are not also a card); the same value found twice, or a partial overlap, becomes one
 * span of both kinds.
 */
export function mergeSpans(spans: RawSpan[]): RawSpan[] {
  if (spans.length < 2) return spans
  spans.sort((a, b) => a.start - b.start || b.end - a.end)
  const out: RawSpan[] = [spans[0]!]
  for (let i = 1; i < spans.length; i++) {
    const cur = out[out.length - 1]!
    const next = spans[i]!
    if (next.start >= cur.end) out.push(next)
    else if (next.end > cur.end || (next.start === cur.start && next.end === cur.end)) {
      cur.end = next.end
      cur.bits |= next.bits
    }
  }
  return out
}
