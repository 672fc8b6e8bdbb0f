/**
 * Untrusted bytes at a live listener: random, truncated and oversized frames get an error, close only
 * their own session, and a parallel healthy session keeps working.
 */
import {randomBytes} from 'node:crypto'
import {connect} from 'node:net'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startupMessage, typed} from '../../src/proxy/postgres/wire.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {F, RawClient, errorCode, types} from '../support/pg-raw.js'
import {TEST_POLICY, startTestProxy, type TestProxy} from '../support/proxy.js'

let db: ScratchDb
let proxy: TestProxy
let healthy: pg.Client

beforeAll(async () => {
  db = await createScratchDb('dbgate_fuzz')
  proxy = await startTestProxy(db.url, TEST_POLICY, {maxMessageBytes: 64 * 1024})
  healthy = new pg.Client(proxy.clientConfig)
  await healthy.connect()
})
afterAll(async () => {
  await healthy?.end()
  await proxy?.close()
  await db?.drop()
})

async function stillHealthy(): Promise<void> {
  expect((await healthy.query('select $1::int + 1 as n', [41])).rows[0].n).toBe(42)
}

describe('malformed input at a live listener', () => {
  it('answers an oversized message with 54000 and closes only that session', async () => {
    const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    c.send(F.query('x'.repeat(100 * 1024)))
    const msgs = await c.readUntil('E')
    expect(errorCode(msgs.at(-1)!)).toBe('54000')
    await c.readUntil('never', 1, [], 5000).catch(() => [])
    expect(c.closed).toBe(true)
    await stillHealthy()
  })

  it('answers a bad length or an unknown message type with 08P01', async () => {
    for (const bad of [
      Buffer.from([0x51, 0, 0, 0, 2]),
      typed(0x01, Buffer.from('junk')),
      typed(0x70, Buffer.from('late password\0')),
    ]) {
      const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
      c.send(bad)
      const msgs = await c.readUntil('E', 1, [], 5000)
      expect(errorCode(msgs.at(-1)!)).toBe('08P01')
    }
    await stillHealthy()
  })

  it('survives garbage startup packets, truncated frames and abrupt closes', async () => {
    const attempts: Buffer[] = [
      Buffer.from([0, 0, 0, 3]),
      Buffer.from([0x7f, 0xff, 0xff, 0xff]),
      Buffer.from([0, 0, 0, 8, 0, 2, 0, 0]),
      startupMessage(new Map([['database', 'x']])),
      startupMessage(
        new Map([
          ['user', 'postgres'],
          ['database', db.name],
        ]),
      ).subarray(0, 12),
    ]
    for (let i = 0; i < 40; i++) attempts.push(randomBytes(1 + ((i * 7) % 60)))
    for (const bytes of attempts) {
      const c = await RawClient.open(proxy.port)
      c.send(bytes)
      c.end()
    }
    // Random frames after a valid startup.
    for (let i = 0; i < 30; i++) {
      const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
      c.send(randomBytes(5 + i * 3))
      if (i % 2 === 0) c.socket.destroy()
      else c.end()
    }
    await stillHealthy()
    const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    c.send(F.query('select 1'))
    expect(types(await c.readUntil('Z'))).toBe('TDCZ')
    c.end()
  })

  it('declines SSLRequest and GSSENCRequest with N and continues in the clear', async () => {
    const socket = connect({host: '127.0.0.1', port: proxy.port})
    let received = Buffer.alloc(0)
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])))
    await new Promise((r) => socket.once('connect', r))
    socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]))
    socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]))
    for (let i = 0; i < 50 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20))
    expect(received.toString('latin1')).toBe('NN')
    socket.write(
      startupMessage(
        new Map([
          ['user', 'postgres'],
          ['database', db.name],
        ]),
      ),
    )
    for (let i = 0; i < 100 && received.at(-6) !== 0x5a; i++) await new Promise((r) => setTimeout(r, 20))
    expect(received[2]).toBe(0x52) // 'R' AuthenticationOk
    expect(received.at(-6)).toBe(0x5a) // ends with ReadyForQuery
    socket.end()
  })
})
