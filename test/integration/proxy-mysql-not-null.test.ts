/**
 * `where: absent` for a WHERE that only drops NULLs, through the MySQL engine against MariaDB: `id IS NOT
 * NULL` bounds nothing on a NOT NULL column (the engine asks information_schema on the session's own
 * connection first), and bounds a nullable one. Commands pipelined behind the one that waits keep their turn.
 */
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {encodePacket} from '../../src/proxy/mysql/framing.js'
import {mysqlProxyFixture} from '../support/mysql-proxy.js'
import {expectErr, rawMysql} from '../support/mysql-raw.js'

const run = promisify(execFile)

const {db, proxy} = mysqlProxyFixture('mysql_notnull', {
  setup: (d) =>
    `CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, deleted_at DATETIME NULL);` +
    `INSERT INTO \`${d}\`.items VALUES (1, 'apple', NULL), (2, 'pear', NOW()), (3, 'plum', NULL)`,
})
let c: mysql.Connection

beforeAll(async () => {
  c = await mysql.createConnection({host: '127.0.0.1', port: proxy.port, user: 'root', database: db.name})
})
afterAll(async () => {
  await c?.end()
})

async function itemsLeft(): Promise<number> {
  const rows = (await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.items`)) as {n: number}[]
  return Number(rows[0]?.n)
}

const query = (sql: string): Buffer => encodePacket(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)]))

describe('a WHERE that only drops NULLs, MySQL', () => {
  it('is no restriction on a NOT NULL column: denied with ERR 1142, and nothing is deleted', async () => {
    const denied = {errno: 1142, message: expect.stringMatching(/no-unbounded-delete/)}
    // The second time the decision comes from the cache (no literal decided it); the catalog is still asked.
    for (let i = 0; i < 2; i++)
      await expect(c.query('DELETE FROM items WHERE id IS NOT NULL')).rejects.toMatchObject(denied)
    await expect(
      c.query(`DELETE FROM \`${db.name}\`.ITEMS WHERE items.name IS NOT NULL`),
    ).rejects.toMatchObject(denied)
    await expect(c.execute('UPDATE items SET name = ? WHERE id IS NOT NULL', ['x'])).rejects.toMatchObject(
      denied,
    )
    await expect(c.query('DELETE FROM items WHERE NOT ISNULL(id)')).rejects.toMatchObject(denied)
    // Modifiers do not hide the table whose columns are asked about.
    await expect(c.query("UPDATE IGNORE items SET name = 'x' WHERE id IS NOT NULL")).rejects.toMatchObject(
      denied,
    )
    await expect(
      c.query('DELETE LOW_PRIORITY QUICK IGNORE FROM items WHERE id IS NOT NULL'),
    ).rejects.toMatchObject(denied)
    expect(await itemsLeft()).toBe(3)
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM items')
    expect(rows).toEqual([{n: 3}])
  })

  it("counts MariaDB's _rowid (the primary key's alias) as never NULL: denied, and nothing changes", async () => {
    const denied = {errno: 1142, message: expect.stringMatching(/no-unbounded-delete/)}
    await expect(c.query('DELETE FROM items WHERE _rowid IS NOT NULL')).rejects.toMatchObject(denied)
    await expect(c.query('DELETE FROM items WHERE _ROWID IS NOT NULL OR id = 2')).rejects.toMatchObject(
      denied,
    )
    expect(await itemsLeft()).toBe(3)
    // _rowid compared with a value bounds the write.
    await c.query('BEGIN')
    try {
      const [r] = await c.query('DELETE FROM items WHERE _rowid = 2')
      expect((r as mysql.ResultSetHeader).affectedRows).toBe(1)
    } finally {
      await c.query('ROLLBACK')
    }
  })

  it('bounds a nullable column: allowed, and only those rows change', async () => {
    await c.query('BEGIN')
    try {
      const [r] = await c.query('DELETE FROM items WHERE deleted_at IS NOT NULL')
      expect((r as mysql.ResultSetHeader).affectedRows).toBe(1)
      const [again] = await c.query('DELETE FROM items WHERE deleted_at IS NOT NULL')
      expect((again as mysql.ResultSetHeader).affectedRows).toBe(0)
    } finally {
      await c.query('ROLLBACK')
    }
  })

  it('answers commands pipelined behind the one that waits for the catalog in order', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.write(
      Buffer.concat([
        query('DELETE FROM items WHERE id IS NOT NULL'),
        query('SELECT 7 AS n'),
        encodePacket(0, Buffer.from([0x0e])), // COM_PING
      ]),
    )
    const denial = await expectErr(raw)
    expect(denial.code).toBe(1142)
    expect(denial.message).toMatch(/no-unbounded-delete/)
    expect((await raw.next()).payload).toEqual(Buffer.from([1])) // SELECT 7: one column
    await raw.next() // its definition
    expect((await raw.next()).payload[0]).toBe(0xfe)
    expect((await raw.next()).payload.toString('latin1', 1)).toBe('7')
    expect((await raw.next()).payload[0]).toBe(0xfe)
    expect((await raw.next()).payload[0]).toBe(0x00) // COM_PING's OK, in its turn
    raw.socket.destroy()
    expect(await itemsLeft()).toBe(3)
  })

  it('the mysql client sees the denial', async () => {
    const err = await run('mysql', [
      '-h127.0.0.1',
      `-P${proxy.port}`,
      '-uroot',
      db.name,
      '-e',
      'UPDATE items SET name = name WHERE id IS NOT NULL',
    ]).catch((e: {stderr: string}) => e)
    expect(err.stderr).toMatch(/1142.*no-unbounded-delete/)
    expect(await itemsLeft()).toBe(3)
  })
})
