import {describe, expect, it} from 'vitest'

import {mysqlProxyFixture} from '../support/mysql-proxy.js'
import {expectErr, rawMysql, type RawMysql} from '../support/mysql-raw.js'

// COM_STMT_FETCH reads rows of a cursor that COM_STMT_EXECUTE opened. The proxy refuses cursors at
// EXECUTE, so a FETCH has nothing to read: it is refused with a clear error and the session goes on.
// mysql2 cannot send COM_STMT_FETCH, so these tests speak the bytes.

const {db, proxy} = mysqlProxyFixture('mysql_fetch', {
  setup: (d) =>
    `CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY); INSERT INTO \`${d}\`.items VALUES (1), (2)`,
})

/** Prepares `sql` and reads its metadata; returns the statement id. */
async function prepare(raw: RawMysql, sql: string, packets: number): Promise<number> {
  raw.command(Buffer.concat([Buffer.from([0x16]), Buffer.from(sql)]))
  const ok = await raw.next()
  expect(ok.payload[0]).toBe(0)
  for (let i = 0; i < packets; i++) await raw.next()
  return ok.payload.readUInt32LE(1)
}

function fetch(id: number, rows: number): Buffer {
  const b = Buffer.alloc(9)
  b[0] = 0x1c // COM_STMT_FETCH
  b.writeUInt32LE(id, 1)
  b.writeUInt32LE(rows, 5)
  return b
}

describe('COM_STMT_FETCH', () => {
  it('is refused with error 1235 naming cursors, and the session goes on', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    const id = await prepare(raw, 'SELECT id FROM items ORDER BY id', 2)
    raw.command(fetch(id, 10))
    expect(await expectErr(raw)).toMatchObject({
      code: 1235,
      message: expect.stringMatching(/COM_STMT_FETCH \(server-side cursors\) is not supported/),
    })
    // The statement still executes without a cursor: count, column, EOF, two rows, EOF.
    const execute = Buffer.alloc(10)
    execute[0] = 0x17
    execute.writeUInt32LE(id, 1)
    execute.writeUInt32LE(1, 6)
    raw.command(execute)
    const kinds: number[] = []
    for (let i = 0; i < 6; i++) kinds.push((await raw.next()).payload[0] ?? -1)
    expect(kinds).toEqual([1, 3, 0xfe, 0, 0, 0xfe])
    raw.socket.destroy()
  })

  it('pipelined behind a running query, is answered after that query, in its turn', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    const id = await prepare(raw, 'SELECT id FROM items', 2)
    raw.write(
      Buffer.concat([
        Buffer.from([7, 0, 0, 0, 0x03]),
        Buffer.from('DO 1=1'),
        Buffer.from([9, 0, 0, 0]),
        fetch(id, 1),
      ]),
    )
    expect((await raw.next()).payload[0]).toBe(0) // OK of DO
    expect((await expectErr(raw)).code).toBe(1235)
    raw.socket.destroy()
  })
})
