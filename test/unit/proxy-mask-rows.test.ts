/** The proxy's masking parsers and rewriters, from bytes: RowDescription, DataRow, errors, notifications, COPY rows. */
import {describe, expect, it} from 'vitest'

import type {FieldMask} from '../../src/masking/index.js'
import {maskCopyData, type CopyFormat, type CopyMasker} from '../../src/proxy/postgres/mask-copy.js'
import {scrubError, scrubNotification} from '../../src/proxy/postgres/mask-errors.js'
import {readRowDescription, RowMasker, valueType} from '../../src/proxy/postgres/mask-rows.js'
import {RowKernel} from '../../src/proxy/postgres/row-kernel.js'
import {ProducedOut} from '../../src/proxy/produced-out.js'
import {errorResponse, readErrorFields, typed, WireError} from '../../src/proxy/postgres/wire.js'

const i16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

function rowDescription(
  fields: {name: string; table: number; att: number; type: number; format: number}[],
): Buffer {
  return typed(
    0x54,
    Buffer.concat([
      i16(fields.length),
      ...fields.flatMap((f) => [
        Buffer.from(`${f.name}\0`),
        i32(f.table),
        i16(f.att),
        i32(f.type),
        i16(-1),
        i32(-1),
        i16(f.format),
      ]),
    ]),
  )
}

function dataRow(values: (string | null)[]): Buffer {
  return typed(
    0x44,
    Buffer.concat([
      i16(values.length),
      ...values.flatMap((v) => (v === null ? [i32(-1)] : [i32(Buffer.byteLength(v)), Buffer.from(v)])),
    ]),
  )
}

function fieldsOf(row: Buffer): (string | null)[] {
  const out: (string | null)[] = []
  let p = 7
  for (let n = row.readInt16BE(5); n > 0; n--) {
    const len = row.readInt32BE(p)
    p += 4
    out.push(len < 0 ? null : row.toString('utf8', p, p + len))
    if (len > 0) p += len
  }
  expect(row.readInt32BE(1)).toBe(row.length - 1)
  return out
}

const EMAIL: FieldMask = {kind: 'column', rule: 'pii', style: 'partial', type: 'text'}
const REDACT_INT: FieldMask = {kind: 'column', rule: 'pii', style: 'redact', type: 'other'}
const KEY = new Uint8Array(32)

/** Rewrites into a fresh buffer; undefined when the row is left alone. */
function rewrite(m: RowMasker, buf: Buffer, start: number, end: number): Buffer | undefined {
  // Something produced before, so the row lands at an offset of the slab, as in the proxy.
  const sent: Buffer[] = []
  const out = new ProducedOut({flush: () => undefined, send: (b) => sent.push(Buffer.from(b))})
  out.append(Buffer.from('xyz'))
  const done = m.rewrite(buf, start, end, out)
  out.flush()
  const all = Buffer.concat(sent)
  expect(all.subarray(0, 3).toString()).toBe('xyz')
  if (!done) expect(all.length).toBe(3)
  return done ? all.subarray(3) : undefined
}

describe('RowDescription', () => {
  it('reads names, table OIDs, column numbers, types and formats', () => {
    const frame = rowDescription([
      {name: 'id', table: 16384, att: 1, type: 23, format: 1},
      {name: 'e', table: 0, att: 0, type: 25, format: 0},
    ])
    const padded = Buffer.concat([Buffer.from('xx'), frame, Buffer.from('yy')])
    expect(readRowDescription(padded, 2, 2 + frame.length)).toEqual([
      {name: 'id', tableOid: 16384, attnum: 1, typeOid: 23, format: 1},
      {name: 'e', tableOid: 0, attnum: 0, typeOid: 25, format: 0},
    ])
  })

  it('rejects truncated and unterminated descriptions', () => {
    const frame = rowDescription([{name: 'id', table: 1, att: 1, type: 23, format: 0}])
    expect(() => readRowDescription(frame, 0, frame.length - 3)).toThrow(WireError)
    const noNul = typed(0x54, Buffer.concat([i16(1), Buffer.from('abc')]))
    expect(() => readRowDescription(noNul, 0, noNul.length)).toThrow(WireError)
    const negative = typed(0x54, i16(-1))
    expect(() => readRowDescription(negative, 0, negative.length)).toThrow(WireError)
  })

  it('writes masked values as text only for text and JSON types', () => {
    expect(valueType({typeOid: 25, format: 1}, 'column')).toBe('text')
    expect(valueType({typeOid: 3802, format: 1}, 'column')).toBe('jsonb-binary')
    expect(valueType({typeOid: 3802, format: 0}, 'column')).toBe('json')
    expect(valueType({typeOid: 1009, format: 0}, 'column')).toBe('other') // text[]
    expect(valueType({typeOid: 1009, format: 0}, 'detect')).toBe('text')
    expect(valueType({typeOid: 1009, format: 1}, 'detect')).toBe('other')
  })
})

describe('DataRow rewriting', () => {
  it('keeps rows whole and in order across slab boundaries, rows larger than a slab included', () => {
    const m = new RowMasker([null, EMAIL, null], KEY, new Set())
    const sent: Buffer[] = []
    const out = new ProducedOut({flush: () => undefined, send: (b) => sent.push(Buffer.from(b))})
    const expected: string[] = []
    for (let i = 0; i < 3000; i++) {
      const big = i % 997 === 0 ? 'x'.repeat(70_000) : `row ${i}`
      const row = dataRow([String(i), `user${i}@example.com`, big])
      expect(m.rewrite(row, 0, row.length, out)).toBe(true)
      expected.push(`${i}|u***@example.com|${big}`)
      if (i % 7 === 0) out.flush()
    }
    out.flush()
    const all = Buffer.concat(sent)
    const got: string[] = []
    for (let p = 0; p < all.length;) {
      const len = all.readInt32BE(p + 1) + 1
      got.push(fieldsOf(all.subarray(p, p + len)).join('|'))
      p += len
    }
    expect(got).toEqual(expected)
  })

  it('sends the masked rows of each network read in one write, in order', () => {
    const m = new RowMasker([null, EMAIL], KEY, new Set())
    const sent: Buffer[] = []
    const out = new ProducedOut({flush: () => undefined, send: (b) => sent.push(Buffer.from(b))})
    const expected: string[] = []
    const reads = 12
    for (let r = 0; r < reads; r++) {
      // A read of about 60 KB of rows, as the server's socket delivers them.
      const rows: Buffer[] = []
      for (let i = 0; rows.length * 40 < 60_000; i++) {
        rows.push(dataRow([`${r}.${i}`, `someone${i}@example.com`]))
        expected.push(`${r}.${i}|s***@example.com`)
      }
      const chunk = Buffer.concat(rows)
      out.prepare(chunk.length)
      for (let p = 0; p < chunk.length;) {
        const end = p + chunk.readInt32BE(p + 1) + 1
        expect(m.rewrite(chunk, p, end, out)).toBe(true)
        p = end
      }
      out.flush()
    }
    expect(sent).toHaveLength(reads)
    const got: string[] = []
    for (const all of sent)
      for (let p = 0; p < all.length;) {
        const len = all.readInt32BE(p + 1) + 1
        got.push(fieldsOf(all.subarray(p, p + len)).join('|'))
        p += len
      }
    expect(got).toEqual(expected)
  })

  it('leaves a row alone when nothing masked changes, rewrites only masked fields otherwise', () => {
    const m = new RowMasker([null, EMAIL, REDACT_INT], KEY, new Set())
    const clean = dataRow(['1', null, null])
    expect(rewrite(m, clean, 0, clean.length)).toBeUndefined()
    const row = dataRow(['1', 'alice.smith@example.com', '42'])
    const chunk = Buffer.concat([Buffer.from('T'), row])
    const out = rewrite(m, chunk, 1, chunk.length)
    expect(out && fieldsOf(out)).toEqual(['1', 'a***@example.com', null])
  })

  it("masks a computed value's NULL as a value, on the kernel's path and the general one", () => {
    // nulls: whether the value is NULL could show what it was computed from.
    const computed: FieldMask = {...EMAIL, nulls: true}
    const redacted: FieldMask = {...computed, style: 'redact'}
    for (const kernel of [undefined, () => RowKernel.create()]) {
      const m = new RowMasker(
        [null, computed, redacted, {...REDACT_INT, nulls: true}],
        KEY,
        new Set(),
        kernel,
      )
      const row = dataRow(['1', null, null, null])
      const out = rewrite(m, row, 0, row.length)
      expect(out && fieldsOf(out)).toEqual(['1', '***', '[REDACTED]', null])
      // A stored column passed on whole keeps its NULL (IS NULL looks it up anyway).
      const whole = new RowMasker([null, EMAIL], KEY, new Set(), kernel)
      const plain = dataRow(['2', null])
      expect(rewrite(whole, plain, 0, plain.length)).toBeUndefined()
    }
  })

  it('copies nothing until a field changes, and then the row so far, unchanged masked fields included', () => {
    const detect: FieldMask = {
      kind: 'detect',
      rules: [{rule: 'd', classifiers: ['email'], style: 'redact'}],
      type: 'text',
    }
    const m = new RowMasker([detect, null, EMAIL, detect], KEY, new Set())
    const first = dataRow(['no address here', 'x', 'bob.jones@corp-mail.test', 'nothing'])
    expect(fieldsOf(rewrite(m, first, 0, first.length)!)).toEqual([
      'no address here',
      'x',
      'b***@corp-mail.test',
      'nothing',
    ])
    const second = dataRow(['mail carol.white@mailbox.test', 'y', null, 'still nothing'])
    expect(fieldsOf(rewrite(m, second, 0, second.length)!)).toEqual([
      'mail [REDACTED]',
      'y',
      null,
      'still nothing',
    ])
    const clean = dataRow(['plain', 'z', null, 'plain'])
    expect(rewrite(m, clean, 0, clean.length)).toBeUndefined()
  })

  it('rejects rows that do not match their description or overrun their length', () => {
    const m = new RowMasker([null, EMAIL], KEY, new Set())
    const three = dataRow(['1', '2', '3'])
    expect(() => rewrite(m, three, 0, three.length)).toThrow(WireError)
    const row = dataRow(['1', 'alice@example.com'])
    row.writeInt32BE(1000, 7 + 4 + 1)
    expect(() => rewrite(m, row, 0, row.length)).toThrow(WireError)
    const short = dataRow(['1', 'x'])
    expect(() => rewrite(m, short, 0, short.length - 1)).toThrow(WireError)
    const trailing = Buffer.concat([dataRow(['1', 'x']), Buffer.from('zz')])
    trailing.writeInt32BE(trailing.length - 1, 1)
    expect(() => rewrite(m, trailing, 0, trailing.length)).toThrow(WireError)
  })
})

describe('errors, notices and notifications', () => {
  it('redacts quoted values and detected values, drops detail, keeps the code', () => {
    const frame = errorResponse({
      severity: 'ERROR',
      code: '22P02',
      message: 'invalid input syntax for type integer: "alice.smith@example.com"',
      detail: 'Key (email)=(bob@corp.test) already exists.',
    })
    const fields = readErrorFields(scrubError(frame))
    expect(fields.get(0x43)).toBe('22P02')
    expect(fields.get(0x4d)).toBe('invalid input syntax for type integer: "[REDACTED]"')
    expect(fields.has(0x44)).toBe(false)
  })

  it('replaces a message raised by user code whole', () => {
    const frame = errorResponse({severity: 'ERROR', code: 'P0001', message: '219-09-9999'})
    expect(readErrorFields(scrubError(frame)).get(0x4d)).not.toContain('9999')
  })

  it('rejects malformed error frames', () => {
    expect(() => scrubError(typed(0x45, Buffer.from('Mabc')))).toThrow(WireError)
  })

  it('redacts a notification payload and keeps its channel', () => {
    const frame = typed(0x41, Buffer.concat([i32(77), Buffer.from('chan\0alice@example.com\0')]))
    const out = scrubNotification(frame)
    expect(out.readInt32BE(5)).toBe(77)
    expect(out.toString('utf8', 9)).toBe('chan\0[REDACTED]\0')
    expect(() => scrubNotification(typed(0x41, Buffer.from([0, 0])))).toThrow(WireError)
  })
})

describe('COPY rows', () => {
  const TEXT: CopyFormat = {
    csv: false,
    delimiter: '\t',
    nullString: '\\N',
    quote: '"',
    escape: '"',
    header: false,
  }
  const CSV: CopyFormat = {...TEXT, csv: true, delimiter: ',', nullString: ''}
  const copy = (csv: boolean | CopyFormat, masks: (FieldMask | null)[]): CopyMasker => ({
    format: typeof csv === 'boolean' ? (csv ? CSV : TEXT) : csv,
    masks,
    key: KEY,
    fired: new Set(),
    refused: false,
    rows: 0,
  })
  const data = (s: string): Buffer => typed(0x64, Buffer.from(s))
  const text = (b: Buffer): string => b.toString('utf8', 5)

  it('masks text-format columns and keeps NULLs and other columns', () => {
    const c = copy(false, [null, EMAIL])
    const run = (s: string): string => {
      const frame = data(s)
      return text(maskCopyData(c, frame, 0, frame.length))
    }
    expect(run('1\talice.smith@example.com\n')).toBe('1\ta***@example.com\n')
    expect(run('2\t\\N\n')).toBe('2\t\\N\n')
    // A computed value's NULL is masked as a value, in text and CSV.
    const computed = copy(false, [null, {...EMAIL, nulls: true}])
    const frame = data('2\t\\N\n')
    expect(text(maskCopyData(computed, frame, 0, frame.length))).toBe('2\t***\n')
    const csv = copy(true, [{...EMAIL, nulls: true}, null])
    const line = data(',x\n')
    expect(text(maskCopyData(csv, line, 0, line.length))).toBe('"***",x\n')
  })

  it('masks CSV columns with quoted commas and quotes', () => {
    const c = copy(true, [null, EMAIL, null])
    const line = '"a, ""b""",alice.smith@example.com,x\n'
    expect(text(maskCopyData(c, data(line), 0, 5 + line.length))).toBe('"a, ""b""","a***@example.com",x\n')
  })

  it('masks text format with a custom delimiter and null string, escapes decoded and re-applied', () => {
    const c = copy({...TEXT, delimiter: '|', nullString: 'NIL'}, [null, EMAIL, EMAIL])
    const run = (s: string): string => {
      const frame = data(s)
      return text(maskCopyData(c, frame, 0, frame.length))
    }
    expect(run('a\\|b|alice.smith@example.com|NIL\n')).toBe('a\\|b|a***@example.com|NIL\n')
    // An escaped delimiter inside a masked value: the whole value is masked, not a piece of it.
    expect(run('1|x\\|alice.smith@example.com|\\N\n')).toBe('1|x***|***\n')
  })

  it('masks CSV with another delimiter, quote and escape, and passes the header row', () => {
    const f: CopyFormat = {...CSV, delimiter: ';', quote: "'", escape: '\\', nullString: 'NULL', header: true}
    const c = copy(f, [null, EMAIL])
    const run = (s: string): string => {
      const frame = data(s)
      return text(maskCopyData(c, frame, 0, frame.length))
    }
    expect(run('id;email\n')).toBe('id;email\n')
    expect(run("'a;\\'b';'bob.jones@corp-mail.test'\n")).toBe("'a;\\'b';'b***@corp-mail.test'\n")
    expect(run('2;NULL\n')).toBe('2;NULL\n')
    expect(run("3;'NULL'\n")).toBe("3;'***'\n")
  })

  it('survives malformed rows: never a piece of a masked value', () => {
    const csv = copy(true, [null, EMAIL])
    const txt = copy(false, [null, EMAIL])
    const run = (c: CopyMasker, s: string): string => {
      const frame = data(s)
      return text(maskCopyData(c, frame, 0, frame.length))
    }
    // An unterminated quote swallows the delimiter: one field, so the masked column is NULL.
    expect(run(csv, '"1,alice.smith@example.com\n')).toBe(',\n')
    expect(run(txt, '1\talice.smith@example.com\\')).toBe('1\ta***')
    expect(run(txt, '')).toBe('\t\\N')
    expect(run(csv, '1,"alice.smith@example.com"x"\n')).not.toContain('alice.smith')
  })

  it('redacts a row that does not split into its columns', () => {
    const c = copy(false, [null, EMAIL])
    const line = 'only-one-field-alice.smith@example.com\n'
    expect(text(maskCopyData(c, data(line), 0, 5 + line.length))).toBe('\t\\N\n')
  })
})
