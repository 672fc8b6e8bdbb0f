import mysql from 'mysql2/promise'
import {describe, expect, it} from 'vitest'

import {MARIADB, mysqlProxyFixture} from '../support/mysql-proxy.js'

// mysql2 through the MySQL engine against the real MariaDB: text queries, prepared statements,
// denials that leave the session usable, COM_INIT_DB moving the guard's default schema.

const {db, proxy} = mysqlProxyFixture('mysql_client', {
  setup: (d) =>
    `CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY, name VARCHAR(50));` +
    `INSERT INTO \`${d}\`.items VALUES (1, 'apple'), (2, 'pear');` +
    `CREATE TABLE \`${d}\`.secrets (id INT, v TEXT);`,
})

function connect(extra: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'root',
    database: db.name,
    ...extra,
  })
}

describe('mysql2 through the MySQL engine', () => {
  it('runs text queries and sees the server version', async () => {
    const c = await connect()
    try {
      const [rows] = await c.query('SELECT id, name FROM items ORDER BY id')
      expect(rows).toEqual([
        {id: 1, name: 'apple'},
        {id: 2, name: 'pear'},
      ])
      const [v] = await c.query('SELECT VERSION() AS v')
      expect(String((v as {v: string}[])[0]?.v)).toMatch(/MariaDB/)
    } finally {
      await c.end()
    }
  })

  it('answers a denial with ERR 1142 naming the rule, and the session goes on', async () => {
    const c = await connect()
    try {
      await expect(c.query('DROP TABLE items')).rejects.toMatchObject({
        errno: 1142,
        sqlState: '42000',
        message: expect.stringMatching(/denied by rule "no-drop": Schema changes go through migrations/),
      })
      await expect(c.query('DELETE FROM items')).rejects.toMatchObject({errno: 1142})
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM items')
      expect(rows).toEqual([{n: 2}])
      const denied = proxy.audit.events.filter((e) => e.type === 'statement' && e.decision === 'deny')
      expect(denied.map((e) => e.rule)).toEqual(expect.arrayContaining(['no-drop', 'no-unbounded-delete']))
      expect(denied.every((e) => e.protocol === 'mysql')).toBe(true)
    } finally {
      await c.end()
    }
  })

  it('runs prepared statements, decided at prepare', async () => {
    const c = await connect()
    try {
      const [rows] = await c.execute('SELECT name FROM items WHERE id = ?', [2])
      expect(rows).toEqual([{name: 'pear'}])
      const [again] = await c.execute('SELECT name FROM items WHERE id = ?', [1])
      expect(again).toEqual([{name: 'apple'}])
      await expect(c.execute('DELETE FROM items')).rejects.toMatchObject({errno: 1142})
      await c.execute('UPDATE items SET name = ? WHERE id = ?', ['plum', 2])
      const [after] = await c.execute('SELECT name FROM items WHERE id = ?', [2])
      expect(after).toEqual([{name: 'plum'}])
      const executed = proxy.audit.events.filter(
        (e) => e.type === 'statement' && e.statement === 'SELECT name FROM items WHERE id = ?',
      )
      expect(executed.length).toBeGreaterThanOrEqual(2)
      expect(executed[0]?.rows).toBe(1)
    } finally {
      await c.end()
    }
  })

  it('resolves unqualified tables against the database USE chose', async () => {
    const c = await mysql.createConnection({host: '127.0.0.1', port: proxy.port, user: 'root'})
    try {
      await c.query(`USE \`${db.name}\``)
      // Without a control plane (standalone) a review is refused at once, with SQLSTATE 42501 as every refused review.
      await expect(c.query('SELECT * FROM secrets')).rejects.toMatchObject({
        errno: 1142,
        sqlState: '42501',
        message: expect.stringMatching(
          /approval required by rule "secrets-need-review": Secrets need a second pair of eyes\. Hint: This statement needs approval before it can run; approvals are not available in standalone mode yet\.$/,
        ),
      })
    } finally {
      await c.end()
    }
  })

  it('relays a result set of more than 250 columns (a column count of several bytes)', async () => {
    const c = await connect()
    try {
      const columns = Array.from({length: 300}, (_, i) => `${i} AS c${i}`).join(', ')
      const [text] = await c.query(`SELECT ${columns}`)
      const [binary] = await c.execute(`SELECT ${columns}`)
      for (const rows of [text, binary] as Record<string, number>[][]) {
        expect(Object.keys(rows[0] ?? {})).toHaveLength(300)
        expect(rows[0]?.c299).toBe(299)
      }
      const [after] = await c.query('SELECT COUNT(*) AS n FROM items')
      expect(after).toEqual([{n: 2}])
    } finally {
      await c.end()
    }
  })

  it('refuses COM_CHANGE_USER with a clear error', async () => {
    const c = await connect()
    try {
      await expect(c.changeUser({user: 'root'})).rejects.toMatchObject({
        message: expect.stringMatching(/COM_CHANGE_USER is not supported/),
      })
    } finally {
      c.destroy()
    }
  })

  it('runs several statements in one query when the client enables them', async () => {
    const c = await connect({multipleStatements: true})
    try {
      const [results] = await c.query('SELECT 1 AS a; SELECT 2 AS b')
      expect(results).toEqual([[{a: 1}], [{b: 2}]])
      await expect(c.query('SELECT 1; DROP TABLE items')).rejects.toMatchObject({errno: 1142})
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM items')
      expect(rows).toEqual([{n: 2}])
    } finally {
      await c.end()
    }
  })

  it('passes the server ERR of a failing statement and goes on', async () => {
    const c = await connect()
    try {
      await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({errno: 1146})
      await c.ping()
      const [rows] = await c.query('SELECT 3 AS x')
      expect(rows).toEqual([{x: 3}])
    } finally {
      await c.end()
    }
  })

  it('reaches MariaDB directly with the same answers (sanity of the fixture)', async () => {
    const c = await mysql.createConnection({...MARIADB, database: db.name})
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM items')
    expect(rows).toEqual([{n: 2}])
    await c.end()
  })
})
