/**
 * The server dispatcher's runs of DataRows, from bytes: a result is forwarded byte for byte however
 * the server's chunks split it, and a malformed or oversized row inside a run still ends the session
 * with the framer's error, after the whole rows before it.
 */
import type {Socket} from 'node:net'

import {describe, expect, it} from 'vitest'

import {loadParsers, parsePolicy} from '../../src/policy/index.js'
import {FrameError} from '../../src/proxy/postgres/framing.js'
import type {ServerDispatcher} from '../../src/proxy/postgres/server-dispatch.js'
import {typed} from '../../src/proxy/postgres/wire.js'
import {pgDispatchers} from '../support/pg-dispatchers.js'
import {F} from '../support/pg-raw.js'

const POLICY = parsePolicy('version: 1\ndefaults: {action: allow, unparseable: deny}\nrules: []\n')

/** A socket that records what is written to it. */
function recordingSocket(out: Buffer[]): Socket {
  const s = {
    destroyed: false,
    writableLength: 0,
    write: (b: Buffer) => out.push(Buffer.from(b)) > 0,
    pause: () => s,
    resume: () => s,
  }
  return s as unknown as Socket
}

/** One session's dispatchers after the client sent a query; `toClient` collects what the client receives. */
function session(maxMessageBytes: number): {server: ServerDispatcher; toClient: Buffer[]; fatal: unknown[]} {
  const toClient: Buffer[] = []
  const fatal: unknown[] = []
  const {client, server} = pgDispatchers({
    policy: POLICY,
    toClient: recordingSocket(toClient),
    maxMessageBytes,
    onFatal: (e) => fatal.push(e),
  })
  client.push(F.query('select id, note from t'))
  return {server, toClient, fatal}
}

const i16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const ROW_DESCRIPTION = typed(
  0x54,
  Buffer.concat([
    i16(2),
    ...['id', 'note'].flatMap((name) => [
      Buffer.from(`${name}\0`),
      i32(0),
      i16(0),
      i32(25),
      i16(-1),
      i32(-1),
      i16(0),
    ]),
  ]),
)
const row = (i: number): Buffer =>
  typed(0x44, Buffer.concat([i16(2), i32(String(i).length), Buffer.from(String(i)), i32(-1 + (i % 2))]))
const END = Buffer.concat([typed(0x43, Buffer.from('SELECT 40\0')), typed(0x5a, Buffer.from('I'))])

describe('runs of DataRows from the server', () => {
  it('reach the client byte for byte at every split of the server bytes', async () => {
    await loadParsers()
    const result = Buffer.concat([ROW_DESCRIPTION, ...Array.from({length: 40}, (_, i) => row(i)), END])
    for (let cut = 0; cut <= result.length; cut += 3) {
      const {server, toClient, fatal} = session(1 << 20)
      server.push(result.subarray(0, cut))
      server.push(result.subarray(cut))
      expect(fatal).toEqual([])
      expect(Buffer.concat(toClient).equals(result)).toBe(true)
    }
  })

  it('stop before a row with a bad length or over the size limit: the framer refuses it', async () => {
    await loadParsers()
    const bad = Buffer.from([0x44, 0, 0, 0, 2, 0, 0])
    const big = typed(0x44, Buffer.concat([i16(1), i32(200), Buffer.alloc(200, 0x61)]))
    for (const [odd, limit] of [
      [bad, 1 << 20],
      [big, 150],
    ] as const) {
      const good = [ROW_DESCRIPTION, row(1), row(2), row(3)]
      const {server, toClient, fatal} = session(limit)
      server.push(Buffer.concat([...good, odd, row(4), END]))
      expect(fatal).toHaveLength(1)
      expect(fatal[0]).toBeInstanceOf(FrameError)
      expect(Buffer.concat(toClient).equals(Buffer.concat(good))).toBe(true)
    }
  })
})
