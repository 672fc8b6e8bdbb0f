/**
 * The row path of masking: RowDescription's fields, the value type each masked field is written as,
 * and the DataRow rewriter. A row none of whose masked fields changed is left alone (the caller
 * forwards the original bytes); a changed row is rebuilt with only the masked fields replaced.
 */
import {maskField, type FieldMask, type MaskKey, type ValueType} from '../../masking/index.js'
import type {FieldPlan} from '../../policy/index.js'
import type {RunWriter} from './run-writer.js'
import {FieldReader, WireError} from './wire.js'

/** One field of a RowDescription. */
export interface ResultField {
  readonly name: string
  readonly tableOid: number
  readonly attnum: number
  readonly typeOid: number
  /** 0 text, 1 binary. */
  readonly format: number
}

/** The fields of a RowDescription frame `buf[start, end)`; throws WireError when malformed. */
export function readRowDescription(buf: Buffer, start: number, end: number): ResultField[] {
  const r = new FieldReader(buf.subarray(start, end), 5)
  const n = r.int16()
  if (n < 0) throw new WireError('negative field count in RowDescription')
  const fields: ResultField[] = []
  for (let i = 0; i < n; i++) {
    const name = r.cstring()
    const tableOid = r.int32() >>> 0
    const attnum = r.int16()
    const typeOid = r.int32() >>> 0
    r.int16() // typlen
    r.int32() // typmod
    const format = r.int16()
    fields.push({name, tableOid, attnum, typeOid, format})
  }
  return fields
}

/** Types whose values are UTF-8 text in both formats: a masked value is the style's string. */
const TEXT_TYPES = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 705])
const JSON = 114
const JSONB = 3802

/**
 * How a field's masked value is written. A whole-value (column) mask keeps a string only for text and
 * JSON types; every other type becomes NULL so decoders never break. Detect masks rewrite spans in
 * place in any text-format value; in binary format only text and JSON types are scanned, others NULL.
 */
export function valueType(
  field: Pick<ResultField, 'typeOid' | 'format'>,
  kind: 'column' | 'detect',
): ValueType {
  if (field.typeOid === JSON) return 'json'
  if (field.typeOid === JSONB) return field.format === 1 ? 'jsonb-binary' : 'json'
  if (TEXT_TYPES.has(field.typeOid)) return 'text'
  return kind === 'detect' && field.format === 0 ? 'text' : 'other'
}

/** The masker's per-field instructions from the plan; null when no field needs masking. */
export function fieldMasks(
  plans: readonly FieldPlan[],
  fields: readonly Pick<ResultField, 'typeOid' | 'format'>[],
): (FieldMask | null)[] | null {
  let any = false
  const out = plans.map((p, i): FieldMask | null => {
    if (p === null) return null
    any = true
    const type = valueType(fields[i] ?? {typeOid: 0, format: 1}, p.kind)
    return p.kind === 'column' ? {...p, type} : {kind: 'detect', rules: p.rules, type}
  })
  return any ? out : null
}

/** Rewrites DataRows with some fields masked. One per result set. */
export class RowMasker {
  private readonly starts: number[]
  private readonly outs: (Buffer | null | undefined)[]

  constructor(
    private readonly masks: readonly (FieldMask | null)[],
    private readonly key: MaskKey,
    /** Rule names that masked something, for the audit event. */
    readonly fired: Set<string>,
  ) {
    this.starts = new Array<number>(masks.length).fill(0)
    this.outs = new Array<Buffer | null | undefined>(masks.length).fill(undefined)
  }

  /**
   * Writes the masked DataRow for `buf[start, end)` to `out` and returns true; false when the original
   * bytes can go as they are.
   */
  rewrite(buf: Buffer, start: number, end: number, out: {reserve(size: number): Buffer}): boolean {
    const n = this.masks.length
    if (end - start < 7 || buf.readInt16BE(start + 5) !== n)
      throw new WireError('DataRow does not match its RowDescription')
    let p = start + 7
    let changed = false
    let size = end - start
    for (let i = 0; i < n; i++) {
      if (p + 4 > end) throw new WireError('DataRow is truncated')
      const len = buf.readInt32BE(p)
      this.starts[i] = p
      p += 4
      if (len < -1 || (len > 0 && p + len > end)) throw new WireError('DataRow field overruns the message')
      const mask = this.masks[i]
      this.outs[i] = undefined
      if (mask != null && len >= 0) {
        const input = buf.subarray(p, p + len)
        const out = maskField(input, mask, this.key, this.fired)
        if (out !== input) {
          this.outs[i] = out
          changed = true
          size += (out === null ? 0 : out.length) - len
        }
      }
      if (len > 0) p += len
    }
    if (p !== end) throw new WireError('DataRow has bytes after its last field')
    if (changed) this.build(buf, start, end, out.reserve(size))
    return changed
  }

  /** Writes the row into `out` (exactly its size): the masked fields from `outs`, the rest copied. */
  private build(buf: Buffer, start: number, end: number, out: Buffer): void {
    // Unchanged bytes are copied in runs (header and neighbouring clean fields at once).
    let runStart = start
    let o = 0
    const n = this.masks.length
    for (let i = 0; i < n; i++) {
      const v = this.outs[i]
      if (v === undefined) continue
      const s = this.starts[i] as number
      o += copyBytes(buf, runStart, s, out, o)
      const len = buf.readInt32BE(s)
      runStart = s + 4 + (len > 0 ? len : 0)
      if (v === null) o = out.writeInt32BE(-1, o)
      else {
        o = out.writeInt32BE(v.length, o)
        o += copyBytes(v, 0, v.length, out, o)
      }
    }
    copyBytes(buf, runStart, end, out, o)
    out.writeInt32BE(out.length - 1, 1)
  }
}

/** `src[from, to)` into `dst` at `at`; a loop for short runs, where a native copy's call costs more. */
function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const n = to - from
  if (n > 256) return src.copy(dst, at, from, to)
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i] as number
  return n
}

const SLAB = 64 * 1024

/**
 * Bytes the proxy produced (masked rows), gathered into slabs so a stream of masked rows costs one
 * write per slab, not one per row. Ordered with the RunWriter's runs: the caller flushes the slab
 * before forwarding an original frame, and reserving room flushes the pending run first.
 */
export class ProducedOut {
  private slab = Buffer.allocUnsafe(SLAB)
  private used = 0

  constructor(private readonly to: RunWriter) {}

  /** Appends produced bytes after everything forwarded so far. */
  append(bytes: Buffer): void {
    bytes.copy(this.reserve(bytes.length))
  }

  /** Room for `size` produced bytes after everything forwarded so far; the caller fills all of it. */
  reserve(size: number): Buffer {
    if (this.used === 0) this.to.flush()
    if (this.used + size > this.slab.length) {
      this.flush()
      // A row larger than a slab gets a slab of its own, written at the next flush.
      if (size > SLAB) this.slab = Buffer.allocUnsafe(size)
    }
    const start = this.used
    this.used += size
    return this.slab.subarray(start, this.used)
  }

  /** Writes the gathered bytes (before an original frame is forwarded, and at the end of each read). */
  flush(): void {
    if (this.used === 0) return
    const out = this.slab.subarray(0, this.used)
    this.slab = Buffer.allocUnsafe(SLAB)
    this.used = 0
    this.to.send(out)
  }

  /** True when bytes are waiting. */
  get pending(): boolean {
    return this.used > 0
  }
}
