// AssemblyScript, not TypeScript: `npm run build:wasm` compiles it into src/proxy/postgres/row-kernel-wasm.ts.
//
// The hot case of Postgres masking in WebAssembly: one DataRow whose masked fields are whole-column
// masks that need no key and no classifier (NULL, and the partial style of a plain address). Byte
// loops run several times faster here than in JavaScript. Anything else answers FALLBACK and the
// JavaScript RowMasker handles the row, so this file only ever decides a subset of what
// src/masking/field.ts decides, and must decide it byte for byte the same (a property test compares
// them on random rows).
//
// Memory: field ops at OPS, the input chunk at IN, produced rows at OUT. Sizes are fixed at start:
// the memory never grows, so the JavaScript views of it stay valid.

/** Per field: PASS forwards it, NULL makes it SQL NULL, EMAIL masks a plain address, else FALLBACK. */
const PASS: u8 = 0
const NULL: u8 = 1
const EMAIL: u8 = 2

/** maskRow's answers besides an output offset. */
const UNCHANGED: i32 = -1
const FALLBACK: i32 = -2
const MALFORMED: i32 = -3

const OPS: usize = 0
const CLASS: usize = 2048
/** maskRows' second answer: the output offset after the rows it wrote. */
const RESULT: usize = 2304
export const MAX_FIELDS: i32 = 2048
export const IN: usize = 4096
export const IN_BYTES: i32 = 256 << 10
export const OUT: usize = IN + <usize>IN_BYTES
export const OUT_BYTES: i32 = 256 << 10

const LOCAL: u8 = 1
const HOST: u8 = 2
const LETTER: u8 = 4
const DOT: u8 = LOCAL | 8
const AT: u8 = 16

/** Fills the byte-class table of the address check (as EMAIL_CLASS in src/masking/field.ts). */
export function init(): void {
  for (let c: i32 = 0; c < 256; c++) {
    const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
    const digit = c >= 48 && c <= 57
    let k: u8 = 0
    if (letter) k = LOCAL | HOST | LETTER
    else if (digit || c == 45) k = LOCAL | HOST
    else if (c == 95 || c == 37 || c == 43) k = LOCAL
    store<u8>(CLASS + <usize>c, k)
  }
  store<u8>(CLASS + 46, DOT)
  store<u8>(CLASS + 64, AT)
}

/** The field ops table, written by the caller before rows of a result set are masked. */
export function ops(): usize {
  return OPS
}

/** Where maskRows leaves its output offset. */
export function result(): usize {
  return RESULT
}

@inline
function be32(p: usize): i32 {
  return bswap<i32>(load<i32>(p))
}

@inline
function put32(p: usize, v: i32): void {
  store<i32>(p, bswap<i32>(v))
}

/** Copies [src, src + n) to dst eight bytes at a time: for the few bytes of a field, a call to memory.copy costs more. */
@inline
function copy(dst: usize, src: usize, n: usize): void {
  let i: usize = 0
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(src + i))
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i))
}

/** plainEmailAt of src/masking/field.ts on [s, n): the address of the `@`, or 0 when not plain. */
function plainEmailAt(s: usize, n: usize): usize {
  if (n - s < 5 || n - s > 254) return 0
  let i = s
  for (; i < n; i++) {
    const k = load<u8>(CLASS + <usize>load<u8>(i))
    if (k == AT) break
    if ((k & LOCAL) == 0) return 0
  }
  if (i == s || i - s > 64 || i + 3 >= n || load<u8>(s) == 46 || load<u8>(i - 1) == 46) return 0
  let label: i32 = 0
  let dots: i32 = 0
  let tldLetters = true
  for (let j = i + 1; j < n; j++) {
    const k = load<u8>(CLASS + <usize>load<u8>(j))
    if (k == DOT) {
      if (label == 0) return 0
      dots++
      label = 0
      tldLetters = true
      continue
    }
    if ((k & HOST) == 0) return 0
    if ((k & LETTER) == 0) tldLetters = false
    if (++label > 63) return 0
  }
  return dots > 0 && label >= 2 && tldLetters ? i : 0
}

/**
 * Masks the DataRow at IN + [start, end) with `n` fields into OUT + at. Returns the offset after the
 * written row, UNCHANGED (nothing written: no masked field changed), FALLBACK (a field this kernel
 * does not decide: nothing written) or MALFORMED (the row does not match; the caller's own path
 * reports it).
 */
export function maskRow(start: i32, end: i32, n: i32, at: i32): i32 {
  const s = IN + <usize>start
  const e = IN + <usize>end
  if (end - start < 7 || n > MAX_FIELDS || ((<i32>load<u8>(s + 5)) << 8) + <i32>load<u8>(s + 6) != n)
    return MALFORMED
  const o = OUT + <usize>at
  let w = o + 7
  let p = s + 7
  let changed = false
  for (let i: i32 = 0; i < n; i++) {
    if (p + 4 > e) return MALFORMED
    const len = be32(p)
    if (len < -1 || (len > 0 && p + 4 + <usize>len > e)) return MALFORMED
    const op = load<u8>(OPS + <usize>i)
    const size: usize = len > 0 ? 4 + <usize>len : 4
    if (op == PASS || len < 0) {
      copy(w, p, size)
      w += size
    } else if (op == NULL) {
      put32(w, -1)
      w += 4
      changed = true
    } else if (op == EMAIL) {
      const v = p + 4
      const ve = v + <usize>len
      const a = plainEmailAt(v, ve)
      if (a == 0) return FALLBACK
      const m = ve - a
      put32(w, <i32>m + 4)
      store<u8>(w + 4, load<u8>(v))
      store<u16>(w + 5, 0x2a2a) // '**'
      store<u8>(w + 7, 0x2a) // '*'
      copy(w + 8, a, m)
      w += 8 + m
      changed = true
    } else return FALLBACK
    p += size
  }
  if (p != e) return MALFORMED
  if (!changed) return UNCHANGED
  store<u8>(o, 0x44)
  put32(o + 1, <i32>(w - o - 1))
  store<u16>(o + 5, load<u16>(s + 5))
  return <i32>(w - OUT)
}

/**
 * Masks the whole DataRows at IN + [start, limit) (the caller framed them) with `n` fields each into
 * OUT + at, as maskRow does (a row whose masked fields did not change is copied as it is), and stops
 * before a row maskRow does not decide and when the output could run out of room. Returns the input
 * offset it stopped at and leaves the output offset at RESULT.
 */
export function maskRows(start: i32, limit: i32, n: i32, at: i32): i32 {
  let p = start
  let w = at
  while (p + 5 <= limit) {
    const s = IN + <usize>p
    const len = be32(s + 1)
    // Framed by the caller; checked again so that a wrong limit can never read past the run.
    if (len < 6 || len > limit - p - 1) break
    if (w + len + 1 + 3 * n + 8 > OUT_BYTES) break
    const e = p + 1 + len
    const r = maskRow(p, e, n, w)
    if (r == UNCHANGED) {
      copy(OUT + <usize>w, s, <usize>(len + 1))
      w += len + 1
    } else if (r < 0) break
    else w = r
    p = e
  }
  store<i32>(RESULT, w)
  return p
}
