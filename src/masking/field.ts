/**
 * The per-field entry points the proxy's row path and `dbgate exec` call. A field with nothing to
 * mask comes back as the very same Buffer, so the caller can forward the original bytes; `null` means
 * the field must become SQL NULL.
 */
import {prefilter} from './prefilter.js'
import {scanLatin1} from './scan.js'
import {ALL_BITS, bitsOf, kindOf, type RawSpan} from './spans.js'
import {REDACTED, replacement} from './styles.js'
import type {DetectRule, FieldMask, MaskKey, MaskStyle, SpanKind, ValueType} from './types.js'

/** Strictness of styles when one merged span falls under several rules: the strictest wins. */
const STRICTNESS: Record<MaskStyle, number> = {partial: 0, hash: 1, redact: 2, null: 3}
const JSONB_VERSION = Buffer.from([1])
/** The redact style's whole-value outputs, shared: a redacted column costs no allocation. */
const REDACTED_VALUE: Record<Exclude<ValueType, 'other'>, Buffer> = {
  text: Buffer.from(REDACTED),
  json: Buffer.from(`"${REDACTED}"`),
  'jsonb-binary': Buffer.from(`\x01"${REDACTED}"`, 'latin1'),
}

/**
 * Masks one field's bytes (UTF-8 text) as `plan` says, with `key` for the hash style. Returns `input`
 * itself when nothing was masked, another Buffer when something was (read-only: it may be shared), or
 * null for SQL NULL. Names of the rules that masked something are added to `fired` when given.
 */
export function maskField(input: Buffer, plan: FieldMask, key: MaskKey, fired?: Set<string>): Buffer | null {
  switch (plan.kind) {
    case 'column':
      fired?.add(plan.rule)
      return maskColumn(input, plan.style, plan.type, key)
    case 'detect':
      return maskDetect(input, plan.rules, plan.type, key, fired)
  }
}

/** `maskField` for string callers: the same string when nothing was masked, null for SQL NULL. */
export function maskTextValue(
  text: string,
  plan: FieldMask,
  key: MaskKey,
  fired?: Set<string>,
): string | null {
  const bytes = Buffer.from(text, 'utf8')
  const out = maskField(bytes, plan, key, fired)
  return out === null ? null : out === bytes ? text : out.toString('utf8')
}

/**
 * Where `maskFieldRange` appends masked bytes: it calls `ensure(n)`, then writes `buf` from `used` and
 * advances `used`. `ensure` may replace `buf` (read it after the call).
 */
export interface ByteSink {
  buf: Buffer
  used: number
  ensure(n: number): void
}

/** A growable ByteSink, reused across calls so that a field costs no allocation. */
export class MaskOutput implements ByteSink {
  buf: Buffer
  used = 0

  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size)
  }

  /** Room for `n` more bytes at `used`. */
  ensure(n: number): void {
    if (this.used + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n))
    this.buf.copy(bigger, 0, 0, this.used)
    this.buf = bigger
  }
}

/** Appends `bytes` at `out.used`. */
export function append(out: ByteSink, bytes: Uint8Array): void {
  out.ensure(bytes.length)
  out.buf.set(bytes, out.used)
  out.used += bytes.length
}

/** `maskFieldRange`: nothing was masked, the field goes as it is. */
export const FIELD_UNCHANGED = -2
/** `maskFieldRange`: the field becomes SQL NULL. */
export const FIELD_NULL = -1

/**
 * `maskField` on the range `src[start, end)` of a larger buffer (a network chunk), without a slice of
 * it: returns FIELD_UNCHANGED when nothing was masked, FIELD_NULL for SQL NULL, else the number of
 * masked bytes appended to `out` (when `out` is the output itself, no copy follows). The common column cases (redact, null, partial of a plain address)
 * allocate nothing.
 */
export function maskFieldRange(
  src: Buffer,
  start: number,
  end: number,
  plan: FieldMask,
  key: MaskKey,
  fired: Set<string> | undefined,
  out: ByteSink,
): number {
  if (plan.kind === 'column') {
    fired?.add(plan.rule)
    const {style, type} = plan
    if (style === 'null' || type === 'other') return FIELD_NULL
    if (type === 'jsonb-binary' && src[start] !== 1) return FIELD_NULL
    if (style === 'redact') {
      const v = REDACTED_VALUE[type]
      append(out, v)
      return v.length
    }
    if (style === 'partial' && type === 'text') {
      const at = plainEmailAt(src, start, end)
      if (at > 0) {
        const n = end - at + 4
        out.ensure(n)
        const o = out.buf
        let w = out.used
        o[w++] = src[start] as number
        o[w++] = 0x2a // '*'
        o[w++] = 0x2a
        o[w++] = 0x2a
        for (let j = at; j < end; j++) o[w++] = src[j] as number
        out.used = w
        return n
      }
    }
  }
  const input = src.subarray(start, end)
  const masked = maskField(input, plan, key, fired)
  if (masked === input) return FIELD_UNCHANGED
  if (masked === null) return FIELD_NULL
  append(out, masked)
  return masked.length
}

/** A text field's empty value, and a binary jsonb field's (its version byte alone). */
const NO_TEXT = Buffer.alloc(0)

/**
 * What SQL NULL becomes in a field masked whole with `nulls` (a computed value, whose NULL could answer
 * a question about its source): the style's mask of an empty value. null when it stays NULL: no
 * `nulls`, a detect mask, or a style or type whose every value is masked to NULL anyway.
 */
export function maskNull(plan: FieldMask, key: MaskKey): Buffer | null {
  if (plan.kind !== 'column' || plan.nulls !== true) return null
  return maskColumn(plan.type === 'jsonb-binary' ? JSONB_VERSION : NO_TEXT, plan.style, plan.type, key)
}

function maskColumn(input: Buffer, style: MaskStyle, type: ValueType, key: MaskKey): Buffer | null {
  if (style === 'null' || type === 'other') return null
  if (type === 'jsonb-binary' && input[0] !== 1) return null
  if (style === 'redact') return REDACTED_VALUE[type]
  if (style === 'partial' && type === 'text') {
    // The hot case, a column of addresses: bytes in, bytes out, no string. The output cannot hold the
    // value or its reverse: it has `***` where the value has none.
    const at = plainEmailAt(input, 0, input.length)
    if (at > 0) {
      const n = input.length - at + 4
      const out = Buffer.allocUnsafe(n)
      out[0] = input[0] as number
      out[1] = out[2] = out[3] = 0x2a // '*'
      // A byte loop: a native copy's call costs more than a domain's few bytes.
      for (let i = 4, j = at; i < n; i++, j++) out[i] = input[j] as number
      return out
    }
  }
  const body = type === 'jsonb-binary' ? input.subarray(1) : input
  const s = body.toString('latin1')
  const json = type !== 'text'
  // A JSON string column masks like the text it holds, so its hash joins with the text column's.
  const quoted = json && /^"[^"\\]*"$/.test(s)
  const value = quoted ? s.slice(1, -1) : s
  const kind =
    style !== 'partial'
      ? 'unknown'
      : plainEmailAt(body, quoted ? 1 : 0, quoted ? body.length - 1 : body.length) > 0
        ? 'email'
        : wholeKind(value, quoted ? body.subarray(1, -1) : body)
  const text = replacement(value, kind, style, key)
  const out = json ? `"${text}"` : text
  return Buffer.from(type === 'jsonb-binary' ? '\x01' + out : out, 'latin1')
}

/**
 * True for the common shape of an address (`local@host.tld`: letters, digits and `._%+-` before
 * one `@`, dot-separated labels after it, a letter TLD): a column of emails skips the classifier.
 * Anything else goes to the classifier; either way partial keeps only the first character and domain.
 * Looks at `s[start, n)`; returns the index of the `@`, or -1.
 */
function plainEmailAt(s: Buffer, start: number, n: number): number {
  if (n - start < 5 || n - start > 254) return -1
  let i = start
  for (; i < n; i++) {
    const k = EMAIL_CLASS[s[i] as number] as number
    if (k === AT) break
    if ((k & LOCAL) === 0) return -1
  }
  if (i === start || i - start > 64 || i >= n - 3 || s[start] === 46 || s[i - 1] === 46) return -1
  let label = 0
  let dots = 0
  let tldLetters = true
  for (let j = i + 1; j < n; j++) {
    const k = EMAIL_CLASS[s[j] as number] as number
    if (k === DOT) {
      if (label === 0) return -1
      dots++
      label = 0
      tldLetters = true
      continue
    }
    if ((k & HOST) === 0) return -1
    if ((k & LETTER) === 0) tldLetters = false
    if (++label > 63) return -1
  }
  return dots > 0 && label >= 2 && tldLetters ? i : -1
}

/** Byte classes of plainEmailAt: one table look-up per byte. */
const LOCAL = 1
const HOST = 2
const LETTER = 4
const DOT = LOCAL | 8
const AT = 16
const EMAIL_CLASS = new Uint8Array(256)
for (let c = 0; c < 256; c++) {
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
  const digit = c >= 48 && c <= 57
  if (letter) EMAIL_CLASS[c] = LOCAL | HOST | LETTER
  else if (digit || c === 45) EMAIL_CLASS[c] = LOCAL | HOST
  else if (c === 95 || c === 37 || c === 43) EMAIL_CLASS[c] = LOCAL
}
EMAIL_CLASS[46] = DOT
EMAIL_CLASS[64] = AT

/** The kind of a value that is exactly one detectable value (a column of emails), else `unknown`. */
function wholeKind(value: string, bytes: Buffer): SpanKind | 'unknown' {
  const bits = prefilter(bytes, ALL_BITS)
  const spans = bits === 0 ? [] : scanLatin1(value, bits)
  const only = spans.length === 1 ? spans[0]! : undefined
  return only !== undefined && only.start === 0 && only.end === value.length ? kindOf(only.bits) : 'unknown'
}

function maskDetect(
  input: Buffer,
  rules: readonly DetectRule[],
  type: ValueType,
  key: MaskKey,
  fired: Set<string> | undefined,
): Buffer | null {
  let wanted = 0
  for (const r of rules) wanted |= bitsOf(r.classifiers)
  if (type !== 'jsonb-binary') return detectIn(input, rules, wanted, type, key, fired)
  // jsonb's binary format is a version byte then JSON text; an unknown version cannot be read: NULL.
  if (input[0] !== 1) return null
  const body = input.subarray(1)
  const out = detectIn(body, rules, wanted, type, key, fired)
  return out === body ? input : out === null ? null : Buffer.concat([JSONB_VERSION, out])
}

function detectIn(
  bytes: Buffer,
  rules: readonly DetectRule[],
  wanted: number,
  type: ValueType,
  key: MaskKey,
  fired: Set<string> | undefined,
): Buffer | null {
  const escaped = type !== 'text' || bytes[0] === 0x7b || bytes[0] === 0x5b ? escapedJson(bytes) : undefined
  const hot = prefilter(escaped === undefined ? bytes : Buffer.from(escaped.text, 'latin1'), wanted)
  if (hot === 0) return bytes
  const s = bytes.toString('latin1')
  const scanned = escaped?.text ?? s
  const found = scanLatin1(scanned, hot)
  if (found.length === 0) return bytes
  // Spans over the escaped text: the original's ranges, each masked as the value it decodes to.
  const values = found.map((span) => scanned.slice(span.start, span.end))
  const spans = escaped === undefined ? found : found.map((span) => escaped.span(span))
  const decisions = spans.map((span) => decide(span.bits, rules))
  for (const d of decisions) for (const r of d.rules) fired?.add(r)
  // A non-text value cannot hold a replacement string; a `null` rule nulls the whole field.
  if (type === 'other' || decisions.some((d) => d.style === 'null')) return null
  const inString = type !== 'text' || looksLikeJson(s) ? jsonStringStates(s, spans) : undefined
  let out = ''
  let pos = 0
  spans.forEach((span, i) => {
    const style = decisions[i]!.style as Exclude<MaskStyle, 'null'>
    const text = replacement(values[i] ?? '', kindOf(span.bits), style, key)
    out += s.slice(pos, span.start) + (inString !== undefined && !inString[i] ? `"${text}"` : text)
    pos = span.end
  })
  return Buffer.from(out + s.slice(pos), 'latin1')
}

/** For each kind in `bits`, the first rule that asks for it; the strictest of their styles wins. */
function decide(bits: number, rules: readonly DetectRule[]): {style: MaskStyle; rules: string[]} {
  let style: MaskStyle = 'partial'
  const names: string[] = []
  for (let bit = 1; bit <= bits; bit <<= 1) {
    if ((bits & bit) === 0) continue
    const rule = rules.find((r) => (bitsOf(r.classifiers) & bit) !== 0)
    if (rule === undefined) continue
    names.push(rule.rule)
    if (STRICTNESS[rule.style] > STRICTNESS[style]) style = rule.style
  }
  return {style, rules: names}
}

/** A JSON escape of an ASCII character (`\u0040` for `@`): it hides a value from the classifiers. */
const ASCII_ESCAPE = /\\u00[0-7][0-9a-fA-F]/g

/**
 * JSON text (a json or jsonb value, or text that starts like one) with its `\u00XX` escapes of ASCII
 * characters decoded, and the mapping of a span of the decoded text back to the original; undefined
 * (nothing copied) when the value has no such escape.
 */
function escapedJson(bytes: Buffer): {text: string; span(span: RawSpan): RawSpan} | undefined {
  const slash = bytes.indexOf(0x5c)
  if (slash < 0 || bytes.indexOf('\\u00', slash, 'latin1') < 0) return undefined
  const s = bytes.toString('latin1')
  // at[i]: where the i-th decoded character starts in the original.
  const at: number[] = []
  let text = ''
  let pos = 0
  for (const m of s.matchAll(ASCII_ESCAPE)) {
    for (let i = pos; i < m.index; i++) at.push(i)
    text += s.slice(pos, m.index) + String.fromCharCode(parseInt(m[0].slice(2), 16))
    at.push(m.index)
    pos = m.index + m[0].length
  }
  if (pos === 0) return undefined
  for (let i = pos; i < s.length; i++) at.push(i)
  text += s.slice(pos)
  at.push(s.length)
  return {
    text,
    span: (span) => ({start: at[span.start] ?? s.length, end: at[span.end] ?? s.length, bits: span.bits}),
  }
}

/** Text whose first non-blank character opens a JSON object or array. */
function looksLikeJson(s: string): boolean {
  const m = /\S/.exec(s)
  return m !== null && (m[0] === '{' || m[0] === '[')
}

/** Whether each span starts inside a JSON string; a span outside one (a number) must become a string. */
function jsonStringStates(s: string, spans: readonly RawSpan[]): boolean[] {
  const states: boolean[] = []
  let inString = false
  let i = 0
  for (const span of spans) {
    for (; i < span.start; i++) {
      const c = s.charCodeAt(i)
      if (!inString) inString = c === 34
      else if (c === 92) i++
      else if (c === 34) inString = false
    }
    states.push(inString)
  }
  return states
}
