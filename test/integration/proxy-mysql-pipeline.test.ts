import mysql from 'mysql2/promise'
import {describe, expect, it} from 'vitest'

import {encodePacket} from '../../src/proxy/mysql/framing.js'
import {Cap} from '../../src/proxy/mysql/protocol.js'
import {mysqlProxyFixture} from '../support/mysql-proxy.js'
import {expectErr, rawMysql} from '../support/mysql-raw.js'

// Commands a client pipelines get their answers in order, a denial included; SQL-level PREPARE and
// EXECUTE are judged by what they run; COM_RESET_CONNECTION forgets prepared statements.

const {db, proxy} = mysqlProxyFixture('mysql_pipeline', {
  setup: (d) => `CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY); INSERT INTO \`${d}\`.items VALUES (1)`,
})

const query = (sql: string): Buffer => encodePacket(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)]))

describe('MySQL engine ordering and session state', () => {
  it('answers a denial pipelined behind a running query after that query’s result', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.write(
      Buffer.concat([
        query('SELECT SLEEP(0.3) AS s'),
        query('DROP TABLE items'),
        encodePacket(0, Buffer.from([0x0e])),
      ]),
    )
    const columnCount = await raw.next()
    expect(columnCount.payload).toEqual(Buffer.from([1]))
    const column = await raw.next()
    expect(column.payload.includes(Buffer.from('s'))).toBe(true)
    expect((await raw.next()).payload[0]).toBe(0xfe) // EOF after the columns
    expect((await raw.next()).payload.toString('latin1', 1)).toBe('0') // the row: SLEEP() = 0
    expect((await raw.next()).payload[0]).toBe(0xfe) // EOF after the rows
    const denial = await raw.next()
    expect(denial.seq).toBe(1)
    expect(denial.payload[0]).toBe(0xff)
    expect(denial.payload.toString('utf8')).toMatch(/no-drop/)
    expect((await raw.next()).payload[0]).toBe(0x00) // COM_PING's OK, in its turn
    raw.socket.destroy()
    const [rows] = await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.items`).then((r) => [r])
    expect(rows).toEqual([{n: 1}])
  })

  it('judges SQL PREPARE by its text and EXECUTE by what was prepared', async () => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'root',
      database: db.name,
    })
    try {
      await expect(c.query("PREPARE s1 FROM 'DROP TABLE items'")).rejects.toMatchObject({errno: 1142})
      await c.query("PREPARE s2 FROM 'SELECT id FROM items'")
      const [rows] = await c.query('EXECUTE s2')
      expect(rows).toEqual([{id: 1}])
    } finally {
      await c.end()
    }
  })

  it('forgets prepared statements on COM_RESET_CONNECTION, as the server does', async () => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'root',
      database: db.name,
    })
    try {
      await c.query("PREPARE s3 FROM 'SELECT id FROM items'")
      await c.reset()
      await expect(c.query('EXECUTE s3')).rejects.toMatchObject({errno: expect.any(Number)})
      const [rows] = await c.query('SELECT 1 AS one')
      expect(rows).toEqual([{one: 1}])
    } finally {
      await c.end()
    }
  })

  it('refuses a prepared-statement cursor, and the session goes on', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.command(Buffer.concat([Buffer.from([0x16]), Buffer.from('SELECT id FROM items')]))
    const ok = await raw.next()
    expect(ok.payload[0]).toBe(0)
    const id = ok.payload.readUInt32LE(1)
    for (let i = 0; i < 2; i++) await raw.next() // one column definition and its EOF
    const execute = Buffer.alloc(10)
    execute[0] = 0x17
    execute.writeUInt32LE(id, 1)
    execute[5] = 0x01 // CURSOR_TYPE_READ_ONLY
    execute.writeUInt32LE(1, 6)
    raw.command(execute)
    expect(await expectErr(raw)).toMatchObject({code: 1235, message: expect.stringMatching(/cursors/)})
    raw.command(Buffer.from([0x0e]))
    expect((await raw.next()).payload[0]).toBe(0)
    raw.socket.destroy()
  })

  it('follows results and prepare metadata with CLIENT_DEPRECATE_EOF (OK packets end them)', async () => {
    const raw = await rawMysql(
      proxy.port,
      db.name,
      '',
      Cap.deprecateEof | Cap.multiStatements | Cap.multiResults,
    )
    raw.command(Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT id FROM items; SELECT 2 AS two')]))
    const kinds: number[] = []
    for (let i = 0; i < 6; i++) kinds.push((await raw.next()).payload[0] ?? -1)
    // count, column, row, OK(0xFE, more results), count, column — then the second set's row and OK.
    expect(kinds).toEqual([1, 3, 1, 0xfe, 1, 3])
    expect((await raw.next()).payload.toString('latin1', 1)).toBe('2')
    expect((await raw.next()).payload[0]).toBe(0xfe)
    raw.command(Buffer.concat([Buffer.from([0x16]), Buffer.from('SELECT id FROM items WHERE id = ?')]))
    const ok = await raw.next()
    expect(ok.payload[0]).toBe(0)
    expect(ok.payload.readUInt16LE(5)).toBe(1) // columns
    expect(ok.payload.readUInt16LE(7)).toBe(1) // params
    await raw.next() // the parameter definition
    await raw.next() // the column definition (no EOFs with CLIENT_DEPRECATE_EOF)
    raw.command(Buffer.from([0x0e]))
    expect((await raw.next()).payload[0]).toBe(0) // COM_PING's OK
    // A denial is answered at once only when no response is owed: the metadata was followed exactly.
    raw.command(Buffer.concat([Buffer.from([0x03]), Buffer.from('DROP TABLE items')]))
    expect(await expectErr(raw)).toMatchObject({code: 1142})
    raw.socket.destroy()
  })
})
