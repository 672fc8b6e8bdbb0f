/**
 * The row path of masking: RowDescription's fields, the value type each masked field is written as,
 * and the DataRow rewriter. A row none of whose masked fields changed is left alone (the caller
 * forwards the original bytes); a changed row is rebuilt with only the masked fields replaced.
 */
import {
  append,
  FIELD_UNCHANGED,
  maskFieldRange,
  maskNull,
  type FieldMask,
  type MaskKey,
  type ValueType,
} from '../../masking/index.js'
import type {FieldPlan} from '../../policy/index.js'
import type {ProducedOut} from '../produced-out.js'
import {runOf} from './framing.js'
import {Backend} from './messages.js'
import {KERNEL_EMAIL, KERNEL_NULL, KERNEL_PASS, KERNEL_UNCHANGED, type RowKernel} from './row-kernel.js'
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

/**
 * Rewrites DataRows with some fields masked. One per result set. Works on the row's bytes where they
 * lie in the network chunk and builds the masked row in one pass straight into the output slab:
 * unchanged byte ranges copied, masked values written in place by the masker. A row none of whose
 * masked fields changed is taken back (the caller forwards the original). No object is made per row or
 * per field in the common cases.
 */
export class RowMasker {
  /** Column masks always fire: their rule is recorded once, the masker then gets no set to add to. */
  private readonly firedArg: (Set<string> | undefined)[]
  /** A DataView of the chunk rows are read from: word-wise copies (one per network read). */
  private src: Buffer | undefined
  private view: DataView = new DataView(new ArrayBuffer(0))
  /** The session's row kernel and its instruction per field, when it decides every masked field. */
  private readonly kernel: RowKernel | undefined
  private readonly kernelOps: Uint8Array | undefined
  /** What SQL NULL becomes in each field (maskNull); null where it stays NULL. */
  private readonly nulls: (Buffer | null)[]

  constructor(
    private readonly masks: readonly (FieldMask | null)[],
    private readonly key: MaskKey,
    /** Rule names that masked something, for the audit event. */
    readonly fired: Set<string>,
    /** The session's row kernel (made when first needed): rows the kernel decides are masked there. */
    kernel?: () => RowKernel | undefined,
  ) {
    this.firedArg = masks.map((m) => {
      if (m?.kind !== 'column') return fired
      fired.add(m.rule)
      return undefined
    })
    this.nulls = masks.map((m) => (m === null ? null : maskNull(m, key)))
    const ops = kernel === undefined ? undefined : kernelOps(masks, this.nulls)
    this.kernel = ops === undefined ? undefined : kernel?.()
    this.kernelOps = this.kernel !== undefined && masks.length <= this.kernel.maxFields ? ops : undefined
  }

  /**
   * Masks the run of DataRows from `buf[start]` on with the row kernel (the rows framing would hand
   * out with the limit `maxFrame`, up to the first one the kernel does not decide): returns the offset
   * after the last row it wrote to `out`, or -1 when it took none (`rewrite` must handle the row at
   * `start`).
   */
  rewriteRun(buf: Buffer, start: number, maxFrame: number, out: ProducedOut): number {
    const k = this.kernel
    const ops = this.kernelOps
    if (k === undefined || ops === undefined || !out.borrow(k.slab, RUN_ROOM)) return -1
    const stop = k.maskRows(ops, buf, start, runOf(Backend.DataRow, buf, start, maxFrame), out.used)
    if (stop === start) return -1
    out.wrote(k.written)
    return stop
  }

  /**
   * Writes the masked DataRow for `buf[start, end)` to `out` and returns true; false when the original
   * bytes can go as they are. Throws WireError when the row does not match its RowDescription.
   */
  rewrite(buf: Buffer, start: number, end: number, out: ProducedOut): boolean {
    const k = this.kernel
    const ops = this.kernelOps
    if (k !== undefined && ops !== undefined && out.borrow(k.slab, end - start + 3 * ops.length + 8)) {
      const r = k.maskRow(ops, buf, start, end, out.used)
      if (r >= 0) {
        out.wrote(r)
        return true
      }
      if (r === KERNEL_UNCHANGED) return false
    }
    const n = this.masks.length
    if (end - start < 7 || ((buf[start + 5] as number) << 8) + (buf[start + 6] as number) !== n)
      throw new WireError('DataRow does not match its RowDescription')
    if (buf !== this.src) {
      this.src = buf
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length)
    }
    const view = this.view
    out.begin(end - start + 32)
    let runStart = start
    let p = start + 7
    // Nothing is copied until a field changes: a row that stays as it is costs no copy.
    let changed = false
    for (let i = 0; i < n; i++) {
      if (p + 4 > end) return out.abandon(new WireError('DataRow is truncated'))
      const len = view.getInt32(p)
      if (len < -1 || (len > 0 && p + 4 + len > end))
        return out.abandon(new WireError('DataRow field overruns the message'))
      const mask = this.masks[i]
      const nul = len === -1 ? this.nulls[i] : null
      if (mask != null && (len >= 0 || nul != null)) {
        if (changed) out.copy(buf, view, runStart, p)
        else {
          // Room for the row so far, filled in if this field changes.
          out.ensure(p - start + 4)
          out.used = out.mark + (p - start)
        }
        out.ensure(4)
        const lenAt = out.used - out.mark
        out.used += 4
        let r: number
        if (nul != null) {
          append(out, nul)
          r = nul.length
        } else r = maskFieldRange(buf, p + 4, p + 4 + len, mask, this.key, this.firedArg[i], out)
        if (r === FIELD_UNCHANGED && !changed) out.used = out.mark
        else {
          if (r === FIELD_UNCHANGED) {
            out.copy(buf, view, p + 4, p + 4 + len)
            r = len
          } else if (!changed) {
            out.copyAt(buf, view, start, p, out.mark)
            changed = true
          }
          // FIELD_NULL is -1, the wire's NULL length.
          out.view.setInt32(out.mark + lenAt, r)
          runStart = p + 4 + Math.max(len, 0)
        }
      }
      p += len > 0 ? len + 4 : 4
    }
    if (p !== end) return out.abandon(new WireError('DataRow has bytes after its last field'))
    if (!changed) {
      out.rollback()
      return false
    }
    out.copy(buf, view, runStart, end)
    out.view.setInt32(out.mark + 1, out.used - out.mark - 1)
    out.commit()
    return true
  }
}

/** The least room a run of rows starts with in the kernel's slab (a run stops where room runs out). */
const RUN_ROOM = 1024

/**
 * The kernel's instructions for `masks`, or undefined when some masked field is one it does not
 * decide (its rows would all fall back): whole-column masks to NULL, and partial on text that keeps
 * NULL as NULL (`nulls`: no masked NULL).
 */
function kernelOps(
  masks: readonly (FieldMask | null)[],
  nulls: readonly (Buffer | null)[],
): Uint8Array | undefined {
  const ops = new Uint8Array(masks.length)
  for (let i = 0; i < masks.length; i++) {
    const m = masks[i]
    if (m == null) ops[i] = KERNEL_PASS
    else if (m.kind !== 'column') return undefined
    else if (m.style === 'null' || m.type === 'other') ops[i] = KERNEL_NULL
    else if (m.style === 'partial' && m.type === 'text' && nulls[i] == null) ops[i] = KERNEL_EMAIL
    else return undefined
  }
  return ops
}
