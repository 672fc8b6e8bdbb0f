/**
 * The MySQL row path of masking: column definitions (where a column comes from, and its type), and
 * the rewriter of text-protocol rows (length-encoded strings, 0xFB for NULL) and binary-protocol rows
 * (a NULL bitmap at bit offset 2, then type-dependent values). A masked text value becomes the style's
 * string; a masked value of another type becomes NULL (its bitmap bit set in a binary row), so every
 * client still decodes the row. A row none of whose masked fields changed is left alone.
 */
import {maskField, maskNull, type FieldMask, type MaskKey, type ValueType} from '../../masking/index.js'
import type {FieldPlan} from '../../policy/index.js'
import {HEADER_BYTES, MAX_PART, encodePacket, payloadOf} from './framing.js'
import {PayloadReader, WireError} from './wire.js'

/** What masking reads of one column definition. */
export interface ColumnDef {
  readonly schema: string
  /** The table a direct column comes from (a view, derived table or CTE name too); '' when computed. */
  readonly orgTable: string
  readonly name: string
  readonly orgName: string
  readonly charset: number
  readonly type: number
}

/** Column types (protocol values) whose values are strings in both protocols. */
const STRING_TYPES = new Set([
  0x0f, // VARCHAR
  0xf5, // JSON
  0xf7, // ENUM
  0xf8, // SET
  0xf9, // TINY_BLOB
  0xfa, // MEDIUM_BLOB
  0xfb, // LONG_BLOB
  0xfc, // BLOB
  0xfd, // VAR_STRING
  0xfe, // STRING
])
const JSON_TYPE = 0xf5
/** Binary-protocol values that are length-encoded strings although not text (decimal, bit, geometry). */
const LENENC_TYPES = new Set([0x00, 0xf6, 0x10, 0xff, ...STRING_TYPES])
/** Fixed binary-protocol widths by type. */
const FIXED: Readonly<Record<number, number>> = {
  0x01: 1, // TINY
  0x02: 2, // SHORT
  0x0d: 2, // YEAR
  0x03: 4, // LONG
  0x09: 4, // INT24
  0x04: 4, // FLOAT
  0x05: 8, // DOUBLE
  0x08: 8, // LONGLONG
  0x06: 0, // NULL
}
/** Binary-protocol temporal values: a length byte, then that many bytes. */
const TEMPORAL = new Set([0x07, 0x0a, 0x0b, 0x0c])

/** Reads a column definition (protocol 4.1); throws WireError when malformed. */
export function readColumnDef(payload: Buffer): ColumnDef {
  const r = new PayloadReader(payload)
  const str = (): string => r.bytes(r.lenenc()).toString('utf8')
  str() // catalog
  const schema = str()
  str() // table (alias)
  const orgTable = str()
  const name = str()
  const orgName = str()
  r.lenenc() // length of the fixed fields
  const charset = r.int(2)
  r.int(4) // column length
  const type = r.int(1)
  return {schema, orgTable, name, orgName, charset, type}
}

/** `text` when the column's values can spell free text (classifiers scan them), else `other`. */
export function columnCategory(c: Pick<ColumnDef, 'type'>): 'text' | 'other' {
  return STRING_TYPES.has(c.type) ? 'text' : 'other'
}

/** How a masked value of this column is written: a string for string types, NULL otherwise. */
function valueType(c: Pick<ColumnDef, 'type'>): ValueType {
  if (c.type === JSON_TYPE) return 'json'
  return STRING_TYPES.has(c.type) ? 'text' : 'other'
}

/** The masker's per-column instructions from the plan; null when no column needs masking. */
export function columnMasks(
  plans: readonly FieldPlan[],
  cols: readonly ColumnDef[],
): (FieldMask | null)[] | null {
  let any = false
  const out = plans.map((p, i): FieldMask | null => {
    if (p === null) return null
    any = true
    const type = valueType(cols[i] ?? {type: 0})
    return p.kind === 'column' ? {...p, type} : {kind: 'detect', rules: p.rules, type}
  })
  return any ? out : null
}

/** Where masked rows go: room reserved after everything forwarded so far (ProducedOut). */
export interface RowOut {
  /** Room for `size` bytes; the caller fills all of it. */
  reserve(size: number): Buffer
}

/** Rewrites the rows of one result set with some columns masked. */
export class MysqlRowMasker {
  private readonly outs: (Buffer | null | undefined)[]
  /** What SQL NULL becomes in each field (maskNull), worked out once per result set; null: stays NULL. */
  private readonly nulls: (Buffer | null)[]
  private readonly starts: number[]
  private readonly ends: number[]

  constructor(
    private readonly masks: readonly (FieldMask | null)[],
    private readonly types: readonly number[],
    private readonly binary: boolean,
    private readonly key: MaskKey,
    readonly fired: Set<string>,
  ) {
    this.outs = new Array<Buffer | null | undefined>(masks.length).fill(undefined)
    this.nulls = masks.map((m) => (m == null ? null : maskNull(m, key)))
    this.starts = new Array<number>(masks.length).fill(0)
    this.ends = new Array<number>(masks.length).fill(0)
  }

  /**
   * Writes the masked row packet for `buf[start, end)` to `out`, its sequence ids moved by `shift` (rows
   * before it changed their number of parts), and returns how many more 16 MB parts it has than the
   * original (negative: fewer); null when nothing changed (forward it). The caller moves the ids of every
   * later packet of the response by that much: whether a masked row crosses a part boundary would
   * otherwise show the masked value's length.
   */
  rewrite(buf: Buffer, start: number, end: number, out: RowOut, shift = 0): number | null {
    const payload = payloadOf(buf, start, end)
    const changed = this.binary ? this.scanBinary(payload) : this.scanText(payload)
    if (!changed) return null
    const size = this.maskedSize(payload.length)
    // The sequence id of the (first) part.
    const seq = ((buf[start + 3] as number) + shift) & 0xff
    if (size < MAX_PART && payload.length < MAX_PART) {
      // The common case, one part: written straight into the outgoing slab.
      const dst = out.reserve(HEADER_BYTES + size)
      dst.writeUIntLE(size, 0, 3)
      dst[3] = seq
      this.build(payload, dst, HEADER_BYTES)
      return 0
    }
    const partsBefore = Math.floor(payload.length / MAX_PART)
    const partsAfter = Math.floor(size / MAX_PART)
    const masked = Buffer.allocUnsafe(size)
    this.build(payload, masked, 0)
    encodePacket(seq, masked).copy(out.reserve(HEADER_BYTES * (partsAfter + 1) + size))
    return partsAfter - partsBefore
  }

  private maskOne(i: number, value: Buffer): void {
    const mask = this.masks[i]
    if (mask == null) return
    const out = maskField(value, mask, this.key, this.fired)
    if (out !== value) this.outs[i] = out
  }

  /** A NULL of field `i` masked as a value (maskNull): true when it is. */
  private maskNullAt(i: number): boolean {
    const out = this.nulls[i] ?? null
    if (out === null) return false
    this.outs[i] = out
    return true
  }

  /** Text row: each value a length-encoded string, or 0xFB for NULL. */
  private scanText(p: Buffer): boolean {
    let off = 0
    let changed = false
    for (let i = 0; i < this.masks.length; i++) {
      this.outs[i] = undefined
      this.starts[i] = off
      if (off >= p.length) throw new WireError('a row has fewer values than its columns')
      if (p[off] === 0xfb) {
        off++
        this.ends[i] = off
        if (this.maskNullAt(i)) changed = true
        continue
      }
      const len = lenencValue(p, off)
      const at = off + lenencBytes(p[off] as number)
      if (at + len > p.length) throw new WireError('a row value overruns its packet')
      off = at + len
      this.ends[i] = off
      if (this.masks[i] != null) {
        this.maskOne(i, p.subarray(at, at + len))
        if (this.outs[i] !== undefined) changed = true
      }
    }
    if (off !== p.length) throw new WireError('a row has bytes after its last value')
    return changed
  }

  /** Binary row: 0x00, the NULL bitmap (offset 2), then each non-NULL value by its type. */
  private scanBinary(p: Buffer): boolean {
    const n = this.masks.length
    const bitmap = (n + 9) >> 3
    if (p[0] !== 0x00 || p.length < 1 + bitmap) throw new WireError('a binary row without its header')
    let off = 1 + bitmap
    let changed = false
    for (let i = 0; i < n; i++) {
      this.outs[i] = undefined
      this.starts[i] = off
      if (isNull(p, i)) {
        this.ends[i] = off
        if (this.maskNullAt(i)) changed = true
        continue
      }
      const type = this.types[i] as number
      let at = off
      let len: number
      if (LENENC_TYPES.has(type)) {
        if (off >= p.length) throw new WireError('a binary row value overruns its packet')
        len = lenencValue(p, off)
        at = off + lenencBytes(p[off] as number)
      } else if (TEMPORAL.has(type)) {
        if (off >= p.length) throw new WireError('a binary row value overruns its packet')
        len = p[off] as number
        at = off + 1
      } else {
        const w = FIXED[type]
        if (w === undefined) throw new WireError(`a binary row value of unknown type 0x${type.toString(16)}`)
        len = w
      }
      if (at + len > p.length) throw new WireError('a binary row value overruns its packet')
      off = at + len
      this.ends[i] = off
      const mask = this.masks[i]
      if (mask == null) continue
      // Only string types hold text; any other masked value becomes NULL whatever its bytes.
      if (mask.type === 'other') this.outs[i] = null
      else this.maskOne(i, p.subarray(at, at + len))
      if (this.outs[i] !== undefined) changed = true
    }
    if (off !== p.length) throw new WireError('a binary row has bytes after its last value')
    return changed
  }

  /** The payload size after replacing the masked values found by the last scan. */
  private maskedSize(length: number): number {
    let size = length
    for (let i = 0; i < this.masks.length; i++) {
      const v = this.outs[i]
      if (v === undefined) continue
      const now = v === null ? (this.binary ? 0 : 1) : lenencHeader(v.length) + v.length
      size += now - ((this.ends[i] as number) - (this.starts[i] as number))
    }
    return size
  }

  /** Writes the masked payload into `dst` at `o`: unchanged runs copied, masked values replaced. */
  private build(p: Buffer, dst: Buffer, o: number): void {
    const n = this.masks.length
    const bitmapAt = o + 1
    let run = 0
    for (let i = 0; i < n; i++) {
      const v = this.outs[i]
      if (v === undefined) continue
      o += p.copy(dst, o, run, this.starts[i])
      if (v === null) {
        if (this.binary) {
          const byte = bitmapAt + ((i + 2) >> 3)
          // The bitmap was copied already (it precedes every value).
          dst[byte] = (dst[byte] as number) | (1 << ((i + 2) & 7))
        } else dst[o++] = 0xfb
      } else {
        if (this.binary && isNull(p, i)) {
          // A NULL masked as a value (maskNull): its bit cleared, the value written.
          const byte = bitmapAt + ((i + 2) >> 3)
          dst[byte] = (dst[byte] as number) & ~(1 << ((i + 2) & 7))
        }
        o = writeLenenc(dst, o, v.length)
        o += v.copy(dst, o)
      }
      run = this.ends[i] as number
    }
    p.copy(dst, o, run)
  }
}

function isNull(p: Buffer, i: number): boolean {
  return (((p[1 + ((i + 2) >> 3)] as number) >> ((i + 2) & 7)) & 1) === 1
}

/** Bytes of the length-encoded integer whose first byte is `first`. */
function lenencBytes(first: number): number {
  return first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : 9
}

/** The length-encoded integer at `off` (`off` is inside `p`); throws WireError when invalid or cut. */
function lenencValue(p: Buffer, off: number): number {
  const first = p[off] as number
  if (first < 0xfb) return first
  const n = lenencBytes(first)
  if (first === 0xfb || first === 0xff)
    throw new WireError(`invalid length-encoded integer prefix 0x${first.toString(16)}`)
  if (off + n > p.length) throw new WireError('a row value overruns its packet')
  if (n < 9) return p.readUIntLE(off + 1, n - 1)
  const v = p.readBigUInt64LE(off + 1)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('length-encoded integer too large')
  return Number(v)
}

/** Bytes of the length-encoded header of a string of `n` bytes. */
function lenencHeader(n: number): number {
  return n < 0xfb ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9
}

/** Writes `n` as a length-encoded integer at `o`; returns the offset after it. */
function writeLenenc(dst: Buffer, o: number, n: number): number {
  if (n < 0xfb) {
    dst[o] = n
    return o + 1
  }
  if (n < 0x10000) {
    dst[o] = 0xfc
    dst.writeUInt16LE(n, o + 1)
    return o + 3
  }
  if (n < 0x1000000) {
    dst[o] = 0xfd
    dst.writeUIntLE(n, o + 1, 3)
    return o + 4
  }
  dst[o] = 0xfe
  dst.writeBigUInt64LE(BigInt(n), o + 1)
  return o + 9
}

/** `v` as a length-encoded string. */
export function lenencString(v: Buffer): Buffer {
  const n = v.length
  let head: Buffer
  if (n < 0xfb) head = Buffer.from([n])
  else if (n < 0x10000) head = Buffer.from([0xfc, n & 0xff, n >> 8])
  else if (n < 0x1000000) head = Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16])
  else {
    head = Buffer.alloc(9)
    head[0] = 0xfe
    head.writeBigUInt64LE(BigInt(n), 1)
  }
  return Buffer.concat([head, v])
}
