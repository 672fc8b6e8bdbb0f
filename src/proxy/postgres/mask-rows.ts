/**
 * The row path of masking: RowDescription's fields, the value type each masked field is written as,
 * and the DataRow rewriter. A row none of whose masked fields changed is left alone (the caller
 * forwards the original bytes); a changed row is rebuilt with only the masked fields replaced.
 */
import {
  FIELD_UNCHANGED,
  maskFieldRange,
  type ByteSink,
  type FieldMask,
  type MaskKey,
  type ValueType,
} from '../../masking/index.js'
import type {FieldPlan} from '../../policy/index.js'
import {
  KERNEL_EMAIL,
  KERNEL_FALLBACK,
  KERNEL_NULL,
  KERNEL_PASS,
  KERNEL_UNCHANGED,
  RowKernel,
} from './row-kernel.js'
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
  /** The row kernel's instruction per field, when it decides every masked field of this result. */
  private readonly kernelOps: Uint8Array | undefined

  constructor(
    private readonly masks: readonly (FieldMask | null)[],
    private readonly key: MaskKey,
    /** Rule names that masked something, for the audit event. */
    readonly fired: Set<string>,
  ) {
    this.firedArg = masks.map((m) => {
      if (m?.kind !== 'column') return fired
      fired.add(m.rule)
      return undefined
    })
    this.kernelOps = kernelOps(masks)
  }

  /**
   * Writes the masked DataRow for `buf[start, end)` to `out` and returns true; false when the original
   * bytes can go as they are. Throws WireError when the row does not match its RowDescription.
   */
  /**
   * Masks the run of DataRows from `buf[start]` on with the row kernel (rows of at most `maxFrame`
   * bytes, up to the first message it does not decide): returns the offset after the last row it
   * wrote to `out`, or -1 when it took none (`rewrite` must handle the row at `start`).
   */
  rewriteRun(buf: Buffer, start: number, maxFrame: number, out: ProducedOut): number {
    const ops = this.kernelOps
    return ops === undefined ? -1 : out.kernelRun(ops, buf, start, maxFrame)
  }

  rewrite(buf: Buffer, start: number, end: number, out: ProducedOut): boolean {
    const ops = this.kernelOps
    if (ops !== undefined) {
      const r = out.kernelRow(ops, buf, start, end)
      if (r !== KERNEL_FALLBACK) return r !== KERNEL_UNCHANGED
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
      if (p + 4 > end) return out.abandon('DataRow is truncated')
      const len = view.getInt32(p)
      if (len < -1 || (len > 0 && p + 4 + len > end)) return out.abandon('DataRow field overruns the message')
      const mask = this.masks[i]
      if (mask != null && len >= 0) {
        if (changed) out.copy(buf, view, runStart, p)
        else {
          // Room for the row so far, filled in if this field changes.
          out.ensure(p - start + 4)
          out.used = out.mark + (p - start)
        }
        out.ensure(4)
        const lenAt = out.used - out.mark
        out.used += 4
        let r = maskFieldRange(buf, p + 4, p + 4 + len, mask, this.key, this.firedArg[i], out)
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
          runStart = p + 4 + len
        }
      }
      p += len > 0 ? len + 4 : 4
    }
    if (p !== end) return out.abandon('DataRow has bytes after its last field')
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

/**
 * The kernel's instructions for `masks`, or undefined when some masked field is one it does not
 * decide (its rows would all fall back): whole-column masks to NULL, and partial on text.
 */
function kernelOps(masks: readonly (FieldMask | null)[]): Uint8Array | undefined {
  const ops = new Uint8Array(masks.length)
  for (let i = 0; i < masks.length; i++) {
    const m = masks[i]
    if (m == null) ops[i] = KERNEL_PASS
    else if (m.kind !== 'column') return undefined
    else if (m.style === 'null' || m.type === 'other') ops[i] = KERNEL_NULL
    else if (m.style === 'partial' && m.type === 'text') ops[i] = KERNEL_EMAIL
    else return undefined
  }
  return ops
}

const SLAB = 64 * 1024
/** The largest fresh slab `prepare` makes for one read (reads are at most 64 KB). */
const MAX_SLAB = 1024 * 1024

/** Where produced bytes are written: the client's RunWriter. */
export interface ProducedTarget {
  /** Writes the pending run of forwarded frames. */
  flush(): void
  /** Writes bytes the proxy produced, after everything forwarded so far. */
  send(bytes: Buffer): void
  /** True when every byte sent so far has left the process (the kernel has it): buffers can be reused. */
  drained?(): boolean
}

/**
 * Bytes the proxy produced (masked rows, scrubbed messages), gathered into slabs so a stream of masked
 * rows costs one write per slab or per network read, not one per row. Ordered with the RunWriter's
 * runs: the caller flushes the slab before forwarding an original frame, and the first produced bytes
 * after forwarded frames flush their run first. A row is built in place between `begin` and `commit`
 * (or `rollback`); `slab[base, used)` is gathered and not yet written, before `base` the socket owns it.
 */
export class ProducedOut implements ByteSink {
  buf: Buffer = Buffer.allocUnsafe(SLAB)
  /** A DataView of `buf`, for word-wise writes. */
  view: DataView = viewOf(this.buf)
  used = 0
  /** Start of the row being built, -1 when none is. */
  mark = -1
  private base = 0
  /**
   * The row kernel's memory, once a result set used it: the slab rows are built in while it has room.
   * Bytes sent from it are copied first (the kernel reuses it), so it never waits on the socket.
   */
  private kernel: RowKernel | null | undefined

  constructor(
    private readonly to: ProducedTarget,
    /** False to build every row in JavaScript (the reference path, for tests). */
    private readonly useKernel = true,
  ) {}

  /** RowMasker.rewriteRun's work, on this output's kernel slab. */
  kernelRun(ops: Uint8Array, buf: Buffer, start: number, maxFrame: number): number {
    const k = this.kernelSlab(ops.length, 1024)
    if (k === undefined) return -1
    const stop = k.maskRows(ops, buf, start, this.used, maxFrame)
    if (stop === start) return -1
    this.mark = this.used
    this.used = k.written
    this.commit()
    return stop
  }

  /**
   * The kernel, with its slab the current one and `room` bytes free in it (flushing what is there
   * first when needed); undefined when there is none or a row is being built in JavaScript.
   */
  private kernelSlab(fields: number, room: number): RowKernel | undefined {
    let k = this.kernel
    if (k === undefined) k = this.kernel = this.useKernel ? (RowKernel.create() ?? null) : null
    if (k === null || this.mark >= 0 || fields > k.maxFields || room > k.slab.length) return undefined
    if (this.buf !== k.slab || this.used + room > k.slab.length) {
      this.flush()
      this.buf = k.slab
      this.view = viewOf(k.slab)
      this.used = this.base = 0
    }
    return k
  }

  /**
   * Masks the DataRow `buf[start, end)` with the row kernel by `ops`: KERNEL_FALLBACK when the
   * JavaScript path must decide it, KERNEL_UNCHANGED when the original goes, else the row was built.
   */
  kernelRow(ops: Uint8Array, buf: Buffer, start: number, end: number): number {
    const k = this.kernelSlab(ops.length, end - start + 3 * ops.length + 8)
    if (k === undefined) return KERNEL_FALLBACK
    const r = k.maskRow(ops, buf, start, end, this.used)
    if (r < 0) return r
    this.mark = this.used
    this.used = r
    this.commit()
    return r
  }

  /**
   * Called as a network read of `n` bytes starts: when produced bytes have been written out and the
   * slab has less room left than the read could produce, the next rows go to a fresh slab, so a read's
   * masked rows leave in one write instead of being split at the slab's end. A session that never
   * produced anything allocates nothing.
   */
  prepare(n: number): void {
    this.kernel?.unload()
    if (this.used === 0 || this.used !== this.base || this.mark >= 0) return
    if (this.buf.length - this.used >= n) return
    if (this.kernel != null && this.buf === this.kernel.slab) {
      this.used = this.base = 0
      return
    }
    if (this.buf.length >= n && this.to.drained?.() === true) {
      // Everything written went straight to the kernel: nothing holds the slab, it is reused.
      this.used = this.base = 0
      return
    }
    this.buf = Buffer.allocUnsafe(Math.max(SLAB, Math.min(n, MAX_SLAB)))
    this.view = viewOf(this.buf)
    this.used = this.base = 0
  }

  /** Appends produced bytes after everything forwarded so far. */
  append(bytes: Buffer): void {
    this.begin(bytes.length)
    this.buf.set(bytes, this.used)
    this.used += bytes.length
    this.commit()
  }

  /**
   * Room for `size` produced bytes after everything forwarded so far; the caller fills all of it before
   * the next call (the MySQL row masker builds whole packets this way).
   */
  reserve(size: number): Buffer {
    this.begin(size)
    const start = this.used
    this.used += size
    this.commit()
    return this.buf.subarray(start, this.used)
  }

  /** Starts a row at `used`, with room for `size` bytes (more can be ensured). */
  begin(size: number): void {
    this.mark = this.used
    this.ensure(size)
  }

  /** Room for `n` more bytes at `used`; may move the row being built to a new slab (`buf` changes). */
  ensure(n: number): void {
    if (this.used + n <= this.buf.length) return
    const from = this.mark >= 0 ? this.mark : this.used
    if (from > this.base) this.sendRange(from)
    const slab = Buffer.allocUnsafe(Math.max(SLAB, this.used - from + n))
    this.buf.copy(slab, 0, from, this.used)
    this.used -= from
    if (this.mark >= 0) this.mark = 0
    this.buf = slab
    this.view = viewOf(slab)
    this.base = 0
  }

  /** Copies `src[from, to)` (`sv` its DataView) to `used`. */
  copy(src: Buffer, sv: DataView, from: number, to: number): void {
    this.ensure(to - from)
    this.used = this.copyAt(src, sv, from, to, this.used)
  }

  /**
   * Copies `src[from, to)` into `buf` at `at` (room the caller ensured), four bytes at a time; returns
   * the offset after it.
   */
  copyAt(src: Buffer, sv: DataView, from: number, to: number, at: number): number {
    const dst = this.buf
    const dv = this.view
    let w = at
    let i = from
    // Word-wise through DataViews: several times faster than a byte loop, and unlike Buffer#copy it
    // makes no view object per call.
    for (; i + 4 <= to; i += 4, w += 4) dv.setUint32(w, sv.getUint32(i))
    for (; i < to; i++) dst[w++] = src[i] as number
    return w
  }

  /** Keeps the row built since `begin`. */
  commit(): void {
    // The first produced bytes after forwarded frames: those frames go first.
    if (this.mark === this.base) this.to.flush()
    this.mark = -1
  }

  /** Drops the row built since `begin`. */
  rollback(): void {
    this.used = this.mark
    this.mark = -1
  }

  /** Drops the row being built and throws: the row is malformed. */
  abandon(message: string): never {
    this.rollback()
    throw new WireError(message)
  }

  /** Writes the gathered bytes (before an original frame is forwarded, and at the end of each read). */
  flush(): void {
    if (this.used > this.base && this.mark < 0) this.sendRange(this.used)
  }

  /** True when bytes are waiting. */
  get pending(): boolean {
    return this.used > this.base
  }

  private sendRange(to: number): void {
    const bytes = this.buf.subarray(this.base, to)
    // The kernel's slab is reused for the next rows: the socket gets a copy.
    this.to.send(this.kernel != null && this.buf === this.kernel.slab ? Buffer.from(bytes) : bytes)
    this.base = to
  }
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length)
}
