/**
 * In-stream masking primitives: value classifiers, masking styles and the per-field entry points.
 * Pure: no I/O, no clock, no randomness (the hash key is the caller's).
 *
 * What each classifier finds, and what it leaves alone, is written at the top of its file:
 * classify-email.ts, classify-numbers.ts (credit_card, ssn), classify-phone.ts, classify-iban.ts,
 * classify-secret.ts; the styles' outputs in styles.ts; the hot path's cheap pre-check in prefilter.ts.
 * None of them looks for reversed, base64- or hex-encoded values: derived values are column masking's
 * job (lineage), and long base64/hex blobs are not secrets here (digests, ids and images look the same).
 */
export {
  append,
  FIELD_NULL,
  FIELD_UNCHANGED,
  MaskOutput,
  maskField,
  maskFieldRange,
  maskNull,
  maskTextValue,
  type ByteSink,
} from './field.js'
export {findSpans, findSpansInBytes} from './scan.js'
export {REDACTED} from './styles.js'
export type {
  Classifier,
  DetectRule,
  FieldMask,
  MaskKey,
  MaskStyle,
  Span,
  SpanKind,
  ValueType,
} from './types.js'
