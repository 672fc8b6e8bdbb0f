/**
 * The WebAssembly row kernel against the JavaScript row path it speeds up: on random result sets
 * (plain and almost-plain addresses, other text, NULLs, malformed rows, reads larger than the
 * kernel holds) the bytes a client gets and the errors raised are the same either way.
 */
import {execFileSync} from 'node:child_process'

import {describe, expect, it} from 'vitest'

import type {FieldMask} from '../../src/masking/index.js'
import {RowMasker} from '../../src/proxy/postgres/mask-rows.js'
import {KERNEL_EMAIL, KERNEL_FALLBACK, KERNEL_PASS, RowKernel} from '../../src/proxy/postgres/row-kernel.js'
import {ProducedOut} from '../../src/proxy/produced-out.js'

const KEY = new Uint8Array(32)
const EMAIL: FieldMask = {kind: 'column', rule: 'pii', style: 'partial', type: 'text'}
const NULLED: FieldMask = {kind: 'column', rule: 'pii', style: 'null', type: 'text'}
const OTHER: FieldMask = {kind: 'column', rule: 'pii', style: 'partial', type: 'other'}

/** A seeded generator (mulberry32), so a failure names its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Values near the edges of the plain-address check, and others. */
function value(r: () => number): Buffer | null {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
  const word = (n: number, alphabet = 'abcxyzABZ0189-_.%+'): string =>
    Array.from({length: n}, () => pick([...alphabet])).join('')
  switch (Math.floor(r() * 12)) {
    case 0:
      return null
    case 1:
      return Buffer.alloc(0)
    case 2:
      return Buffer.from(Array.from({length: Math.floor(r() * 40)}, () => Math.floor(r() * 256)))
    case 3:
      return Buffer.from(`${word(1 + Math.floor(r() * 70))}@${word(1 + Math.floor(r() * 70), 'ab9-.')}`)
    case 4:
      return Buffer.from(
        pick(['a@b.cd', '.a@b.cd', 'a.@b.cd', 'a@b..cd', 'a@.b.cd', 'a@b.c', 'a@b.c1', '@b.cd']),
      )
    case 5:
      return Buffer.from(`${word(3)}@${word(3)}@${word(3)}.com`)
    case 6:
      return Buffer.from(`${'x'.repeat(60 + Math.floor(r() * 10))}@example.com`)
    case 7:
      return Buffer.from(`user@${'d'.repeat(60 + Math.floor(r() * 10))}.com`)
    case 8:
      return Buffer.from(`u@${'ab.'.repeat(Math.floor(r() * 90))}org`)
    case 9:
      return Buffer.from(`jörg.ß@exämple.de`)
    default:
      return Buffer.from(`user${Math.floor(r() * 1e6)}@example${Math.floor(r() * 9)}.com`)
  }
}

function dataRow(values: (Buffer | null)[]): Buffer {
  const parts = values.map((v) => {
    const len = Buffer.alloc(4)
    len.writeInt32BE(v === null ? -1 : v.length)
    return v === null ? len : Buffer.concat([len, v])
  })
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(7)
  head[0] = 0x44
  head.writeInt32BE(body.length + 6, 1)
  head.writeInt16BE(values.length, 5)
  return Buffer.concat([head, body])
}

/** Breaks a row the ways a hostile server could. */
function malformed(row: Buffer, r: () => number): Buffer {
  const b = Buffer.from(row)
  switch (Math.floor(r() * 3)) {
    case 0:
      b.writeInt16BE(b.readInt16BE(5) + 1, 5)
      return b
    case 1:
      if (b.length > 11) b.writeInt32BE(b.length * 3, 7)
      return b
    default: {
      const longer = Buffer.concat([b, Buffer.from('zz')])
      longer.writeInt32BE(longer.length - 1, 1)
      return longer
    }
  }
}

interface Outcome {
  bytes: Buffer
  error: string | undefined
}

/** Another message between rows (a notice), forwarded as it is. */
function notice(text: string): Buffer {
  const b = Buffer.alloc(5 + text.length)
  b[0] = 0x4e
  b.writeInt32BE(4 + text.length, 1)
  b.write(text, 5, 'latin1')
  return b
}

/**
 * What a client receives for `reads` through the row path, framing and forwarding emulated as
 * ServerDispatcher does them: runs of rows to the kernel, the rest row by row, other messages and
 * rows left alone forwarded, a message over `maxFrame` bytes an error.
 */
function through(
  masks: (FieldMask | null)[],
  reads: Buffer[],
  maxFrame: number,
  useKernel: boolean,
  /** Chance that the socket has taken everything when asked: until then it keeps the sent buffers themselves. */
  drainChance = 1,
  seed = 0,
): Outcome {
  const sent: Buffer[] = []
  // A socket that holds on to what it was given until it drains: a buffer reused too early shows here.
  let inFlight: Buffer[] = []
  const take = (): void => {
    for (const b of inFlight) sent.push(Buffer.from(b))
    inFlight = []
  }
  const r = rng(seed)
  const out = new ProducedOut({
    flush: () => undefined,
    send: (b) => inFlight.push(b),
    drained: () => {
      const drained = r() < drainChance
      if (drained) take()
      return drained
    },
  })
  // One kernel per session, as MaskSession makes it; without one every row takes the JavaScript path.
  const kernel = useKernel ? RowKernel.create() : undefined
  const m = new RowMasker(masks, KEY, new Set(), useKernel ? () => kernel : undefined)
  const forward = (bytes: Buffer): void => {
    if (out.pending) out.flush()
    inFlight.push(bytes)
  }
  try {
    for (const chunk of reads) {
      out.prepare(chunk.length)
      for (let p = 0; p < chunk.length;) {
        const end = p + chunk.readInt32BE(p + 1) + 1
        if (end - p > maxFrame) throw new Error(`message of ${end - p} bytes`)
        if (chunk[p] !== 0x44) {
          forward(chunk.subarray(p, end))
          p = end
          continue
        }
        const next = m.rewriteRun(chunk, p, maxFrame, out)
        if (next >= end) {
          p = next
          continue
        }
        if (!m.rewrite(chunk, p, end, out)) forward(chunk.subarray(p, end))
        p = end
      }
      out.flush()
    }
    take()
    return {bytes: Buffer.concat(sent), error: undefined}
  } catch (err) {
    out.flush()
    take()
    return {bytes: Buffer.concat(sent), error: String(err)}
  }
}

describe('the WebAssembly row kernel', () => {
  it('is built from its source (wasm/pg-row-kernel.ts)', () => {
    // Exits 1 and names the module when the embedded WebAssembly is not what the source compiles to.
    expect(() => execFileSync('node', ['scripts/build-wasm.js', '--check'], {stdio: 'pipe'})).not.toThrow()
  })

  it('masks a plain address itself and leaves other values to the JavaScript path', () => {
    const k = RowKernel.create()
    expect(k).toBeDefined()
    const ops = new Uint8Array([KERNEL_PASS, KERNEL_EMAIL])
    const row = dataRow([Buffer.from('7'), Buffer.from('alice@example.com')])
    const end = k!.maskRow(ops, row, 0, row.length, 0)
    expect(end).toBeGreaterThan(0)
    expect(k!.slab.subarray(0, end).toString('latin1')).toContain('a***@example.com')
    const odd = dataRow([Buffer.from('7'), Buffer.from('not an address')])
    expect(k!.maskRow(ops, odd, 0, odd.length, 0)).toBe(KERNEL_FALLBACK)
  })

  it('stops a run before a row over the message size limit, which framing then refuses', () => {
    const masks = [null, EMAIL]
    const row = (size: number): Buffer => {
      const base = dataRow([Buffer.from('1'), Buffer.from('alice@example.com')])
      return dataRow([Buffer.from('x'.repeat(1 + size - base.length)), Buffer.from('alice@example.com')])
    }
    const limit = 120
    for (const last of [limit, limit + 1]) {
      const read = Buffer.concat([row(80), row(limit), row(last)])
      const js = through(masks, [read], limit, false)
      const wasm = through(masks, [read], limit, true)
      expect(wasm).toEqual(js)
      expect(js.error).toBe(last > limit ? `Error: message of ${last} bytes` : undefined)
    }
  })

  it('gives the client the same bytes and errors as the JavaScript path on random results', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const r = rng(seed)
      const n = 1 + Math.floor(r() * 5)
      const masks = Array.from(
        {length: n},
        () => [null, EMAIL, EMAIL, NULLED, OTHER][Math.floor(r() * 5)] ?? null,
      )
      const reads: Buffer[] = []
      // Some reads are larger than the kernel's input region (256 KiB), some rows larger than its slab.
      const readCount = 1 + Math.floor(r() * 4)
      for (let i = 0; i < readCount; i++) {
        const rows: Buffer[] = []
        const target = r() < 0.2 ? 300_000 : 1 + Math.floor(r() * 40_000)
        for (let size = 0; size < target;) {
          let row = dataRow(Array.from({length: n}, () => value(r)))
          if (r() < 0.01) row = dataRow(Array.from({length: n}, () => Buffer.from('y'.repeat(270_000))))
          if (seed % 10 === 0 && r() < 0.002) row = malformed(row, r)
          if (r() < 0.01) rows.push(notice(`between rows ${size}`))
          // Another message whose body reads as a row: not a row, forwarded as it is.
          if (r() < 0.01) rows.push(Buffer.concat([Buffer.from('N'), row.subarray(1)]))
          rows.push(row)
          size += row.length
        }
        reads.push(Buffer.concat(rows))
      }
      const maxFrame = seed % 7 === 0 ? 200 + Math.floor(r() * 200) : 1 << 30
      const js = through(masks, reads, maxFrame, false)
      // The socket sometimes keeps what it was given for a while: the kernel's slab is not reused meanwhile.
      const wasm = through(masks, reads, maxFrame, true, seed % 3 === 0 ? 0.5 : 1, seed)
      expect(wasm.error, `seed ${seed}`).toBe(js.error)
      expect(wasm.bytes.equals(js.bytes), `seed ${seed}`).toBe(true)
    }
  })
})
