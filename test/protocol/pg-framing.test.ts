import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {FrameError, Framer} from '../../src/proxy/postgres/framing.js'

function msg(type: string, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  const out = Buffer.alloc(5 + b.length)
  out.write(type, 0, 'latin1')
  out.writeInt32BE(4 + b.length, 1)
  b.copy(out, 5)
  return out
}

function startupPacket(params: Record<string, string>): Buffer {
  const parts = [Buffer.from([0, 3, 0, 0])]
  for (const [k, v] of Object.entries(params)) parts.push(Buffer.from(`${k}\0${v}\0`))
  parts.push(Buffer.from([0]))
  const body = Buffer.concat(parts)
  const len = Buffer.alloc(4)
  len.writeInt32BE(body.length + 4)
  return Buffer.concat([len, body])
}

/** A client's pipeline: Parse/Bind/Describe/Execute/Sync plus a simple Query. */
const CLIENT_FIXTURE = [
  msg('P', Buffer.from('s1\0select $1::int\0\0\0')),
  msg('B', Buffer.from('\0s1\0\0\0\0\x01\0\0\0\x0142\0\0')),
  msg('D', Buffer.from('P\0')),
  msg('E', Buffer.from('\0\0\0\0\0')),
  msg('S', Buffer.alloc(0)),
  msg('Q', 'select 1;\0'),
  msg('X', Buffer.alloc(0)),
]
/** A server's answer with rows, including a large DataRow. */
const SERVER_FIXTURE = [
  msg('1', Buffer.alloc(0)),
  msg('2', Buffer.alloc(0)),
  msg('T', Buffer.from('\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0', 'latin1')),
  msg('D', Buffer.from('\0\x01\0\0\0\x0242')),
  msg('D', Buffer.concat([Buffer.from([0, 1, 0, 1, 0, 0]), Buffer.alloc(65_536, 0x61)])),
  msg('C', 'SELECT 2\0'),
  msg('Z', 'I'),
]

function collect(framer: (h: (t: number, f: Buffer) => void) => Framer, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = []
  const f = framer((_t, frame) => out.push(Buffer.from(frame)))
  for (const c of chunks) f.push(c)
  return out
}

describe('Framer', () => {
  for (const [name, fixture] of [
    ['client messages', CLIENT_FIXTURE],
    ['server messages', SERVER_FIXTURE],
  ] as const) {
    it(`frames ${name} split at every offset`, () => {
      const all = Buffer.concat(fixture)
      const step = all.length > 5000 ? 31 : 1
      for (let i = 0; i <= all.length; i += step) {
        const got = collect(
          (h) => new Framer({maxMessageBytes: 1 << 20}, h),
          [all.subarray(0, i), all.subarray(i)],
        )
        expect(got.length).toBe(fixture.length)
        got.forEach((g, n) => expect(g.equals(fixture[n]!)).toBe(true))
      }
    })
  }

  it('frames byte by byte', () => {
    const all = Buffer.concat(CLIENT_FIXTURE)
    const chunks = [...all].map((b) => Buffer.from([b]))
    expect(collect((h) => new Framer({maxMessageBytes: 1 << 20}, h), chunks)).toEqual(CLIENT_FIXTURE)
  })

  it('goes on after the offset a range handler took messages up to', () => {
    const all = Buffer.concat(CLIENT_FIXTURE)
    const ends: number[] = []
    for (let p = 0, m = 0; m < CLIENT_FIXTURE.length; m++) ends.push((p += CLIENT_FIXTURE[m]!.length))
    const seen: number[] = []
    // The second message's handler takes the third with it: the third is never handed out.
    new Framer(
      {maxMessageBytes: 1 << 20},
      {
        range: (_t, _b, start, end) => {
          seen.push(start)
          return end === ends[1] ? ends[2] : true
        },
      },
    ).push(all)
    expect(seen).toEqual([0, ends[0], ...ends.slice(2, -1)])
    // An offset outside the chunk, or before the message's end, is a bug: it throws.
    const bad = new Framer({maxMessageBytes: 1 << 20}, {range: () => all.length + 1})
    expect(() => bad.push(all)).toThrow(/outside/)
  })

  it('hands out whole messages inside a chunk as zero-copy views of it', () => {
    const all = Buffer.concat(CLIENT_FIXTURE)
    const views: Buffer[] = []
    new Framer({maxMessageBytes: 1 << 20}, (_t, f) => {
      views.push(f)
    }).push(all)
    expect(views.every((v) => v.buffer === all.buffer)).toBe(true)
  })

  it('reads the startup packet without a type byte, then typed messages', () => {
    const startup = startupPacket({user: 'alice', database: 'shop'})
    const all = Buffer.concat([startup, msg('Q', 'select 1\0')])
    for (let i = 0; i <= all.length; i++) {
      const types: number[] = []
      const f: Framer = new Framer({maxMessageBytes: 1024, startup: true}, (t) => {
        types.push(t)
        if (t === 0) f.endStartup()
      })
      f.push(all.subarray(0, i))
      f.push(all.subarray(i))
      expect(types).toEqual([0, 0x51])
    }
  })

  it('stops after a message when the handler returns false and resumes in order', () => {
    const all = Buffer.concat(CLIENT_FIXTURE)
    const seen: number[] = []
    const f = new Framer({maxMessageBytes: 1 << 20}, (t) => {
      seen.push(t)
      return t !== 0x42
    })
    f.push(all.subarray(0, 40))
    f.push(all.subarray(40))
    expect(f.isStopped).toBe(true)
    expect(seen).toEqual([0x50, 0x42])
    f.resume()
    expect(seen).toEqual([0x50, 0x42, 0x44, 0x45, 0x53, 0x51, 0x58])
  })

  it('refuses a message over the size limit as soon as its header arrives', () => {
    const f = new Framer({maxMessageBytes: 1000}, () => undefined)
    const header = Buffer.from([0x51, 0, 0, 0x10, 0])
    expect(() => f.push(header)).toThrow(FrameError)
    try {
      new Framer({maxMessageBytes: 1000}, () => undefined).push(header)
    } catch (err) {
      expect((err as FrameError).sqlState).toBe('54000')
    }
  })

  it('refuses negative and too-small lengths, and bad startup lengths', () => {
    expect(() =>
      new Framer({maxMessageBytes: 1000}, () => undefined).push(Buffer.from([0x51, 0, 0, 0, 3])),
    ).toThrow(/invalid message length 3/)
    expect(() =>
      new Framer({maxMessageBytes: 1000}, () => undefined).push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff])),
    ).toThrow(FrameError)
    expect(() =>
      new Framer({maxMessageBytes: 1000, startup: true}, () => undefined).push(Buffer.from([0, 0, 0, 4])),
    ).toThrow(/startup packet length/)
    expect(() =>
      new Framer({maxMessageBytes: 1000, startup: true}, () => undefined).push(Buffer.from([0, 1, 0, 0])),
    ).toThrow(/startup packet length/)
  })

  it('never throws anything but FrameError, and never loses or invents bytes, on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 300}), fc.array(fc.nat(300), {maxLength: 5}), (bytes, cuts) => {
        const all = Buffer.from(bytes)
        const offsets = [...new Set(cuts.map((c) => Math.min(c, all.length)))].sort((a, b) => a - b)
        let total = 0
        const f = new Framer({maxMessageBytes: 200}, (_t, frame) => {
          total += frame.length
          expect(frame.readInt32BE(1) + 1).toBe(frame.length)
        })
        let prev = 0
        try {
          for (const o of [...offsets, all.length]) {
            f.push(all.subarray(prev, o))
            prev = o
          }
          expect(total + f.bufferedBytes).toBe(all.length)
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError)
        }
      }),
      {numRuns: 2000},
    )
  })
})
