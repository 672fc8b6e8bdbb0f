import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {mysqlProxyFixture, mysqlTestPolicy, startMysqlTestProxy} from '../support/mysql-proxy.js'

// The MySQL dialect's evasion cases, sent through the proxy to the real MariaDB: after every attempt the
// table must still be there with its rows, and the client must have seen dbgate's ERR 1142.

const {db, proxy} = mysqlProxyFixture('mysql_evasion', {
  setup: (d) =>
    `CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY, name VARCHAR(50));` +
    `INSERT INTO \`${d}\`.items VALUES (1, 'apple'), (2, 'pear');` +
    `CREATE TABLE \`${d}\`.secrets (id INT, v TEXT);` +
    `INSERT INTO \`${d}\`.secrets VALUES (1, 'hidden')`,
})
let c: mysql.Connection

beforeAll(async () => {
  c = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'root',
    database: db.name,
    multipleStatements: true,
  })
})

afterAll(async () => {
  await c?.end()
})

/** Runs `fn` on a session of a proxy whose policy denies every write, and `rules` besides. */
async function readOnly(rules: Policy['rules'], fn: (c: mysql.Connection) => Promise<void>): Promise<void> {
  const strict: Policy = {
    ...mysqlTestPolicy(db.name),
    rules: [{name: 'read-only', when: {kinds: ['insert', 'update', 'delete']}, action: 'deny'}, ...rules],
  }
  const ro = await startMysqlTestProxy(db.url, strict)
  const rc = await mysql.createConnection({host: '127.0.0.1', port: ro.port, user: 'root', database: db.name})
  try {
    await fn(rc)
  } finally {
    await rc.end()
    await ro.close()
  }
}

async function itemsLeft(): Promise<number> {
  const [rows] = await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.items`).then((r) => [r])
  return Number((rows as {n: number}[])[0]?.n)
}

const DENIED: readonly [string, RegExp][] = [
  ['SELECT 1 /*!50000 , (SELECT v FROM secrets) */', /secrets-need-review/],
  ['SELECT 1 /*M!100000 , (SELECT v FROM secrets) */', /secrets-need-review/],
  ['SELECT 1; /*!DROP TABLE items*/', /no-drop/],
  ['/*!40101 DROP TABLE items */', /no-drop/],
  ['DROP TABLE `items`', /no-drop/],
  ['DROP TABLE `' + '${db}' + '`.`items`', /no-drop/],
  ['DELETE FROM items WHERE 1', /no-unbounded-delete/],
  ['DELETE FROM `items` WHERE TRUE', /no-unbounded-delete/],
  ['UPDATE items SET name = "x" WHERE 1=1', /no-unbounded-delete/],
  ['DELETE FROM items WHERE id IS NULL OR id IS NOT NULL', /no-unbounded-delete/],
  ['DELETE FROM items WHERE id = 1 OR id <> 1', /no-unbounded-delete/],
  ['UPDATE items SET name = "x" WHERE NOT (name <> name)', /no-unbounded-delete/],
  ['SELECT * FROM `secrets`', /secrets-need-review/],
  ['SELECT v FROM items JOIN secrets USING (id)', /secrets-need-review/],
  ["SELECT * FROM items INTO OUTFILE '/tmp/dbgate-evasion.txt'", /no-file-copy/],
  ["LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE items", /no-file-copy/],
  ['TRUNCATE items', /no-drop/],
  // An ALTER that drops a column, key or index is a drop (the last test reads the column back).
  ['ALTER TABLE items DROP COLUMN name', /no-drop/],
  ['ALTER TABLE `items` ADD note TEXT, DROP name', /no-drop/],
  ['ALTER TABLE items DROP PRIMARY KEY', /no-drop/],
  // Converting to BLACKHOLE discards every row.
  ['ALTER TABLE items ENGINE=BLACKHOLE', /no-drop/],
  // Index hints are read past, not a reason to lose sight of a table.
  ['SELECT v FROM items USE INDEX (PRIMARY) JOIN secrets IGNORE INDEX () USING (id)', /secrets-need-review/],
  ['DELETE items FROM items FORCE INDEX (PRIMARY) WHERE 1', /no-unbounded-delete/],
  ['UPDATE IGNORE items SET name = "x"', /no-unbounded-delete/],
  ['DELETE QUICK IGNORE FROM items WHERE id = id', /no-unbounded-delete/],
  ['UPDATE LOW_PRIORITY secrets SET v = "x" WHERE id = 1', /secrets-need-review/],
  // EXISTS over a subquery's own columns is the same for every row.
  ['DELETE FROM items WHERE EXISTS (SELECT * FROM secrets)', /no-unbounded-delete/],
  // Text run at once is judged as the statement it is.
  ["EXECUTE IMMEDIATE 'DROP TABLE items'", /no-drop/],
  ["EXECUTE IMMEDIATE 'DELETE FROM items WHERE ? = ?' USING @a, @a", /no-unbounded-delete/],
  ["EXECUTE IMMEDIATE CONCAT('DROP TABLE ', 'items')", /could not be parsed/],
  ["CALL sys.execute_prepared_stmt('DROP TABLE `' '${db}' '`.items')", /could not be parsed/],
  ["CALL sys.execute_prepared_stmt('DROP TABLE ${db}.items')", /no-drop/],
  ["CALL sys.execute_prepared_stmt('SELECT v FROM ${db}.secrets')", /secrets-need-review/],
  ['CALL sys.ps_truncate_all_tables(FALSE)', /no-drop/],
]

describe('MySQL evasion cases through the proxy', () => {
  for (const [template, rule] of DENIED) {
    it(`denies ${template}`, async () => {
      const sql = template.replaceAll('${db}', db.name)
      await expect(c.query(sql)).rejects.toMatchObject({errno: 1142, message: expect.stringMatching(rule)})
      expect(await itemsLeft()).toBe(2)
    })
  }

  it('writing the table back into itself rewrites every row: an unbounded delete or update', async () => {
    for (const sql of [
      "REPLACE INTO items SELECT id, 'evil' FROM items",
      "INSERT INTO items SELECT * FROM items ON DUPLICATE KEY UPDATE name = 'evil'",
      `INSERT INTO items SELECT * FROM \`${db.name}\`.items WHERE 1 ON DUPLICATE KEY UPDATE name = 'evil'`,
    ])
      await expect(c.query(sql), sql).rejects.toMatchObject({
        errno: 1142,
        message: expect.stringMatching(/no-unbounded-delete/),
      })
    const [rows] = await c.query('SELECT name FROM items ORDER BY id')
    expect(rows).toEqual([{name: 'apple'}, {name: 'pear'}])
    // Rows given as values collide only where they do: bounded, and it runs.
    await c.query('BEGIN')
    try {
      const [r] = await c.query("INSERT INTO items VALUES (1, 'fig') ON DUPLICATE KEY UPDATE name = 'fig'")
      expect((r as mysql.ResultSetHeader).affectedRows).toBe(2)
    } finally {
      await c.query('ROLLBACK')
    }
  })

  it('decides LOAD DATA as the write it is, and HANDLER as the read it is', async () => {
    const noReads: Policy['rules'] = [
      {name: 'no-reading-items', when: {tables: [`${db.name}.items`], kinds: ['select']}, action: 'deny'},
    ]
    await readOnly(noReads, async (rc) => {
      for (const [sql, rule] of [
        ["LOAD DATA INFILE '/tmp/dbgate-never-written' INTO TABLE items", /read-only/],
        ["LOAD DATA INFILE '/tmp/dbgate-never-written' REPLACE INTO TABLE items", /read-only/],
        ['HANDLER items OPEN AS h', /no-reading-items/],
        ['HANDLER items OPEN', /no-reading-items/],
      ] as const)
        await expect(rc.query(sql), sql).rejects.toMatchObject({
          errno: 1142,
          message: expect.stringMatching(rule),
        })
      // A table no rule names is read as before.
      await rc.query('HANDLER secrets OPEN')
      await rc.query('HANDLER secrets CLOSE')
    })
    expect(await itemsLeft()).toBe(2)
  })

  it('decides REPLACE as the write it is', async () => {
    await readOnly([], async (rc) => {
      await expect(rc.query("REPLACE INTO items VALUES (1, 'evil')")).rejects.toMatchObject({
        errno: 1142,
        message: expect.stringMatching(/read-only/),
      })
      await expect(rc.execute("REPLACE INTO items VALUES (?, 'evil')", [2])).rejects.toMatchObject({
        errno: 1142,
      })
      const [rows] = await rc.query('SELECT name FROM items ORDER BY id')
      expect(rows).toEqual([{name: 'apple'}, {name: 'pear'}])
    })
  })

  it('refuses LOAD DATA LOCAL INFILE when only the default action allows it', async () => {
    const open: Policy = {
      version: 1,
      defaults: {action: 'allow', unparseable: 'deny'},
      rules: [],
      masking: [],
    }
    const p = await startMysqlTestProxy(db.url, open)
    const lc = await mysql.createConnection({
      host: '127.0.0.1',
      port: p.port,
      user: 'root',
      database: db.name,
      infileStreamFactory: () => {
        throw new Error('the client was asked for a file')
      },
    })
    try {
      await expect(lc.query("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE items")).rejects.toMatchObject(
        {
          errno: 1148,
          message: expect.stringMatching(/LOAD DATA LOCAL INFILE is not allowed/),
        },
      )
      await expect(
        lc.query("LOAD DATA /* x */ /*!LOCAL*/ /* y */ INFILE '/etc/hostname' INTO TABLE items"),
      ).rejects.toMatchObject({errno: 1148})
      expect(await itemsLeft()).toBe(2)
      const [rows] = await lc.query('SELECT 1 AS ok')
      expect(rows).toEqual([{ok: 1}])
    } finally {
      await lc.end()
      await p.close()
    }
  })

  it('keeps the session usable after every denial', async () => {
    const [rows] = await c.query('SELECT name FROM items WHERE id = 2')
    expect(rows).toEqual([{name: 'pear'}])
    const [hinted] = await c.query('SELECT name FROM items FORCE INDEX (PRIMARY) WHERE id = 1')
    expect(hinted).toEqual([{name: 'apple'}])
  })
})
