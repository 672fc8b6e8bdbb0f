/**
 * The combined scanner: runs the classifiers a field asks for over its text and returns merged,
 * non-overlapping spans whose edges never split a JSON escape (so masking inside a JSON string keeps it
 * valid). Text is a latin1 view of the bytes: offsets are byte offsets.
 */
import {findEmails} from './classify-email.js'
import {findIbans} from './classify-iban.js'
import {findNumbers} from './classify-numbers.js'
import {findPhones} from './classify-phone.js'
import {findSecrets} from './classify-secret.js'
import {prefilter} from './prefilter.js'
import {BIT, bitsOf, kindOf, mergeSpans, type RawSpan} from './spans.js'
import type {Classifier, Span} from './types.js'

/** JSON escape letters: after a backslash these belong to the escape, not to the value. */
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u'])

/** Runs the classifiers of `bits` over `s` (a latin1 view of a field's bytes) and returns merged spans. */
export function scanLatin1(s: string, bits: number): RawSpan[] {
  const out: RawSpan[] = []
  if (bits & BIT.email) findEmails(s, out)
  if (bits & (BIT.credit_card | BIT.ssn)) findNumbers(s, bits, out)
  if (bits & BIT.phone) findPhones(s, out)
  if (bits & BIT.iban) findIbans(s, out)
  if (bits & BIT.secret) findSecrets(s, out)
  const safe: RawSpan[] = []
  for (const span of out) if (escapeSafe(s, span)) safe.push(span)
  return mergeSpans(safe)
}

/**
 * Moves a span's edges off JSON escapes: a span starting just after an escaping backslash (`\nalice@...`)
 * starts after the escape, and one ending inside an escape ends before it. False if nothing is left.
 */
function escapeSafe(s: string, span: RawSpan): boolean {
  if (span.start > 0 && s.charCodeAt(span.start - 1) === 92 && ESCAPES.has(s[span.start]!)) {
    let slashes = 1
    while (span.start - 1 - slashes >= 0 && s.charCodeAt(span.start - 1 - slashes) === 92) slashes++
    if (slashes % 2 === 1) span.start += s[span.start] === 'u' ? 5 : 1
  }
  for (let i = span.start; i < span.end; i++) {
    if (s.charCodeAt(i) !== 92) continue
    const len = s[i + 1] === 'u' ? 6 : 2
    if (i + len > span.end) {
      span.end = i
      break
    }
    i += len - 1
  }
  return span.end > span.start
}

/** Spans of `classifiers` in `bytes` (UTF-8 text), as byte offsets. */
export function findSpansInBytes(bytes: Uint8Array, classifiers: readonly Classifier[]): Span[] {
  const bits = prefilter(bytes, bitsOf(classifiers))
  if (bits === 0) return []
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  return scanLatin1(s, bits).map((r) => ({start: r.start, end: r.end, kind: kindOf(r.bits)}))
}

/** Spans of `classifiers` in `text`, as offsets into the string (UTF-16 code units). */
export function findSpans(text: string, classifiers: readonly Classifier[]): Span[] {
  const bytes = Buffer.from(text, 'utf8')
  const spans = findSpansInBytes(bytes, classifiers)
  if (spans.length === 0 || bytes.length === text.length) return spans
  // Walk the string once, translating byte offsets (ascending) to string offsets.
  const edges = spans.flatMap((s) => [s.start, s.end])
  const map = new Map<number, number>()
  let byte = 0
  let e = 0
  for (let i = 0; i <= text.length && e < edges.length;) {
    while (e < edges.length && edges[e]! <= byte) map.set(edges[e++]!, i)
    if (i === text.length) break
    const cp = text.codePointAt(i)!
    byte += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    i += cp >= 0x10000 ? 2 : 1
  }
  return spans.map((s) => ({
    start: map.get(s.start) ?? text.length,
    end: map.get(s.end) ?? text.length,
    kind: s.kind,
  }))
}
