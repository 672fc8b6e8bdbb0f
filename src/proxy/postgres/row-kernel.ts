/**
 * The WebAssembly row kernel (wasm/pg-row-kernel.ts): masks DataRows whose masked fields are all
 * whole-column NULLs or partial addresses, several times faster than the JavaScript row path, which
 * stays the reference: any row the kernel does not decide (another value, a malformed row, a row
 * outside the chunk it holds) goes there. One instance per session that masks, made when first needed:
 * its memory (640 KiB, mostly untouched) holds that session's input chunk and produced rows.
 */
import {WASM} from './row-kernel-wasm.js'

/** The little of the WebAssembly API used here (this project's lib settings do not declare it). */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object) => {readonly exports: unknown}
}
interface WasmGlobal {
  readonly value: number
}

interface KernelExports {
  readonly memory: {readonly buffer: ArrayBuffer}
  readonly IN: WasmGlobal
  readonly IN_BYTES: WasmGlobal
  readonly OUT: WasmGlobal
  readonly OUT_BYTES: WasmGlobal
  readonly MAX_FIELDS: WasmGlobal
  init(this: void): void
  ops(this: void): number
  result(this: void): number
  maskRows(this: void, start: number, limit: number, n: number, at: number): number
  maskRow(this: void, start: number, end: number, n: number, at: number): number
}

/** Per-field instructions of the kernel (the kernel's PASS, NULL and EMAIL). */
export const KERNEL_PASS = 0
export const KERNEL_NULL = 1
export const KERNEL_EMAIL = 2

/** maskRow's answers besides an output offset. */
export const KERNEL_UNCHANGED = -1
/** The kernel did not decide the row (or could not hold it): the JavaScript path must. */
export const KERNEL_FALLBACK = -2
const MALFORMED = -3

const wasm = (globalThis as {WebAssembly?: WasmApi}).WebAssembly
let compiled: object | null | undefined

function kernelModule(): object | null {
  if (compiled === undefined) {
    try {
      if (wasm === undefined) throw new Error('no WebAssembly')
      compiled = new wasm.Module(Buffer.from(WASM, 'base64'))
    } catch {
      // No WebAssembly here: the JavaScript path does all the work.
      compiled = null
    }
  }
  return compiled
}

/** A session's kernel, made on the first call (undefined from then on when none can be made). */
export function lazyRowKernel(): () => RowKernel | undefined {
  let made = false
  let kernel: RowKernel | undefined
  return () => {
    if (!made) {
      made = true
      kernel = RowKernel.create()
    }
    return kernel
  }
}

/** One session's kernel. */
export class RowKernel {
  /** Where produced rows are written: a view of the kernel's memory, lent to ProducedOut (borrow()). */
  readonly slab: Buffer
  readonly maxFields: number
  private readonly input: Buffer
  private readonly ops: Uint8Array
  /** The chunk the input region holds, and the field ops the ops region holds. */
  private loaded: Buffer | undefined
  private opsOf: Uint8Array | undefined
  private readonly maskRowFn: KernelExports['maskRow']
  private readonly maskRowsFn: KernelExports['maskRows']
  /** maskRows' output offset, read into `written`. */
  private readonly result: Int32Array
  /** The slab offset after the rows of the last maskRows. */
  written = 0

  /** A new kernel, or undefined when WebAssembly is not available. */
  static create(): RowKernel | undefined {
    const m = kernelModule()
    if (m === null || wasm === undefined) return undefined
    try {
      const exports = new wasm.Instance(m).exports as KernelExports
      exports.init()
      return new RowKernel(exports)
    } catch {
      // No memory for another instance: this session's rows take the JavaScript path.
      return undefined
    }
  }

  private constructor(k: KernelExports) {
    const mem = k.memory.buffer
    this.input = Buffer.from(mem, k.IN.value, k.IN_BYTES.value)
    this.slab = Buffer.from(mem, k.OUT.value, k.OUT_BYTES.value)
    this.maxFields = k.MAX_FIELDS.value
    this.ops = new Uint8Array(mem, k.ops(), this.maxFields)
    this.maskRowFn = k.maskRow
    this.maskRowsFn = k.maskRows
    this.result = new Int32Array(mem, k.result(), 1)
  }

  /**
   * Masks the DataRow `buf[start, end)` by `ops` (one per field) into the slab at `at`: the offset
   * after the written row, KERNEL_UNCHANGED (nothing written) or KERNEL_FALLBACK (nothing written;
   * the JavaScript path decides, and reports a malformed row). The caller ensures the slab has room
   * for the row plus 3 bytes per field.
   */
  maskRow(ops: Uint8Array, buf: Buffer, start: number, end: number, at: number): number {
    if (!this.load(ops, buf)) return KERNEL_FALLBACK
    const r = this.maskRowFn(start, end, ops.length, at)
    return r === MALFORMED ? KERNEL_FALLBACK : r
  }

  /**
   * Masks the whole DataRows `buf[start, limit)` (framed: runOf) into the slab at `at`, copying rows
   * that stay as they are, up to the first row it does not decide or the end of the slab's room.
   * Returns where it stopped in `buf` (`start` when it took nothing) and leaves the slab offset after
   * the written rows in `written`.
   */
  maskRows(ops: Uint8Array, buf: Buffer, start: number, limit: number, at: number): number {
    if (!this.load(ops, buf)) return start
    const stop = this.maskRowsFn(start, limit, ops.length, at)
    this.written = this.result[0] as number
    return stop
  }

  /** Puts `buf` and `ops` in the kernel's memory unless there already; false when `buf` is too big. */
  private load(ops: Uint8Array, buf: Buffer): boolean {
    if (buf !== this.loaded) {
      if (buf.length > this.input.length) return false
      this.input.set(buf)
      this.loaded = buf
    }
    if (ops !== this.opsOf) {
      this.ops.set(ops)
      this.opsOf = ops
    }
    return true
  }
}
