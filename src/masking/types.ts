/**
 * The masking contract: what a caller (the proxy's row path, `dbgate exec`) asks of one field.
 * Classifier and style names are the policy language's own (src/policy/types.ts).
 */
import type {Classifier, MaskStyle} from '../policy/types.js'

export type {Classifier, MaskStyle}

/**
 * How the caller's field is typed, which decides what a masked value may look like:
 * - `text`: text, varchar, bpchar, name, citext... (UTF-8 bytes, text or binary format alike);
 * - `json`: json or jsonb in text format, or json in binary format (JSON text): masked values stay valid JSON;
 * - `jsonb-binary`: jsonb in binary format, a version byte (1) then JSON text;
 * - `other`: any other type; a masked value becomes NULL so client decoders never break.
 */
export type ValueType = 'text' | 'json' | 'jsonb-binary' | 'other'

/** A detect rule of the policy, reduced to what the masker needs. */
export interface DetectRule {
  /** The policy rule's name, reported back when it masked something. */
  readonly rule: string
  readonly classifiers: readonly Classifier[]
  readonly style: MaskStyle
}

/** What to do with one field: mask it whole (a column rule), or mask only what classifiers find in it. */
export type FieldMask =
  | {
      readonly kind: 'column'
      readonly rule: string
      readonly style: MaskStyle
      readonly type: ValueType
      /** SQL NULL becomes a masked value too (maskNull): whether it is NULL could show the value. */
      readonly nulls?: boolean | undefined
    }
  | {
      readonly kind: 'detect'
      /** In policy order: a classifier listed by several rules is masked by the first one's style. */
      readonly rules: readonly DetectRule[]
      readonly type: ValueType
    }

/** Key of the `hash` style's HMAC-SHA256; the caller owns it (at least 16 random bytes). */
export type MaskKey = Uint8Array

/** What a detected span holds: one classifier's kind, or `mixed` when overlapping finds were merged. */
export type SpanKind = Classifier | 'mixed'

/** A detected value: `[start, end)` offsets and what it is. */
export interface Span {
  readonly start: number
  readonly end: number
  readonly kind: SpanKind
}
