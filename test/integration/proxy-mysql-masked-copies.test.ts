/**
 * MySQL: copies of masked columns into tables other sessions read are refused before they run (the
 * catalog is looked up on the session's connection first), with mysql2 (text and prepared) and the
 * `mysql` client against the real MariaDB: the refused statement changes nothing, the session goes on,
 * and a later session reads no seeded value. Copies into temporary tables, and writes of unmasked
 * columns, still run.
 */
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import mysql from 'mysql2/promise'
import {describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {mysqlProxyFixture, mysqlTestPolicy} from '../support/mysql-proxy.js'

const SENSITIVE = ['erin.copy@example.com', 'frank.copy@corp-mail.test', '219-09-9999']

const SETUP = (db: string): string => `
CREATE TABLE \`${db}\`.users (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100), ssn CHAR(11));
INSERT INTO \`${db}\`.users VALUES (1, 'Erin', '${SENSITIVE[0]}', '${SENSITIVE[2]}'), (2, 'Frank', '${SENSITIVE[1]}', NULL);
CREATE TABLE \`${db}\`.notes (id INT PRIMARY KEY, note VARCHAR(100));
INSERT INTO \`${db}\`.notes VALUES (1, 'n1'), (2, 'n2');
`

const policyFor = (db: string): Policy => ({
  ...mysqlTestPolicy(db),
  // Files of the server's are judged by what they would hold, not refused by kind.
  rules: mysqlTestPolicy(db).rules.filter((r) => r.name !== 'no-file-copy'),
  masking: [
    {name: 'mask-email', columns: [`${db}.users.email`], style: 'partial'},
    {name: 'mask-ssn', columns: ['*.users.ssn'], style: 'redact'},
    {name: 'mask-acct', columns: [`${db}.accounts.email`], style: 'redact'},
  ],
})

const {db, proxy} = mysqlProxyFixture('copies', {setup: SETUP, policy: policyFor})

function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'root',
    database: db.name,
    multipleStatements: true,
  })
}

/** Runs statements in one session; each gives its rows, or its error message. */
async function session(...sqls: string[]): Promise<(unknown[] | string)[]> {
  const c = await connect()
  try {
    const out: (unknown[] | string)[] = []
    for (const sql of sqls) {
      try {
        const [rows] = await c.query(sql)
        out.push(Array.isArray(rows) ? rows : [])
      } catch (err) {
        out.push((err as Error).message)
      }
    }
    return out
  } finally {
    await c.end()
  }
}

const leaks = (value: unknown): string[] => {
  const text = JSON.stringify(value).toLowerCase()
  return SENSITIVE.filter((s) => text.includes(s.toLowerCase()))
}

async function unchanged(): Promise<void> {
  expect(
    await db.admin(
      `SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${db.name}' AND TABLE_NAME = 'users' ORDER BY ORDINAL_POSITION`,
    ),
  ).toEqual([{c: 'id'}, {c: 'name'}, {c: 'email'}, {c: 'ssn'}])
  expect(await db.admin(`SELECT id, note FROM \`${db.name}\`.notes ORDER BY id`)).toEqual([
    {id: 1, note: 'n1'},
    {id: 2, note: 'n2'},
  ])
  expect(await db.admin(`SELECT id, name FROM \`${db.name}\`.users ORDER BY id`)).toEqual([
    {id: 1, name: 'Erin'},
    {id: 2, name: 'Frank'},
  ])
  expect(
    await db.admin(
      `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.name}' AND TABLE_NAME IN ('copied', 'people')`,
    ),
  ).toEqual([{n: 0}])
}

describe('a copy of a masked column into a table other sessions read', () => {
  it.each([
    ['CREATE TABLE copied AS SELECT * FROM users', 'copied.email', 'users.email'],
    ['CREATE TABLE copied SELECT id, LOWER(ssn) AS s FROM users', 'copied.s', 'users.ssn'],
    ['INSERT INTO notes SELECT id + 10, email FROM users', 'notes.note', 'users.email'],
    ['REPLACE INTO notes (id, note) SELECT id, ssn FROM users', 'notes.note', 'users.ssn'],
    ['INSERT INTO notes VALUES (3, (SELECT email FROM users WHERE id = 1))', 'notes.note', 'users.email'],
    [
      'INSERT INTO notes SET id = 3, note = (SELECT email FROM users WHERE id = 1)',
      'notes.note',
      'users.email',
    ],
    [
      'UPDATE notes n JOIN users u ON u.id = n.id SET n.note = u.email WHERE n.id > 0',
      'notes.note',
      'users.email',
    ],
    [
      "UPDATE notes, users SET note = CONCAT(email, '') WHERE notes.id = users.id",
      'notes.note',
      'users.email',
    ],
    ['UPDATE users SET name = email WHERE id > 0', 'users.name', 'users.email'],
    ["PREPARE s FROM 'INSERT INTO notes SELECT id + 10, email FROM users'", 'notes.note', 'users.email'],
    ['RENAME TABLE users TO people', 'people.email', 'users.email'],
    ['ALTER TABLE users RENAME COLUMN email TO contact', 'users.contact', 'users.email'],
    [
      "SELECT id, email FROM users INTO OUTFILE '/tmp/dbgate-never-written'",
      'the server file /tmp/dbgate-never-written',
      'users.email',
    ],
    [
      "select email from users into outfile '/tmp/dbgate-never-written-lower'",
      'the server file /tmp/dbgate-never-written-lower',
      'users.email',
    ],
    ['ALTER TABLE users ADD COLUMN e2 VARCHAR(100) AS (LOWER(email)) VIRTUAL', 'users.e2', 'users.email'],
    ['ALTER TABLE users ADD COLUMN e3 TEXT GENERATED ALWAYS AS (ssn) STORED', 'users.e3', 'users.ssn'],
    // A column added with a DEFAULT computed from other columns gets it in every stored row.
    ['ALTER TABLE users ADD COLUMN d VARCHAR(100) DEFAULT (email)', 'users.d', 'users.email'],
    ['ALTER TABLE users ADD COLUMN n INT DEFAULT (ASCII(ssn))', 'users.n', 'users.ssn'],
    // Text run at once: MariaDB's EXECUTE IMMEDIATE, and the sys schema's procedure that prepares it.
    ["EXECUTE IMMEDIATE 'INSERT INTO notes SELECT id + 10, email FROM users'", 'notes.note', 'users.email'],
    ["EXECUTE IMMEDIATE 'CREATE TABLE copied AS SELECT ssn FROM users'", 'copied.ssn', 'users.ssn'],
    // MariaDB's ANALYZE runs the statement it shows the plan of.
    ['ANALYZE UPDATE users SET name = LENGTH(email) WHERE id = 1', 'users.name', 'users.email'],
    [
      'ANALYZE FORMAT=JSON INSERT INTO notes SELECT id + 10, ASCII(ssn) FROM users',
      'notes.note',
      'users.ssn',
    ],
  ])('%s is refused and changes nothing', async (sql, target, source) => {
    const [refused, after] = await session(sql, 'SELECT 1 AS one')
    expect(refused).toEqual(expect.stringContaining(`copies masked column ${db.name}.${source} into`))
    const where = target.startsWith('the server file') ? target : `${db.name}.${target}`
    expect(refused).toEqual(expect.stringContaining(where))
    expect(after).toEqual([{one: 1}])
    await unchanged()
    const audit = proxy.audit.events.filter((e) => e.type === 'statement' && e.statement === sql)
    expect(audit.at(-1)).toMatchObject({decision: 'deny', rule: expect.stringMatching(/^mask-/)})
  })

  it('CALL sys.execute_prepared_stmt runs its text in sys: a copy through it is refused', async () => {
    const sql = `CALL sys.execute_prepared_stmt('INSERT INTO ${db.name}.notes SELECT id + 10, email FROM ${db.name}.users')`
    const [r, after] = await session(sql, 'SELECT 1 AS one')
    expect(r).toEqual(
      expect.stringContaining(`copies masked column ${db.name}.users.email into ${db.name}.notes.note`),
    )
    expect(after).toEqual([{one: 1}])
    await unchanged()
  })

  it('a session that ran stored code (CALL) still cannot copy: its own taints guard no table', async () => {
    await db.admin(`CREATE PROCEDURE \`${db.name}\`.nothing() BEGIN END`)
    try {
      const [called, copy, plain] = await session(
        'CALL nothing()',
        'INSERT INTO notes SELECT id + 10, email FROM users',
        "INSERT INTO notes VALUES (9, 'constant')",
      )
      expect(called).toEqual([])
      expect(copy).toEqual(expect.stringContaining(`copies masked column ${db.name}.users.email into`))
      expect(plain).toEqual([])
      expect(await db.admin(`SELECT note FROM \`${db.name}\`.notes WHERE id > 2 ORDER BY id`)).toEqual([
        {note: 'constant'},
      ])
    } finally {
      await db.admin(`DELETE FROM \`${db.name}\`.notes WHERE id > 2`)
      await db.admin(`DROP PROCEDURE \`${db.name}\`.nothing`)
    }
  })

  it("a file of the server's, whatever it holds: a .frm or .MRG written there becomes a table", async () => {
    const [r] = await session("SELECT 0x414243 INTO DUMPFILE '/tmp/dbgate-never-written.frm'")
    expect(r).toEqual(
      expect.stringContaining(
        'may store values of masked columns in the server file /tmp/dbgate-never-written.frm',
      ),
    )
  })

  it("LOAD DATA from a file of the server's: it may hold what an INTO OUTFILE stored there", async () => {
    const [r] = await session("LOAD DATA INFILE '/tmp/dbgate-never-written' INTO TABLE notes")
    expect(r).toEqual(expect.stringContaining(`may store values of masked columns in ${db.name}.notes`))
    await unchanged()
  })

  it('MariaDB SETVAL keeps a value in a sequence other sessions read', async () => {
    await db.admin(`CREATE SEQUENCE \`${db.name}\`.copy_seq`)
    try {
      const [r, plain] = await session(
        'SELECT SETVAL(copy_seq, ASCII(email)) FROM users WHERE id = 1',
        'SELECT SETVAL(copy_seq, 5)',
      )
      expect(r).toEqual(expect.stringContaining('what setval() keeps'))
      // A constant runs (its result, of a function lineage does not know, comes back masked).
      expect(plain).toHaveLength(1)
    } finally {
      await db.admin(`DROP SEQUENCE \`${db.name}\`.copy_seq`)
    }
  })

  it('a stored function given a masked column may keep it anywhere; GET_LOCK shows its name to others', async () => {
    await db.admin(`CREATE TABLE \`${db.name}\`.kept (v VARCHAR(100))`)
    await db.admin(
      `CREATE FUNCTION \`${db.name}\`.stash(t VARCHAR(100)) RETURNS VARCHAR(100) MODIFIES SQL DATA BEGIN INSERT INTO \`${db.name}\`.kept VALUES (t); RETURN t; END`,
    )
    try {
      const refused = await session(
        'SELECT stash(email) FROM users',
        'SELECT id FROM users WHERE stash(ssn) IS NULL',
        `SELECT \`${db.name}\`.stash(CONCAT(name, email)) FROM users`,
        'SELECT GET_LOCK(email, 0) FROM users WHERE id = 1',
        // DO evaluates its expressions as a SELECT does.
        'DO stash((SELECT email FROM users WHERE id = 1))',
      )
      expect(refused).toEqual([
        expect.stringContaining(`copies masked column ${db.name}.users.email into what stash() keeps`),
        expect.stringContaining(`copies masked column ${db.name}.users.ssn into what stash() keeps`),
        expect.stringContaining(`into what ${db.name}.stash() keeps`),
        expect.stringContaining('into what get_lock() keeps'),
        expect.stringContaining(`copies masked column ${db.name}.users.email into what stash() keeps`),
      ])
      expect(await db.admin(`SELECT v FROM \`${db.name}\`.kept`)).toEqual([])
      // Columns no rule masks, and constants, still go.
      const [named, constant, exists] = await session(
        'SELECT stash(name) FROM users WHERE id = 1',
        "SELECT stash('x')",
        'SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM users v WHERE v.email = u.email) AND u.ssn = ANY (SELECT ssn FROM users)',
      )
      expect([named, constant, exists].map((r) => typeof r)).toEqual(['object', 'object', 'object'])
      expect(await db.admin(`SELECT v FROM \`${db.name}\`.kept ORDER BY v`)).toEqual([{v: 'Erin'}, {v: 'x'}])
      await unchanged()
    } finally {
      await db.admin(`DROP FUNCTION \`${db.name}\`.stash`)
      await db.admin(`DROP TABLE \`${db.name}\`.kept`)
    }
  })

  it('mysql2 prepared statements: refused at prepare, with the session going on', async () => {
    const c = await connect()
    try {
      await expect(c.execute('INSERT INTO notes SELECT id + ?, email FROM users', [20])).rejects.toThrow(
        /copies masked column/,
      )
      const [r] = await c.execute('INSERT INTO notes SELECT id + ?, name FROM users', [20])
      expect(r).toMatchObject({affectedRows: 2})
      const [rows] = await c.query('SELECT note FROM notes WHERE id > 20 ORDER BY id')
      expect(rows).toEqual([{note: 'Erin'}, {note: 'Frank'}])
    } finally {
      await c.end()
      await db.admin(`DELETE FROM \`${db.name}\`.notes WHERE id > 20`)
    }
  })

  it('a multi-statement query: refused when DDL earlier in it leaves the catalog unknown', async () => {
    const [r] = await session('CREATE TABLE fresh (e VARCHAR(100)); INSERT INTO fresh SELECT name FROM users')
    expect(r).toEqual(expect.stringContaining('after DDL earlier in this query'))
    expect(
      await db.admin(
        `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.name}' AND TABLE_NAME = 'fresh'`,
      ),
    ).toEqual([{n: 0}])
  })

  it('the mysql client: the refusal explains itself', async () => {
    const out = await promisify(execFile)(
      'mysql',
      [
        '-h',
        '127.0.0.1',
        '-P',
        String(proxy.port),
        '-u',
        'root',
        '--force',
        '-N',
        db.name,
        '-e',
        "CREATE TABLE leak AS SELECT id, email FROM users; SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'leak'",
      ],
      {encoding: 'utf8'},
    ).catch((err: {stdout: string; stderr: string}) => err)
    expect(out.stderr).toContain(`copies masked column ${db.name}.users.email into ${db.name}.leak.email`)
    expect(out.stderr).toContain('CREATE TEMPORARY TABLE')
    const later = await session('SELECT * FROM notes', 'SELECT * FROM users')
    expect(leaks(later)).toEqual([])
  })
})

describe('what still runs', () => {
  it('copies into temporary tables, masked for the rest of the session', async () => {
    const r = await session(
      'CREATE TEMPORARY TABLE t1 AS SELECT id, email FROM users',
      'SELECT email FROM t1',
      'SELECT * FROM t1',
    )
    expect(r.filter((x) => typeof x === 'string')).toEqual([])
    expect(leaks(r)).toEqual([])
    expect(r[1]).toHaveLength(2)
  })

  it('refuses conditions and sorts on temporary tables, whose columns it cannot trace', async () => {
    // A copy may hold values computed from a masked column: `a = 101` would look one up.
    const r = await session(
      'CREATE TEMPORARY TABLE t3 AS SELECT ASCII(email) AS a FROM users',
      'SELECT COUNT(*) AS n FROM t3 WHERE a = 101',
      'SELECT a FROM t3 ORDER BY a',
    )
    expect(r[1]).toEqual(expect.stringMatching(/by a condition computed from values dbgate cannot trace/))
    expect(r[2]).toEqual(expect.stringMatching(/sorts rows by values dbgate cannot trace/))
  })

  it('writes of unmasked columns, a masked column into itself, and renames the rules still cover', async () => {
    const r = await session(
      'CREATE TABLE names_copy AS SELECT id, name FROM users',
      'UPDATE users SET email = email WHERE id = 1',
      "INSERT INTO notes SELECT id + 30, name FROM users WHERE email = 'erin.copy@example.com'",
      'ALTER TABLE users RENAME COLUMN name TO full_name',
      'ALTER TABLE users RENAME COLUMN full_name TO name',
      'SELECT note FROM notes WHERE id > 30',
    )
    expect(r.filter((x) => typeof x === 'string')).toEqual([])
    expect(leaks(r)).toEqual([])
    expect(r[5]).toEqual([{note: 'Erin'}])
    expect(await db.admin(`SELECT id, name FROM \`${db.name}\`.names_copy ORDER BY id`)).toEqual([
      {id: 1, name: 'Erin'},
      {id: 2, name: 'Frank'},
    ])
    await db.admin(`DROP TABLE \`${db.name}\`.names_copy; DELETE FROM \`${db.name}\`.notes WHERE id > 30`)
  })
})

describe('generated columns are masked like the columns they are computed from', () => {
  it('reads, derived reads and copies of a generated column over a masked column', async () => {
    await db.admin(
      `CREATE TABLE \`${db.name}\`.accounts (id INT PRIMARY KEY, email VARCHAR(100), name VARCHAR(50),
         email_norm VARCHAR(100) AS (LOWER(TRIM(\`email\`))) STORED, label VARCHAR(50) AS (UPPER(name)) VIRTUAL);
       INSERT INTO \`${db.name}\`.accounts (id, email, name) VALUES (1, 'Grace.Gen@Example.com', 'grace')`,
    )
    const c = await connect()
    try {
      const [plain] = await c.query('SELECT email_norm, label FROM accounts')
      const [star] = await c.query('SELECT * FROM accounts')
      const [derived] = await c.query("SELECT CONCAT(email_norm, '') AS x FROM accounts")
      await expect(c.query('INSERT INTO notes SELECT id + 50, email_norm FROM accounts')).rejects.toThrow(
        /copies masked column .*accounts\.email into .*notes\.note/,
      )
      const text = JSON.stringify([plain, star, derived]).toLowerCase()
      expect(text).not.toContain('grace.gen@')
      expect(plain).toEqual([{email_norm: '[REDACTED]', label: 'GRACE'}])
    } finally {
      await c.end()
      await db.admin(`DROP TABLE \`${db.name}\`.accounts`)
    }
  })
})
