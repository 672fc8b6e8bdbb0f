import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {HashChain, hashCanonical} from '../../src/audit/chain.js'
import {frame, FrameBuilder, parseSegmentName, scanFrames, segmentName} from '../../src/audit/spool-frame.js'
import {body} from './audit-helpers.js'

function records(count: number): Buffer {
  const chain = new HashChain()
  return Buffer.concat(
    Array.from({length: count}, (_, i) => frame(Buffer.from(chain.append(body(i + 1)).canonical, 'utf8'))),
  )
}

describe('spool framing', () => {
  it('frames a group in place exactly as frame() does, with the chain hash of each record', () => {
    const builder = new FrameBuilder()
    fc.assert(
      fc.property(fc.array(fc.string({unit: 'binary', maxLength: 40_000}), {maxLength: 8}), (texts) => {
        builder.reset()
        const hashes = texts.map((t) => builder.add(t))
        expect(builder.bytes.equals(Buffer.concat(texts.map((t) => frame(Buffer.from(t, 'utf8')))))).toBe(
          true,
        )
        expect(hashes).toEqual(texts.map((t) => hashCanonical(t)))
      }),
      {numRuns: 200},
    )
  })

  it('drops a framed record that did not fit, keeping the ones before it', () => {
    const builder = new FrameBuilder()
    builder.add('{"a":1}')
    builder.add('{"b":"é"}')
    expect(builder.lastBytes).toBe(8 + 10)
    builder.drop(builder.lastBytes)
    expect(builder.bytes.equals(frame(Buffer.from('{"a":1}')))).toBe(true)
  })

  it('reads back every record with the chain hash', () => {
    const chain = new HashChain()
    const linked = [chain.append(body(1)), chain.append(body(2))]
    const scan = scanFrames(Buffer.concat(linked.map((l) => frame(Buffer.from(l.canonical)))))
    expect(scan.stopped).toBeUndefined()
    expect(scan.records.map((r) => r.hash)).toEqual(linked.map((l) => l.hash))
    expect(scan.records.map((r) => r.event)).toEqual(linked.map((l) => l.event))
  })

  it('stops at every possible torn offset with all whole records before it intact', () => {
    const buf = records(3)
    const ends: number[] = []
    for (let at = 0, i = 0; i < 3; i++) ends.push((at += 8 + buf.readUInt32BE(at)))
    for (let cut = 0; cut <= buf.length; cut++) {
      const scan = scanFrames(buf.subarray(0, cut))
      const whole = ends.filter((e) => e <= cut).length
      expect(scan.records).toHaveLength(whole)
      expect(scan.validBytes).toBe(whole === 0 ? 0 : ends[whole - 1])
      expect(scan.stopped === undefined).toBe(cut === scan.validBytes)
    }
  })

  it.each<[string, (b: Buffer) => Buffer, string]>([
    ['a flipped payload byte', (b) => flip(b, 20), 'CRC mismatch'],
    ['a flipped CRC byte', (b) => flip(b, 5), 'CRC mismatch'],
    ['a zero length', (b) => Buffer.concat([b, Buffer.alloc(12)]), 'impossible record length 0'],
    [
      'a huge length',
      (b) => Buffer.concat([b, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]),
      'impossible record length 4294967295',
    ],
    [
      'garbage after the records',
      (b) => Buffer.concat([b, Buffer.from('garbage!garbage!')]),
      'impossible record length 1734439522',
    ],
    [
      'a valid frame that is not an event',
      (b) => Buffer.concat([b, frame(Buffer.from('{"seq":"x"}'))]),
      'record is not an audit event',
    ],
    [
      'a valid frame that is not JSON',
      (b) => Buffer.concat([b, frame(Buffer.from('\u0000\u0001'))]),
      'record is not an audit event',
    ],
  ])('stops at %s', (_, damage, reason) => {
    const good = records(2)
    const scan = scanFrames(damage(good))
    expect(scan.stopped).toBe(reason)
    expect(scan.records.length).toBeLessThanOrEqual(2)
  })

  it('names segments by their first seq', () => {
    expect(segmentName(42)).toBe('seg-0000000000000042.log')
    expect(parseSegmentName(segmentName(42))).toBe(42)
    for (const n of ['seg-42.log', 'acked.json', 'seg-0000000000000000.log', 'seg-000000000000004x.log'])
      expect(parseSegmentName(n)).toBeUndefined()
  })
})

function flip(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b)
  copy[at] = (copy[at] ?? 0) ^ 0x01
  return copy
}
