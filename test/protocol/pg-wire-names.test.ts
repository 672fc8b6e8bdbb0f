/**
 * Statement and portal names read from Bind/Execute/Parse frames: the JS fast path for short ASCII
 * names must give exactly what decoding the bytes as UTF-8 gives, for any bytes.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {nameAt} from '../../src/proxy/postgres/wire.js'

describe('nameAt', () => {
  it.each([
    ['', ''],
    ['P0_1', 'P0_1'],
    ['S_12', 'S_12'],
    ['käse', 'käse'],
    ['x'.repeat(64), 'x'.repeat(64)],
    ['y'.repeat(65), 'y'.repeat(65)],
    ['名前', '名前'],
  ])('reads %j', (name, expected) => {
    const frame = Buffer.concat([Buffer.from('B\0\0\0\0'), Buffer.from(name, 'utf8'), Buffer.from([0, 0])])
    expect(nameAt(frame, 5, 5 + Buffer.byteLength(name))).toBe(expected)
  })

  it('decodes any bytes exactly as UTF-8 decoding does, malformed sequences included', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 80}), fc.nat({max: 7}), (bytes, pad) => {
        const frame = Buffer.concat([Buffer.alloc(pad, 0x41), Buffer.from(bytes), Buffer.from([0])])
        expect(nameAt(frame, pad, pad + bytes.length)).toBe(Buffer.from(bytes).toString('utf8'))
      }),
      {numRuns: 3000},
    )
  })
})
