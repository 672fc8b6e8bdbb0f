/**
 * Red-team round against the MySQL proxy and the real MariaDB: sql_mode games that make the server
 * split a query differently from the guard, and ways to move a masked column's values somewhere no
 * rule names (a user variable written into a table, a renamed table or column) within one session.
 */
import {randomBytes} from 'node:crypto'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {
  mysqlScratch,
  mysqlTestPolicy,
  startMysqlTestProxy,
  type MysqlScratch,
  type MysqlTestProxy,
} from '../support/mysql-proxy.js'

/** A value no classifier finds: only column masking and lineage keep it in. */
const SECRET = 'quokka-7731-private'

let db: MysqlScratch
let proxy: MysqlTestProxy

const SETUP = (d: string): string => `
CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY, name VARCHAR(50));
INSERT INTO \`${d}\`.items VALUES (1, 'apple'), (2, 'pear');
CREATE TABLE \`${d}\`.vault (id INT PRIMARY KEY, code VARCHAR(40), label VARCHAR(40));
INSERT INTO \`${d}\`.vault VALUES (1, '${SECRET}', 'open');
CREATE TABLE \`${d}\`.pub (v TEXT);
CREATE TABLE \`${d}\`.secrets (id INT, v TEXT);
INSERT INTO \`${d}\`.secrets VALUES (1, 'top-secret-value');
CREATE VIEW \`${d}\`.v_secrets AS SELECT * FROM \`${d}\`.secrets;
CREATE VIEW \`${d}\`.v_of_v AS SELECT v FROM \`${d}\`.v_secrets;
CREATE VIEW \`${d}\`.v_joined AS SELECT i.name, s.v FROM \`${d}\`.items i JOIN \`${d}\`.secrets s USING (id);
CREATE VIEW \`${d}\`.v_items AS SELECT id, name FROM \`${d}\`.items;`

const policyFor = (d: string): Policy => ({
  ...mysqlTestPolicy(d),
  masking: [{name: 'vault-code', columns: [`${d}.vault.code`], style: 'redact'}],
})

beforeAll(async () => {
  db = await mysqlScratch('mysql_redteam')
  await db.admin(SETUP(db.name))
  proxy = await startMysqlTestProxy(`mysql://root@127.0.0.1:3306/${db.name}`, policyFor(db.name))
})

afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

/** A client session through the proxy. */
function connect(options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'root',
    database: db.name,
    multipleStatements: true,
    ...options,
  })
}

/** Runs each step in one fresh session through the proxy; returns every row the client received. */
async function session(steps: readonly string[]): Promise<{rows: string; errors: string[]}> {
  const c = await connect()
  const rows: unknown[] = []
  const errors: string[] = []
  try {
    for (const sql of steps)
      try {
        rows.push((await c.query(sql))[0])
      } catch (e) {
        errors.push((e as Error).message)
      }
  } finally {
    await c.end()
  }
  return {rows: JSON.stringify(rows), errors}
}

async function itemsLeft(): Promise<number> {
  const rows = (await db.admin(
    `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.name}' AND TABLE_NAME = 'items'`,
  )) as {n: number}[]
  if (Number(rows[0]?.n) !== 1) return -1
  return Number(((await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.items`)) as {n: number}[])[0]?.n)
}

describe('a query the server splits differently under another sql_mode is refused', () => {
  it.each([
    ["SET sql_mode = 'NO_BACKSLASH_ESCAPES'", "SELECT '\\' ; DROP TABLE items; -- '"],
    ["SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT '\\' ; DROP TABLE items; -- '"],
    ["SET SESSION sql_mode = 'ANSI_QUOTES'", 'SELECT 1 AS "\\"; DROP TABLE items; -- "'],
    ["SET @@sql_mode = 'NO_BACKSLASH_ESCAPES'", "SELECT '\\'; DROP TABLE items; SELECT '"],
  ])('%s | %s', async (...steps) => {
    const {errors} = await session(steps)
    expect(errors).toEqual([expect.stringMatching(/denied by defaults.unparseable.*NO_BACKSLASH_ESCAPES/)])
    expect(await itemsLeft()).toBe(2)
  })

  it('refuses a latin1 client hiding a table behind bytes the server reads as spaces', async () => {
    const c = await connect({charset: 'LATIN1_SWEDISH_CI', multipleStatements: false})
    try {
      // Encoded in latin1, U+00A0 is byte 0xA0: whitespace to MariaDB, not UTF-8 to the guard.
      const hidden = 'SELECT 1 FROM items\u00a0UNION\u00a0SELECT\u00a0v\u00a0FROM\u00a0secrets'
      await expect(c.query(hidden)).rejects.toMatchObject({
        errno: 1142,
        message: expect.stringMatching(/not UTF-8/),
      })
      const [rows] = await c.query("SELECT name, 'café' AS c FROM items ORDER BY id LIMIT 1")
      expect(rows).toEqual([{name: 'apple', c: 'café'}])
    } finally {
      await c.end()
    }
  })

  it('still runs strings whose backslashes every mode reads alike', async () => {
    const {rows, errors} = await session(["SELECT 'C:\\\\dir' AS p, 'it\\'s' AS q"])
    expect(errors).toEqual([])
    expect(JSON.parse(rows)).toEqual([[{p: 'C:\\dir', q: "it's"}]])
  })
})

describe('a masked column moved where no rule names it is refused before it runs', () => {
  it.each([
    // a user variable written into a table
    ['SELECT code INTO @s FROM vault', 'INSERT INTO pub VALUES (@s)', 'SELECT v, CONCAT(v, "") FROM pub'],
    ['SELECT code INTO @s FROM vault', 'INSERT INTO pub SET v = @s', 'SELECT * FROM pub'],
    ['SET @s = (SELECT code FROM vault)', 'INSERT INTO pub SELECT @s', 'SELECT * FROM pub'],
    [
      'SELECT code INTO @s FROM vault',
      "INSERT INTO pub VALUES ('x')",
      "UPDATE pub SET v = @s WHERE v = 'x'",
      'SELECT * FROM pub',
    ],
    // the table or the column renamed
    ['RENAME TABLE vault TO vault2', 'SELECT * FROM vault2', 'RENAME TABLE vault2 TO vault'],
    ['ALTER TABLE vault RENAME TO vault3', 'SELECT code FROM vault3', 'ALTER TABLE vault3 RENAME TO vault'],
    [
      'ALTER TABLE vault RENAME COLUMN code TO c2',
      'SELECT c2 FROM vault',
      'ALTER TABLE vault RENAME COLUMN c2 TO code',
    ],
    [
      'ALTER TABLE vault CHANGE code c3 VARCHAR(40)',
      'SELECT UPPER(c3) FROM vault',
      'ALTER TABLE vault CHANGE c3 code VARCHAR(40)',
    ],
  ])('%s | %s | ...', async (...steps) => {
    const {rows, errors} = await session(steps)
    const stored = await db.admin(`SELECT * FROM \`${db.name}\`.pub`)
    await db.admin(`DELETE FROM \`${db.name}\`.pub`)
    expect(`${rows}${errors.join()}${JSON.stringify(stored)}`.toLowerCase()).not.toContain(SECRET)
    expect(errors[0]).toMatch(
      /denied by rule "vault-code": (copies masked column|may store values of masked columns)/,
    )
    expect(await db.admin(`SELECT code FROM \`${db.name}\`.vault`)).toEqual([{code: SECRET}])
  })
})

describe('a masked column moved where no rule names it stays masked for the session', () => {
  it.each([
    // ANSI_QUOTES: "code" is the column, not a string
    ["SET sql_mode = 'ANSI_QUOTES'", `SELECT CONCAT("code", '') AS x, UPPER("code") FROM vault`],
    ["SET sql_mode = 'ANSI_QUOTES'", `SELECT LOWER("x") FROM (SELECT code AS x FROM vault) t`],
    // a value passed to a prepared statement, or copied into a system variable
    ['SELECT code INTO @s FROM vault', "PREPARE p FROM 'SELECT ?'", 'EXECUTE p USING @s'],
    [
      'SELECT code INTO @s FROM vault',
      'SET @@session.default_master_connection = @s',
      'SELECT @@default_master_connection',
    ],
    [
      'SELECT code INTO @s FROM vault',
      'SET @@session.default_master_connection = @s',
      "SHOW VARIABLES LIKE 'default_master%'",
      "SELECT VARIABLE_VALUE FROM information_schema.SESSION_VARIABLES WHERE VARIABLE_NAME LIKE 'DEFAULT_MASTER%'",
    ],
    [
      'SET @s = (SELECT code FROM vault); SET SESSION default_master_connection = @s; SELECT @@default_master_connection',
    ],
  ])('%s | %s | ...', async (...steps) => {
    const {rows} = await session(steps)
    await db.admin(`DELETE FROM \`${db.name}\`.pub`)
    expect(rows.toLowerCase()).not.toContain(SECRET)
    expect(rows).toContain('[REDACTED]')
  })

  it('LAST_INSERT_ID(expr) keeps a value for the session: LAST_INSERT_ID() then returns it masked', async () => {
    // One character at a time, as a number: no string of the secret ever appears.
    const leaked = String(SECRET.charCodeAt(0))
    for (const steps of [
      [
        'SELECT LAST_INSERT_ID(ASCII(code)) FROM vault',
        'SELECT LAST_INSERT_ID() AS v, @@last_insert_id AS w',
      ],
      ['SELECT LAST_INSERT_ID(ASCII(code)) FROM vault; SELECT LAST_INSERT_ID() AS v'],
      // The OK of a statement that keeps one carries it too (mysql2's insertId).
      ['DO LAST_INSERT_ID((SELECT ASCII(code) FROM vault))', 'SELECT LAST_INSERT_ID() AS v'],
    ]) {
      const {rows, errors} = await session(steps)
      // LAST_INSERT_ID(expr) converts a string argument with a warning: refused as a computation that
      // can fail or warn (fallible.ts) when it reads a masked column, or run with its value masked.
      for (const e of errors) expect(e).toMatch(/computes from masked column \S+\.vault\.code with a cast/)
      expect(rows).not.toContain(leaked)
    }
    // In a WHERE, the call is a condition computed from the masked column: refused before it runs.
    const {rows: kept, errors} = await session([
      'UPDATE items SET name = name WHERE id = LAST_INSERT_ID((SELECT ASCII(code) FROM vault))',
    ])
    expect(errors).toEqual([expect.stringMatching(/by a condition computed from masked column/)])
    expect(kept).not.toContain(leaked)
    // A constant kept, or an insert's own id, still reads as it is.
    const {rows} = await session(['SELECT LAST_INSERT_ID(4242)', 'SELECT LAST_INSERT_ID() AS v'])
    expect(rows).toContain('4242')
  })

  it.each([
    ['SET sql_mode = (SELECT code FROM vault)'],
    ['SELECT code INTO @s FROM vault', 'SET @@session.sql_mode = @s'],
    ['SELECT code INTO @s FROM vault', 'SET SESSION character_set_client = @s'],
    ["SELECT EXTRACTVALUE(1, CONCAT('~', (SELECT code FROM vault))) FROM items"],
  ])('withholds an error that quotes what it read: %s | ...', async (...steps) => {
    const {rows, errors} = await session(steps)
    expect(`${rows}${errors.join()}`.toLowerCase()).not.toContain(SECRET)
    // Withheld, or (EXTRACTVALUE fails for some values) refused before it runs.
    expect(errors.at(-1)).toMatch(
      /withheld because the statement reads masked columns|computes from masked column \S+\.vault\.code with a cast/,
    )
  })

  it('a session that moved nothing reads its own tables unmasked', async () => {
    const {rows} = await session([
      "INSERT INTO pub VALUES ('plain')",
      'SELECT v FROM pub',
      "SET @p = 'mine'",
      'INSERT INTO pub VALUES (CONCAT("x", "y"))',
      'SELECT label FROM vault WHERE code <> "none"',
      'SET autocommit = 1',
      'SELECT @@autocommit AS a',
    ])
    await db.admin(`DELETE FROM \`${db.name}\`.pub`)
    expect(JSON.parse(rows)).toEqual([
      expect.anything(),
      [{v: 'plain'}],
      expect.anything(),
      expect.anything(),
      [{label: 'open'}],
      expect.anything(),
      [{a: 1}],
    ])
  })
})

describe('a view over a table a rule names meets that rule', () => {
  it.each([
    ['SELECT * FROM v_secrets'],
    ['SELECT v FROM v_of_v'],
    ['SELECT name FROM v_joined'],
    ['SELECT i.name FROM items i JOIN v_secrets s ON s.id = i.id'],
    ['SELECT 1; SELECT * FROM v_of_v'],
    ["PREPARE p FROM 'SELECT v FROM v_of_v'"],
  ])('%s | ...', async (...steps) => {
    const {rows, errors} = await session([...steps, 'SELECT COUNT(*) AS n FROM v_items'])
    expect(errors).toEqual([expect.stringContaining('secrets-need-review')])
    expect(rows).not.toContain('top-secret-value')
    // The session goes on, and a view over tables no rule names runs.
    expect((JSON.parse(rows) as unknown[]).at(-1)).toEqual([{n: 2}])
  })

  it('through a prepared statement, and for a view created after the name was first read', async () => {
    const c = await connect({multipleStatements: false})
    try {
      await expect(c.execute('SELECT v FROM v_secrets WHERE id = ?', [1])).rejects.toThrow(
        /secrets-need-review/,
      )
      expect((await c.execute('SELECT name FROM v_items WHERE id = ?', [1]))[0]).toEqual([{name: 'apple'}])
      // The name was a table when first looked up; after the session's own DDL it is asked again.
      await c.query('CREATE TABLE v_late (id INT)')
      await c.query('SELECT * FROM v_late')
      await db.admin(
        `DROP TABLE \`${db.name}\`.v_late; CREATE VIEW \`${db.name}\`.v_late AS SELECT * FROM \`${db.name}\`.secrets`,
      )
      await c.query('CREATE TABLE t_ddl (id INT)')
      await expect(c.query('SELECT * FROM v_late')).rejects.toThrow(/secrets-need-review/)
    } finally {
      await c.end()
      await db.admin(`DROP VIEW IF EXISTS \`${db.name}\`.v_late; DROP TABLE IF EXISTS \`${db.name}\`.t_ddl`)
    }
  })

  it('refuses a view whose definition the user may not see, and says which grant is missing', async () => {
    const user = `dbg_views_${randomBytes(3).toString('hex')}`
    await db.admin(
      `CREATE USER '${user}'@'%'; GRANT SELECT ON \`${db.name}\`.v_items TO '${user}'@'%'; ` +
        `GRANT SELECT ON \`${db.name}\`.items TO '${user}'@'%'`,
    )
    const own = await startMysqlTestProxy(
      `mysql://${user}@127.0.0.1:3306/${db.name}?ssl-mode=disabled`,
      mysqlTestPolicy(db.name),
    )
    const c = await mysql.createConnection({host: '127.0.0.1', port: own.port, user, database: db.name})
    try {
      await expect(c.query('SELECT * FROM v_items')).rejects.toThrow(
        /views this statement names read.*v_items is hidden from this user: grant it SHOW VIEW/,
      )
      expect((await c.query('SELECT name FROM items WHERE id = 2'))[0]).toEqual([{name: 'pear'}])
      await db.admin(`GRANT SHOW VIEW ON \`${db.name}\`.v_items TO '${user}'@'%'`)
      const d = await mysql.createConnection({host: '127.0.0.1', port: own.port, user, database: db.name})
      try {
        expect((await d.query('SELECT COUNT(*) AS n FROM v_items'))[0]).toEqual([{n: 2}])
      } finally {
        await d.end()
      }
    } finally {
      await c.end()
      await own.close()
      await db.admin(`DROP USER IF EXISTS '${user}'@'%'`)
    }
  })
})
