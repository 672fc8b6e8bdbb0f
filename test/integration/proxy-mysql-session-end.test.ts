/**
 * When the proxy ends a MySQL session with an error of its own (the upstream lost, a shutdown, an
 * oversized command), its ERR packet carries the sequence id the client expects: the next packet of
 * the response it is reading, or the reply to its command. A client that gets another id reports
 * "packets out of order" instead of the reason. Checked from the bytes a raw client receives; the
 * upstream is the real MariaDB behind a TCP hop the test can cut (a fault the server cannot be made
 * to produce).
 */
import net from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {encodePacket} from '../../src/proxy/mysql/framing.js'
import type {Packet} from '../../src/proxy/mysql/reader.js'
import {readErr} from '../../src/proxy/mysql/wire.js'
import {
  mysqlScratch,
  mysqlTestPolicy,
  startMysqlTestProxy,
  type MysqlScratch,
  type MysqlTestProxy,
} from '../support/mysql-proxy.js'
import {rawMysql, type RawMysql} from '../support/mysql-raw.js'

/** A TCP hop to MariaDB: `cutAfter(n)` forwards n more bytes from the server, then drops both sides. */
interface Hop {
  readonly port: number
  cutAfter(bytes: number): void
  close(): Promise<void>
}

async function hop(): Promise<Hop> {
  const sockets = new Set<net.Socket>()
  let budget: number | undefined
  const cut = (): void => {
    budget = undefined
    for (const s of sockets) s.destroy()
    sockets.clear()
  }
  const server = net.createServer((client) => {
    const upstream = net.connect(3306, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.on('data', (d) => upstream.write(d))
    upstream.on('data', (d) => {
      if (budget === undefined) return void client.write(d)
      const part = d.subarray(0, budget)
      budget -= part.length
      client.write(part, () => {
        if (budget !== undefined && budget <= 0) cut()
      })
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    cutAfter: (bytes) => {
      budget = bytes
      if (bytes === 0) cut()
    },
    close: () =>
      new Promise((resolve) => {
        cut()
        server.close(() => resolve())
      }),
  }
}

/** Every packet up to and including the first ERR. */
async function untilErr(raw: RawMysql): Promise<{before: Packet[]; err: Packet}> {
  const before: Packet[] = []
  for (;;) {
    const p = await raw.next()
    if (p.payload[0] === 0xff) return {before, err: p}
    before.push(p)
  }
}

const query = (raw: RawMysql, sql: string): void =>
  raw.write(encodePacket(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)])))

let db: MysqlScratch
let upstream: Hop
let proxy: MysqlTestProxy

beforeAll(async () => {
  db = await mysqlScratch('sess_end')
  upstream = await hop()
  proxy = await startMysqlTestProxy(
    `mysql://root@127.0.0.1:${upstream.port}/${db.name}`,
    mysqlTestPolicy(db.name),
    {maxPacketBytes: 4096},
  )
})

afterAll(async () => {
  await proxy?.close()
  await upstream?.close()
  await db?.drop()
})

describe('the ERR that ends a MySQL session carries the sequence id the client expects', () => {
  it('the upstream lost in the middle of a result: the packet after the last row forwarded', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    upstream.cutAfter(3000)
    query(raw, "SELECT REPEAT('x', 100) AS r FROM seq_1_to_100000")
    const {before, err} = await untilErr(raw)
    // The column count, its definition (and EOF), then some rows: well past the reply's first packet.
    expect(before.length).toBeGreaterThan(5)
    const last = before[before.length - 1] as Packet
    expect(err.seq).toBe((last.seq + 1) & 0xff)
    expect(readErr(err.payload).message).toMatch(/connection to the database server was lost/)
    await raw.closed()
  })

  it('the upstream lost before the reply: the reply to the command', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    query(raw, 'SELECT SLEEP(5)')
    upstream.cutAfter(0)
    const {before, err} = await untilErr(raw)
    expect(before).toEqual([])
    expect(err.seq).toBe(1)
    await raw.closed()
  })

  it('an oversized command: the reply to it', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    query(raw, `SELECT '${'x'.repeat(5000)}'`)
    const {before, err} = await untilErr(raw)
    expect(before).toEqual([])
    expect(err.seq).toBe(1)
    expect(readErr(err.payload).code).toBe(1153)
    await raw.closed()
  })

  it('a shutdown while a statement runs: the reply to it, not 0', async () => {
    const own = await startMysqlTestProxy(`mysql://root@127.0.0.1:3306/${db.name}`, mysqlTestPolicy(db.name))
    const raw = await rawMysql(own.port, db.name)
    query(raw, 'SELECT SLEEP(5)')
    // The statement reached the server before the proxy shuts down.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const closing = own.close()
    const {before, err} = await untilErr(raw)
    expect(before).toEqual([])
    expect(err.seq).toBe(1)
    expect(readErr(err.payload).message).toMatch(/dbgate: /)
    await closing
  })
})
