/** The MySQL row path of masking, from bytes: column definitions, text rows, binary rows, malformed input. */
import {describe, expect, it} from 'vitest'

import type {FieldMask} from '../../src/masking/index.js'
import {encodePacket, payloadOf} from '../../src/proxy/mysql/framing.js'
import {lenencString, MysqlRowMasker, readColumnDef} from '../../src/proxy/mysql/mask-rows.js'
import {WireError} from '../../src/proxy/mysql/wire.js'

const KEY = new Uint8Array(32)
const REDACT_TEXT: FieldMask = {kind: 'column', rule: 'pii', style: 'redact', type: 'text'}
const REDACT_OTHER: FieldMask = {kind: 'column', rule: 'pii', style: 'redact', type: 'other'}
const DETECT: FieldMask = {
  kind: 'detect',
  rules: [{rule: 'found', classifiers: ['email'], style: 'redact'}],
  type: 'text',
}

const VARCHAR = 0xfd
const LONG = 0x03
const DATE = 0x0a
const DOUBLE = 0x05

function columnDef(schema: string, orgTable: string, name: string, orgName: string, type: number): Buffer {
  const fixed = Buffer.alloc(13)
  fixed[0] = 0x0c
  fixed.writeUInt16LE(45, 1)
  fixed.writeUInt32LE(100, 3)
  fixed[7] = type
  return Buffer.concat([
    ...['def', schema, orgTable, orgTable, name, orgName].map((s) => lenencString(Buffer.from(s))),
    fixed,
  ])
}

function textRow(values: (string | null)[]): Buffer {
  return encodePacket(
    3,
    Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : lenencString(Buffer.from(v))))),
  )
}

/** A binary row of (INT, VARCHAR, DATE, DOUBLE) values; null entries set the bitmap. */
function binaryRow(
  id: number | null,
  text: string | null,
  date: [number, number, number] | null,
  d: number | null,
): Buffer {
  const bitmap = Buffer.alloc(1)
  const values: Buffer[] = []
  const put = (i: number, v: Buffer | null): void => {
    if (v === null) bitmap[0] = (bitmap[0] as number) | (1 << (i + 2))
    else values.push(v)
  }
  const int = Buffer.alloc(4)
  int.writeInt32LE(id ?? 0)
  put(0, id === null ? null : int)
  put(1, text === null ? null : lenencString(Buffer.from(text)))
  const dt = Buffer.alloc(5)
  if (date !== null) {
    dt[0] = 4
    dt.writeUInt16LE(date[0], 1)
    dt[3] = date[1]
    dt[4] = date[2]
  }
  put(2, date === null ? null : dt)
  const dbl = Buffer.alloc(8)
  dbl.writeDoubleLE(d ?? 0)
  put(3, d === null ? null : dbl)
  return encodePacket(5, Buffer.concat([Buffer.from([0]), bitmap, ...values]))
}

function rewrite(m: MysqlRowMasker, packet: Buffer): Buffer | null {
  const out: Buffer[] = []
  const reserve = (size: number): Buffer => {
    const b = Buffer.alloc(size)
    out.push(b)
    return b
  }
  return m.rewrite(packet, 0, packet.length, {reserve}) === null ? null : Buffer.concat(out)
}

const masker = (masks: (FieldMask | null)[], types: number[], binary: boolean): MysqlRowMasker =>
  new MysqlRowMasker(masks, types, binary, KEY, new Set())

describe('column definitions', () => {
  it('reads where a column comes from and its type', () => {
    expect(readColumnDef(columnDef('app', 'users', 'e', 'email', VARCHAR))).toEqual({
      schema: 'app',
      orgTable: 'users',
      name: 'e',
      orgName: 'email',
      charset: 45,
      type: VARCHAR,
    })
  })

  it('throws WireError on a truncated definition, at every length', () => {
    const def = columnDef('app', 'users', 'e', 'email', VARCHAR)
    for (let n = 0; n < def.length - 5; n++)
      expect(() => readColumnDef(def.subarray(0, n))).toThrow(WireError)
  })
})

describe('text rows', () => {
  it('rewrites masked values in place, keeps the rest and the sequence id', () => {
    const m = masker([null, REDACT_TEXT, REDACT_OTHER, null], [LONG, VARCHAR, DATE, VARCHAR], false)
    const out = rewrite(m, textRow(['1', 'ann@example.com', '1980-01-02', null]))
    expect(out).not.toBeNull()
    expect(out?.[3]).toBe(3)
    expect(payloadOf(out!, 0, out!.length)).toEqual(
      Buffer.concat([
        lenencString(Buffer.from('1')),
        lenencString(Buffer.from('[REDACTED]')),
        Buffer.from([0xfb, 0xfb]),
      ]),
    )
    expect(m.fired).toEqual(new Set(['pii']))
  })

  it('leaves a row alone when nothing in it is masked (original bytes forwarded)', () => {
    const m = masker([null, DETECT], [LONG, VARCHAR], false)
    expect(rewrite(m, textRow(['1', 'nothing to see']))).toBeNull()
    expect(rewrite(m, textRow(['1', null]))).toBeNull()
    const out = rewrite(m, textRow(['2', 'mail bob@example.org now']))
    expect(payloadOf(out!, 0, out!.length).toString('latin1')).toContain('mail [REDACTED] now')
  })

  it('handles values longer than 250 bytes (2-byte length prefix)', () => {
    const long = 'x'.repeat(300)
    const m = masker([REDACT_TEXT, null], [VARCHAR, VARCHAR], false)
    const out = rewrite(m, textRow([long, long]))
    expect(payloadOf(out!, 0, out!.length)).toEqual(
      Buffer.concat([lenencString(Buffer.from('[REDACTED]')), lenencString(Buffer.from(long))]),
    )
  })

  it('rewrites a row of several 16 MB parts, and says how many parts it gained or lost', () => {
    const big = 'y'.repeat(0xffffff + 100)
    const m = masker([REDACT_TEXT, null], [VARCHAR, VARCHAR], false)
    const packet = textRow(['ann@example.com', big])
    const out = rewrite(m, packet)!
    expect(out[3]).toBe(3)
    expect(out[0xffffff + 4 + 3]).toBe(4)
    const payload = payloadOf(out, 0, out.length)
    expect(payload.subarray(0, 11).toString('latin1')).toBe('\x0a[REDACTED]')
    expect(payload.length).toBe(11 + 9 + big.length)
    // Masking the big value leaves one part: the row loses one, and its ids start where they did (plus a
    // shift the caller passes for rows before it that changed their number of parts).
    const shrinks = masker([null, REDACT_TEXT], [VARCHAR, VARCHAR], false)
    const parts: Buffer[] = []
    const delta = shrinks.rewrite(
      packet,
      0,
      packet.length,
      {reserve: (n) => (parts.push(Buffer.alloc(n)), parts.at(-1)!)},
      2,
    )
    expect(delta).toBe(-1)
    const one = Buffer.concat(parts)
    expect(one[3]).toBe(5)
    expect(payloadOf(one, 0, one.length).toString('latin1')).toBe('\x0fann@example.com\x0a[REDACTED]')
    expect(one.length).toBe(4 + 16 + 11)
  })

  it('throws WireError on malformed rows', () => {
    const m = masker([REDACT_TEXT, null], [VARCHAR, VARCHAR], false)
    const good = textRow(['a', 'b'])
    expect(() => rewrite(m, textRow(['a']))).toThrow(WireError)
    expect(() => rewrite(m, textRow(['a', 'b', 'c']))).toThrow(WireError)
    expect(() => rewrite(m, encodePacket(1, Buffer.from([0x05, 0x61])))).toThrow(WireError)
    expect(() => rewrite(m, encodePacket(1, Buffer.from([0xff, 0x61])))).toThrow(WireError)
    for (let n = 4; n < good.length; n++) {
      const cut = Buffer.from(good.subarray(0, n))
      cut.writeUIntLE(n - 4, 0, 3)
      expect(() => rewrite(m, cut)).toThrow(WireError)
    }
  })
})

describe('binary rows', () => {
  const types = [LONG, VARCHAR, DATE, DOUBLE]

  it('writes a masked string as the style string and any other masked type as NULL in the bitmap', () => {
    const m = masker([null, REDACT_TEXT, REDACT_OTHER, REDACT_OTHER], types, true)
    const out = rewrite(m, binaryRow(7, 'ann@example.com', [1980, 1, 2], 1.5))
    const expected = binaryRow(7, '[REDACTED]', null, null)
    expect(out).toEqual(expected)
  })

  it('keeps NULLs and unmasked values, and forwards a row with nothing to mask', () => {
    const m = masker([null, REDACT_TEXT, null, null], types, true)
    expect(rewrite(m, binaryRow(1, null, [2000, 5, 6], 2.5))).toBeNull()
    const out = rewrite(m, binaryRow(null, 'x', null, 3.25))
    expect(out).toEqual(binaryRow(null, '[REDACTED]', null, 3.25))
  })

  it('finds the NULL bit of columns past the first bitmap byte', () => {
    const n = 10
    const m = masker(
      [...new Array<FieldMask | null>(n - 1).fill(null), REDACT_OTHER],
      new Array<number>(n).fill(LONG),
      true,
    )
    const bitmap = Buffer.alloc((n + 9) >> 3)
    const values = Array.from({length: n}, (_, i) => {
      const b = Buffer.alloc(4)
      b.writeInt32LE(i)
      return b
    })
    const out = rewrite(m, encodePacket(1, Buffer.concat([Buffer.from([0]), bitmap, ...values])))
    const payload = payloadOf(out!, 0, out!.length)
    // Column 9 is bit 11: byte 1 of the bitmap, bit 3.
    expect(payload[2]).toBe(1 << 3)
    expect(payload.length).toBe(1 + bitmap.length + 9 * 4)
  })

  it('throws WireError on malformed rows', () => {
    const m = masker([null, REDACT_TEXT, null, null], types, true)
    const good = binaryRow(1, 'abc', [2000, 1, 1], 1)
    for (let n = 4; n < good.length; n++) {
      const cut = Buffer.from(good.subarray(0, n))
      cut.writeUIntLE(n - 4, 0, 3)
      expect(() => rewrite(m, cut)).toThrow(WireError)
    }
    // A byte after the last value.
    const trailing = encodePacket(5, Buffer.concat([payloadOf(good, 0, good.length), Buffer.from([1])]))
    expect(() => rewrite(m, trailing)).toThrow(WireError)
    const unknownType = masker([REDACT_TEXT], [0x42], true)
    expect(() => rewrite(unknownType, encodePacket(1, Buffer.from([0, 0, 1])))).toThrow(WireError)
    const badHeader = Buffer.from(good)
    badHeader[4] = 0xfe
    expect(() => rewrite(m, badHeader)).toThrow(WireError)
  })
})
