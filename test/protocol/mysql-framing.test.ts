import {describe, expect, it} from 'vitest'

import {
  MAX_PART,
  PacketError,
  PacketFramer,
  encodePacket,
  nextSeq,
  payloadOf,
} from '../../src/proxy/mysql/framing.js'
import {statusAt, statusOf, withoutInsertId} from '../../src/proxy/mysql/wire.js'

function pkt(seq: number, payload: Buffer | string): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload
  const head = Buffer.alloc(4)
  head.writeUIntLE(b.length, 0, 3)
  head[3] = seq
  return Buffer.concat([head, b])
}

/** A client's session: COM_QUERY, COM_STMT_PREPARE, an empty packet, COM_PING, COM_QUIT. */
const CLIENT_FIXTURE = [
  pkt(0, '\x03select 1'),
  pkt(0, '\x16select * from t where id = ?'),
  pkt(2, ''),
  pkt(0, '\x0e'),
  pkt(0, '\x01'),
]
/** A server's result set: column count, a column definition, EOF, two rows, EOF. */
const SERVER_FIXTURE = [
  pkt(1, '\x01'),
  pkt(2, '\x03def\x04test\x01t\x01t\x01a\x01a\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00'),
  pkt(3, '\xfe\x00\x00\x02\x00'),
  pkt(4, '\x0242'),
  pkt(5, Buffer.alloc(300, 0x61)),
  pkt(6, '\xfe\x00\x00\x02\x00'),
]

interface Seen {
  seq: number
  payload: string
  raw: string
}

function frameAll(chunks: readonly Buffer[], max = 1 << 20): Seen[] {
  const seen: Seen[] = []
  const f = new PacketFramer(max, (seq, buf, start, end) => {
    seen.push({
      seq,
      payload: payloadOf(buf, start, end).toString('hex'),
      raw: buf.subarray(start, end).toString('hex'),
    })
  })
  for (const c of chunks) f.push(c)
  expect(f.bufferedBytes).toBe(0)
  return seen
}

function expected(packets: readonly Buffer[]): Seen[] {
  return packets.map((p) => ({
    seq: p[3] as number,
    payload: p.subarray(4).toString('hex'),
    raw: p.toString('hex'),
  }))
}

describe('MySQL packet framing', () => {
  for (const [name, fixture] of [
    ['client', CLIENT_FIXTURE],
    ['server', SERVER_FIXTURE],
  ] as const) {
    it(`frames the ${name} fixture split at every offset`, () => {
      const bytes = Buffer.concat(fixture)
      for (let i = 0; i <= bytes.length; i++) {
        expect(frameAll([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(expected(fixture))
      }
    })

    it(`frames the ${name} fixture one byte at a time`, () => {
      const bytes = Buffer.concat(fixture)
      const chunks = [...bytes].map((b) => Buffer.from([b]))
      expect(frameAll(chunks)).toEqual(expected(fixture))
    })
  }

  it('joins a payload of more than 16 MB sent in parts, split at the part boundaries and inside headers', () => {
    const payload = Buffer.alloc(MAX_PART + 10)
    for (let i = 0; i < payload.length; i += 4093) payload[i] = i & 0xff
    const wire = Buffer.concat([encodePacket(0, payload), pkt(0, '\x0e')])
    expect(wire.readUIntLE(0, 3)).toBe(MAX_PART)
    expect(wire[MAX_PART + 4 + 3]).toBe(1)
    const cuts = [
      1,
      3,
      4,
      5,
      MAX_PART,
      MAX_PART + 3,
      MAX_PART + 4,
      MAX_PART + 6,
      MAX_PART + 8,
      MAX_PART + 9,
      wire.length - 2,
    ]
    for (const cut of cuts) {
      const seen: {seq: number; payload: Buffer}[] = []
      const f = new PacketFramer(64 << 20, (seq, buf, start, end) => {
        seen.push({seq, payload: Buffer.from(payloadOf(buf, start, end))})
      })
      f.push(wire.subarray(0, cut))
      f.push(wire.subarray(cut))
      expect(seen.length).toBe(2)
      expect(seen[0]?.seq).toBe(1)
      expect(seen[0]?.payload.equals(payload)).toBe(true)
      expect(seen[1]?.payload.toString('latin1')).toBe('\x0e')
    }
  })

  it('encodes a payload of exactly 0xFFFFFF bytes with an empty last part', () => {
    const wire = encodePacket(7, Buffer.alloc(MAX_PART, 1))
    expect(wire.length).toBe(MAX_PART + 8)
    expect(wire.readUIntLE(MAX_PART + 4, 3)).toBe(0)
    expect(wire[MAX_PART + 7]).toBe(8)
    expect(nextSeq(7, MAX_PART)).toBe(9)
    expect(nextSeq(255, 3)).toBe(0)
  })

  it('refuses a packet over the size limit as soon as its header arrives', () => {
    const f = new PacketFramer(100, () => undefined)
    const head = pkt(0, Buffer.alloc(101)).subarray(0, 4)
    expect(() => f.push(head)).toThrow(PacketError)
    try {
      new PacketFramer(100, () => undefined).push(head)
    } catch (err) {
      expect((err as PacketError).tooLarge).toBe(true)
      expect((err as Error).message).toMatch(/exceeds the limit of 100 bytes/)
    }
  })

  it('counts every part against the limit', () => {
    const f = new PacketFramer(MAX_PART + 5, () => undefined)
    const wire = encodePacket(0, Buffer.alloc(MAX_PART + 6))
    expect(() => f.push(wire)).toThrow(/exceeds the limit/)
  })

  it('refuses parts of one packet out of sequence', () => {
    const wire = encodePacket(0, Buffer.alloc(MAX_PART + 1))
    wire[MAX_PART + 4 + 3] = 5
    expect(() => new PacketFramer(64 << 20, () => undefined).push(wire)).toThrow(/sequence id 5 after 0/)
  })

  it('hands back unread bytes of a split packet', () => {
    const f = new PacketFramer(1000, () => undefined)
    f.push(pkt(0, 'abcdef').subarray(0, 6))
    expect(Buffer.concat(f.takeRemaining()).length).toBe(6)
    expect(f.bufferedBytes).toBe(0)
  })
})

describe('statusAt', () => {
  it('reads the status of EOF and OK packets in place, as statusOf reads their payloads', () => {
    const cases = [
      pkt(5, Buffer.from([0xfe, 0x00, 0x00, 0x0a, 0x00])), // EOF: more results, autocommit
      pkt(5, Buffer.from([0xfe, 0x00, 0x00, 0x42, 0x00])), // EOF: cursor exists
      pkt(5, Buffer.from([0xfe, 0x00, 0x00])), // EOF too short for a status
      pkt(5, Buffer.from([0xfe])),
      pkt(5, Buffer.from([0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00])), // OK: more results
      pkt(5, Buffer.from([0x00, 0xfc])), // OK cut inside a length: no status
      pkt(5, ''),
    ]
    const statuses = cases.map((p) => {
      // Bytes of another packet follow, as in a chunk: nothing past the packet may be read.
      const buf = Buffer.concat([Buffer.from([0xfe, 0xff, 0xff]), p, Buffer.from([0xfe, 0xff, 0xff, 0xff])])
      const at = statusAt(buf, 3, 3 + p.length)
      expect(at).toBe(statusOf(payloadOf(buf, 3, 3 + p.length)))
      return at
    })
    expect(statuses).toEqual([0x0a, 0x42, 0, 0, 0x08, 0, 0])
  })
})

describe('withoutInsertId', () => {
  // OK: header, affected rows, last insert id, status, warnings, info.
  const ok = (header: number, affected: number[], id: number[]): Buffer =>
    Buffer.from([header, ...affected, ...id, 0x22, 0x00, 0x01, 0x00, ...Buffer.from('Rows matched: 1')])

  it('sets the last insert id to 0 and keeps every other field', () => {
    for (const id of [[0x71], [0xfc, 0x10, 0x27], [0xfe, 1, 2, 3, 4, 5, 6, 7, 0]]) {
      for (const header of [0x00, 0xfe]) {
        const out = withoutInsertId(ok(header, [0xfc, 0x00, 0x01], id))
        expect(out).toEqual(ok(header, [0xfc, 0x00, 0x01], [0]))
        expect(statusOf(out as Buffer)).toBe(0x22)
      }
    }
  })

  it('leaves an OK whose id is 0, an ERR and a row alone', () => {
    expect(withoutInsertId(ok(0x00, [1], [0]))).toBeUndefined()
    expect(withoutInsertId(Buffer.from([0xff, 0x10, 0x04, 0x23]))).toBeUndefined()
    expect(withoutInsertId(Buffer.from([0x03, 0x61, 0x62, 0x63]))).toBeUndefined()
  })

  it('answers a truncated or malformed OK with a bare OK of its status, never its bytes', () => {
    for (const bad of [
      Buffer.from([0x00, 0xfc, 0x01]),
      Buffer.from([0x00, 0x01, 0xfd, 0x71]),
      Buffer.from([0x00, 0x01, 0xfb, 0x02, 0x00]),
      Buffer.from([0x00, 0x01, 0xff, 0x71, 0x71, 0x71, 0x71, 0x71, 0x71, 0x71, 0x71]),
    ]) {
      const out = withoutInsertId(bad) as Buffer
      expect(out[0]).toBe(0x00)
      expect([...out.subarray(1, 3)]).toEqual([0, 0])
      expect(out.length).toBe(7)
    }
  })
})
