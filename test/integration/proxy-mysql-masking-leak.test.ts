/**
 * The MySQL masking leak suite: seeded PII in a real MariaDB table, read through the proxy in every
 * derived form we know of, with mysql2 (text and binary protocol) and the `mysql` command-line client.
 * No byte the client receives may contain a seeded value, nor its reverse, base64 or hex encoding;
 * benign columns arrive unchanged.
 */
import {execFile} from 'node:child_process'
import net from 'node:net'
import {promisify} from 'node:util'

import mysql from 'mysql2/promise'
import {describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {mysqlProxyFixture, mysqlTestPolicy, startMysqlTestProxy} from '../support/mysql-proxy.js'

const run = promisify(execFile)

const SENSITIVE = [
  'alice.smith@example.com',
  'bob.jones@corp-mail.test',
  '219-09-9999',
  '078-05-1120',
  '4111 1111 1111 1111',
  '5500-0000-0000-0004',
  'call alice at alice.smith@example.com, ssn 219-09-9999',
  'card 5500000000000004 belongs to bob',
]
const FREE_TEXT = 'carol.white@mailbox.test'
/** A masked value no classifier would find: only column masking keeps it in. */
const UNDETECTABLE = 'quokka-7731-private'

const SETUP = (db: string): string => `
CREATE TABLE \`${db}\`.users (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100), ssn CHAR(11),
  card VARCHAR(30), note TEXT, bio TEXT, born DATE, score DECIMAL(10,2));
INSERT INTO \`${db}\`.users VALUES
  (1, 'Alice Smith', '${SENSITIVE[0]}', '${SENSITIVE[2]}', '${SENSITIVE[4]}', '${SENSITIVE[6]}', 'write to ${FREE_TEXT}', '1980-01-02', 10.5),
  (2, 'Bob Jones', '${SENSITIVE[1]}', '${SENSITIVE[3]}', '${SENSITIVE[5]}', '${SENSITIVE[7]}', 'nothing here', '1990-03-04', 20.25);
CREATE VIEW \`${db}\`.v_users AS SELECT id, name, email AS mail FROM \`${db}\`.users;
CREATE VIEW \`${db}\`.v_lower AS SELECT id, LOWER(email) AS e FROM \`${db}\`.users;
CREATE VIEW \`${db}\`.v_nested AS SELECT id, mail FROM \`${db}\`.v_users;
CREATE VIEW \`${db}\`.v_swap AS SELECT id, name FROM \`${db}\`.users;
CREATE TABLE \`${db}\`.swap (a TEXT, b TEXT);
INSERT INTO \`${db}\`.swap VALUES ('harmless', '${UNDETECTABLE}');
CREATE TABLE \`${db}\`.vault (id INT PRIMARY KEY, code VARCHAR(40));
INSERT INTO \`${db}\`.vault VALUES (1, '${UNDETECTABLE}');
CREATE TABLE \`${db}\`.orders (id INT, user_id INT, total INT);
INSERT INTO \`${db}\`.orders VALUES (10, 1, 100), (11, 2, 200);
`

const policyFor = (db: string): Policy => ({
  ...mysqlTestPolicy(db),
  masking: [
    {name: 'pii-email', columns: [`${db}.users.email`], style: 'partial'},
    {name: 'pii-ids', columns: ['*.users.ssn', '*.users.card', '*.users.born'], style: 'partial'},
    {name: 'pii-note', columns: [`${db}.users.note`], style: 'redact'},
    {name: 'swap-b', columns: [`${db}.swap.b`, `${db}.vault.code`], style: 'redact'},
    {name: 'free-text', detect: ['email', 'ssn', 'credit_card'], style: 'redact'},
  ],
})

/** Every form of every seeded value that must never reach the client. */
function needles(): string[] {
  const out: string[] = []
  for (const v of [...SENSITIVE, FREE_TEXT, UNDETECTABLE]) {
    const b = Buffer.from(v)
    out.push(v, [...v].reverse().join(''), b.toString('base64'), b.toString('hex'))
  }
  // A date of birth is masked too (NULL): its text forms must not appear either.
  out.push('1980-01-02', '1990-03-04')
  return out.map((n) => n.toLowerCase())
}
const NEEDLES = needles()

function leaks(bytes: Buffer): string[] {
  const all = bytes.toString('latin1').toLowerCase()
  return NEEDLES.filter((n) => all.includes(n))
}

/** A TCP tap between the client and the proxy: every byte the client receives is recorded. */
interface Tap {
  readonly port: number
  received(): Buffer
  close(): Promise<void>
}

async function tap(port: number): Promise<Tap> {
  const chunks: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.on('data', (d) => upstream.write(d))
    upstream.on('data', (d) => {
      chunks.push(d)
      client.write(d)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address() as net.AddressInfo
  return {
    port: addr.port,
    received: () => Buffer.concat(chunks),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function session<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<{bytes: Buffer; result: T}> {
  const t = await tap(proxy.port)
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port: t.port,
    user: 'root',
    database: db.name,
    multipleStatements: true,
  })
  try {
    const result = await fn(c)
    return {bytes: t.received(), result}
  } finally {
    await c.end()
    await t.close()
  }
}

/** Runs each statement in turn: the error message of each, or `ran: SQL` when it ran. */
async function attempts(c: mysql.Connection, sqls: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const sql of sqls)
    try {
      await c.query(sql)
      out.push(`ran: ${sql}`)
    } catch (e) {
      out.push((e as Error).message)
    }
  return out
}

const {db, proxy} = mysqlProxyFixture('mask_leak', {setup: SETUP, policy: policyFor})

const EXFILTRATION = [
  'SELECT email FROM users',
  'SELECT * FROM users',
  'SELECT users.* FROM users',
  'SELECT LOWER(email) FROM users',
  'SELECT UPPER(email), UCASE(ssn) FROM users',
  "SELECT CONCAT(email, '') FROM users",
  "SELECT CONCAT_WS('-', name, email, ssn) FROM users",
  "SELECT JSON_OBJECT('e', email, 'n', note) FROM users",
  'SELECT JSON_ARRAY(email, ssn, card) FROM users',
  'SELECT JSON_ARRAYAGG(email), JSON_OBJECTAGG(name, ssn) FROM users',
  "SELECT GROUP_CONCAT(email SEPARATOR ',') FROM users",
  'SELECT GROUP_CONCAT(DISTINCT card ORDER BY id) FROM users',
  'SELECT TO_BASE64(email), TO_BASE64(ssn) FROM users',
  'SELECT HEX(email), HEX(card) FROM users',
  'SELECT REVERSE(email), REVERSE(ssn) FROM users',
  "SELECT REPLACE(card, ' ', ''), REPLACE(card, '-', '') FROM users",
  "SELECT INSERT(email, 1, 0, ''), INSERT(ssn, 4, 1, '-') FROM users",
  'SELECT CONCAT(SUBSTRING(email, 1, 5), SUBSTRING(email, 6)) FROM users',
  'SELECT CONCAT(LEFT(ssn, 4), MID(ssn, 5, 3), RIGHT(ssn, 4)) FROM users',
  'SELECT CAST(email AS CHAR), CAST(ssn AS BINARY) FROM users',
  'SELECT CONVERT(email USING utf8mb4), CONVERT(card, CHAR) FROM users',
  'SELECT CASE WHEN id > 0 THEN email ELSE name END FROM users',
  'SELECT IF(id = 1, ssn, card), IFNULL(email, name), COALESCE(note, name) FROM users',
  'SELECT (SELECT email FROM users WHERE id = 1)',
  'SELECT total, (SELECT GROUP_CONCAT(ssn) FROM users) FROM orders',
  'SELECT x.e FROM (SELECT email AS e FROM users) x',
  'SELECT * FROM (SELECT * FROM users) s',
  'SELECT * FROM (SELECT id, CONCAT(email, note) AS c FROM users) s',
  'WITH x AS (SELECT email FROM users) SELECT * FROM x',
  'WITH x(e) AS (SELECT ssn FROM users) SELECT LOWER(e) FROM x',
  'WITH RECURSIVE r(e, n) AS (SELECT email, 1 FROM users UNION ALL SELECT e, n + 1 FROM r WHERE n < 2) SELECT e FROM r',
  'SELECT email FROM users UNION ALL SELECT name FROM users',
  'SELECT name FROM users UNION SELECT card FROM users',
  'SELECT * FROM v_users',
  'SELECT e FROM v_lower',
  'SELECT mail, UPPER(mail) FROM v_nested',
  'SELECT t.*, o.total FROM users t JOIN orders o ON o.user_id = t.id',
  'SELECT MIN(email), MAX(ssn), MAX(born) FROM users',
  'SELECT SHA2(email, 256) = SHA2(email, 256), email FROM users',
  "SELECT AES_DECRYPT(AES_ENCRYPT(email, 'k'), 'k') FROM users",
  'SELECT UNHEX(HEX(email)), FROM_BASE64(TO_BASE64(ssn)) FROM users',
  "SELECT CONCAT(SUBSTRING_INDEX(email, '@', 1), '@', SUBSTRING_INDEX(email, '@', -1)) FROM users",
  "SELECT LPAD(ssn, 20, '*'), RPAD(card, 30, '.') FROM users",
  'SELECT email AS name FROM users',
  'SELECT DISTINCT email FROM users ORDER BY 1 LIMIT 1 OFFSET 1',
  'SELECT DATE_FORMAT(born, "%Y-%m-%d"), born + 0, YEAR(born) * 10000 + MONTH(born) * 100 + DAY(born) FROM users',
  'SELECT 1 /*!50000 , (SELECT ssn FROM users LIMIT 1) */',
  'SELECT id /*M!100000 , email */ FROM users',
  "SELECT email FROM users WHERE email LIKE '%alice%'",
  'SELECT note, bio FROM users',
  'SELECT `EMAIL`, `users`.`SSN` FROM `users`',
  'SELECT email INTO @e FROM users WHERE id = 1; SELECT @e, CONCAT(@e, "")',
  'SET @s = (SELECT ssn FROM users WHERE id = 2); SELECT @s',
  'SELECT @x := email FROM users',
  'SELECT CAST(email AS SIGNED) FROM users; SHOW WARNINGS',
  'SELECT id FROM users WHERE email = 0; SHOW WARNINGS',
  'SELECT JSON_EXTRACT(JSON_OBJECT("e", email), "$.e") FROM users',
  "SELECT JSON_VALUE(JSON_OBJECT('s', ssn), '$.s') FROM users",
  'EXPLAIN EXTENDED SELECT email, ssn FROM users WHERE id = 1; SHOW WARNINGS',
  'EXPLAIN FORMAT=JSON SELECT email FROM users WHERE id = 1',
  'ANALYZE FORMAT=JSON SELECT email FROM users WHERE id = 1',
  "SET optimizer_trace = 'enabled=on'; SELECT email FROM users WHERE id = 1; SELECT * FROM information_schema.OPTIMIZER_TRACE",
  'SELECT EXTRACTVALUE(1, CONCAT(0x7e, (SELECT email FROM users LIMIT 1)))',
  'SELECT UPDATEXML(1, CONCAT(0x7e, (SELECT ssn FROM users LIMIT 1)), 1)',
  'SELECT id FROM users WHERE ssn = (SELECT card FROM users WHERE id = 1) + 0',
  // Values no classifier finds: only column masking and lineage keep them in.
  'SELECT code, UPPER(code) FROM vault',
  'EXPLAIN EXTENDED SELECT code FROM vault WHERE id = 1; SHOW WARNINGS',
  'EXPLAIN FORMAT=JSON SELECT code FROM vault WHERE id = 1',
  'ANALYZE FORMAT=JSON SELECT code FROM vault WHERE id = 1',
  "SET optimizer_trace = 'enabled=on'; SELECT code FROM vault WHERE id = 1; SELECT * FROM information_schema.OPTIMIZER_TRACE",
  'SELECT EXTRACTVALUE(1, CONCAT(0x7e, (SELECT code FROM vault LIMIT 1)))',
  'SELECT code + 0 FROM vault; SHOW WARNINGS',
  'SELECT id FROM vault WHERE code = 0; SHOW WARNINGS',
  'SELECT id FROM vault WHERE code = 0; SELECT @@warning_count; SHOW WARNINGS',
  'SELECT CAST(code AS INT) FROM vault; GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT; SELECT @m',
  'SELECT email, ssn FROM users FORCE INDEX (PRIMARY)',
  'BEGIN; UPDATE IGNORE users SET name = email WHERE id = 1; SELECT name FROM users WHERE id = 1; ROLLBACK',
  'BEGIN; UPDATE LOW_PRIORITY users SET bio = ssn WHERE id = 1; SELECT bio, UPPER(bio) FROM users; ROLLBACK',
  'SELECT u.card, o.total FROM users u USE INDEX (PRIMARY) JOIN orders o USE INDEX () ON o.user_id = u.id',
  'SHOW CREATE TABLE users',
  'SHOW CREATE VIEW v_users',
  "SELECT * FROM information_schema.VIEWS WHERE TABLE_NAME LIKE 'v_%'",
  "SELECT * FROM information_schema.COLUMNS WHERE TABLE_NAME = 'users'",
]

describe('no seeded value leaves the MySQL proxy', () => {
  it.each(EXFILTRATION)('%s', async (sql) => {
    const {bytes} = await session(async (c) => {
      try {
        await c.query(sql)
      } catch {
        // A denial or a server error is fine: what matters is what reached the client.
      }
    })
    expect(leaks(bytes)).toEqual([])
  })

  it.each(EXFILTRATION.filter((q) => !q.includes(';') && !q.includes('@')))(
    'binary protocol: %s',
    async (sql) => {
      const {bytes} = await session(async (c) => {
        try {
          await c.execute(sql)
        } catch {
          // As above.
        }
      })
      expect(leaks(bytes)).toEqual([])
    },
  )

  it('keeps benign columns unchanged and masks the rest (text protocol)', async () => {
    const {result} = await session(async (c) => {
      const [rows] = await c.query(
        'SELECT id, name, email, ssn, card, note, born, score FROM users ORDER BY id',
      )
      return rows
    })
    expect(result).toEqual([
      {
        id: 1,
        name: 'Alice Smith',
        email: 'a***@example.com',
        ssn: '***-**-9999',
        card: '**** **** **** 1111',
        note: '[REDACTED]',
        born: null,
        score: '10.50',
      },
      {
        id: 2,
        name: 'Bob Jones',
        email: 'b***@corp-mail.test',
        ssn: '***-**-1120',
        card: '**** **** **** 0004',
        note: '[REDACTED]',
        born: null,
        score: '20.25',
      },
    ])
    const event = proxy.audit.events.findLast((e) => e.statement?.startsWith('SELECT id, name, email, ssn'))
    expect(event?.masked_columns).toEqual(
      expect.arrayContaining([
        'email:pii-email',
        'ssn:pii-ids',
        'card:pii-ids',
        'note:pii-note',
        'born:pii-ids',
      ]),
    )
  })

  it('masks by column through index hints, leaving benign columns as they are', async () => {
    const {result} = await session(async (c) => {
      const [rows] = await c.query(
        'SELECT u.id, u.name, u.email, o.total FROM users u FORCE INDEX (PRIMARY) JOIN orders o USE INDEX () ON o.user_id = u.id ORDER BY u.id',
      )
      return rows
    })
    expect(result).toEqual([
      {id: 1, name: 'Alice Smith', email: 'a***@example.com', total: 100},
      {id: 2, name: 'Bob Jones', email: 'b***@corp-mail.test', total: 200},
    ])
  })

  it('decodes masked binary-protocol rows (prepared statements), NULL where the type is not text', async () => {
    const {result} = await session(async (c) => {
      const [rows] = await c.execute(
        'SELECT id, name, email, born, score FROM users WHERE id >= ? ORDER BY id',
        [1],
      )
      return rows
    })
    expect(result).toEqual([
      {id: 1, name: 'Alice Smith', email: 'a***@example.com', born: null, score: '10.50'},
      {id: 2, name: 'Bob Jones', email: 'b***@corp-mail.test', born: null, score: '20.25'},
    ])
  })

  it('masks values classifiers find in free text, and nothing else', async () => {
    const {result} = await session(async (c) => (await c.query('SELECT id, bio FROM users ORDER BY id'))[0])
    expect(result).toEqual([
      {id: 1, bio: 'write to [REDACTED]'},
      {id: 2, bio: 'nothing here'},
    ])
  })

  it('refuses a condition computed from a masked column: which rows match shows its values', async () => {
    const {result} = await session(async (c) => {
      const errors = await attempts(c, [
        'SELECT COUNT(*) FROM users, seq_1_to_1000 g WHERE g.seq <= ASCII(SUBSTR(email, 1, 1)) AND id = 1',
        "SELECT id FROM users WHERE email LIKE 'a%'",
        "SELECT id FROM users WHERE SUBSTR(ssn, 1, 1) = '2'",
        "SELECT id FROM users WHERE email > 'b'",
        // A number compares a string by its leading digits: '219-09-9999' = 219.
        'SELECT id FROM users WHERE ssn = 219',
        'SELECT id FROM users WHERE ssn IN (100, 219, 300) OR email = TRUE',
        'SELECT g.seq FROM seq_1_to_200 g JOIN users u ON g.seq = ASCII(u.email) WHERE u.id = 1',
        'SELECT g.seq FROM seq_1_to_300 g JOIN users u ON g.seq = u.ssn',
        'SELECT EXISTS (SELECT 1 FROM users WHERE ASCII(email) > 100)',
        'SELECT (SELECT COUNT(*) FROM seq_1_to_200 g WHERE g.seq < ASCII(u.email)) FROM users u',
        'SELECT id FROM users GROUP BY id HAVING MAX(ASCII(ssn)) > 40',
        'UPDATE orders o JOIN users u ON u.id = o.user_id SET o.total = o.total WHERE ASCII(u.email) > 100',
        "DELETE FROM orders WHERE user_id IN (SELECT id FROM users WHERE email LIKE 'b%')",
        "EXPLAIN SELECT * FROM users WHERE email > 'b'",
        "SELECT id FROM v_users WHERE mail LIKE 'a%'",
        "SET @n = (SELECT COUNT(*) FROM users WHERE email LIKE 'a%')",
        "SET @n = (SELECT score FROM users WHERE id = 1); PREPARE s FROM 'SELECT seq FROM seq_1_to_100 LIMIT ?'; EXECUTE s USING @n",
      ])
      // Lookups of a whole value the client supplies, NULL tests, and conditions on other columns run.
      const [lookups] = await c.query(
        "SELECT name FROM users WHERE email = 'alice.smith@example.com'; " +
          "SELECT name FROM users WHERE ssn IN ('078-05-1120', 'x') OR email IS NULL; " +
          "SELECT COUNT(*) AS n FROM users WHERE note IS NOT NULL AND email <> 'nobody@example.com'; " +
          'SELECT u.name FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 150; ' +
          'SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM users v WHERE v.email = u.email) ORDER BY 1',
      )
      return {errors, lookups}
    })
    const refused: unknown = expect.stringMatching(
      /by a condition computed from|compares masked column \S+\.ssn with/,
    )
    expect(result.errors).toEqual(Array.from({length: 17}, () => refused))
    expect(result.errors[0]).toMatch(/from masked column \S+\.users\.email/)
    expect(result.errors.at(-1)).toMatch(/from values dbgate cannot trace/)
    expect(await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.orders`)).toEqual([{n: 2}])
    expect(result.lookups).toEqual([
      [{name: 'Alice Smith'}],
      [{name: 'Bob Jones'}],
      [{n: 2}],
      [{name: 'Bob Jones'}],
      [{id: 1}, {id: 2}],
    ])
  })

  it('refuses a lookup of a value computed from a masked column, however it is passed on', async () => {
    const {result} = await session(async (c) => {
      const errors = await attempts(c, [
        'SELECT COUNT(*) FROM (SELECT ASCII(email) AS a FROM users) t WHERE a = 97',
        "WITH t AS (SELECT SUBSTR(ssn, 1, 1) AS d FROM users) SELECT COUNT(*) FROM t WHERE d IN ('0', '1', '2')",
        "SELECT id FROM v_lower WHERE e = 'alice.smith@example.com'",
        "SELECT COUNT(*) FROM (SELECT MAX(email) AS m FROM users UNION ALL SELECT 'b') t WHERE m = 'b'",
        'SELECT ASCII(email) AS a FROM users HAVING a = 97',
        'SELECT COUNT(*) FROM (SELECT ASCII(email) a FROM users) s JOIN (SELECT 97 b) k ON a = b',
        'SELECT COUNT(*) FROM (SELECT ASCII(email) a FROM users) s JOIN (SELECT ASCII(email) a FROM users) k USING (a)',
      ])
      // A stored value passed on unchanged is still a lookup: through a subquery, CTE, view or union.
      const [lookups] = await c.query(
        "SELECT COUNT(*) AS n FROM (SELECT email AS e FROM users) t WHERE e = 'alice.smith@example.com'; " +
          "WITH t AS (SELECT * FROM users) SELECT name FROM t WHERE ssn = '078-05-1120'; " +
          "SELECT name FROM v_nested JOIN users USING (id) WHERE mail IN ('bob.jones@corp-mail.test'); " +
          "SELECT COUNT(*) AS n FROM (SELECT email FROM users UNION ALL SELECT 'x') t WHERE email = 'x'",
      )
      return {errors, lookups}
    })
    const refused: unknown = expect.stringMatching(
      /by a condition computed from masked column \S+\.users\.(email|ssn)/,
    )
    expect(result.errors).toEqual(Array.from({length: 7}, () => refused))
    expect(result.lookups).toEqual([[{n: 1}], [{name: 'Bob Jones'}], [{name: 'Bob Jones'}], [{n: 1}]])
  })

  it('refuses sorting rows by a masked column: a row of a known value, sorted among them, shows how they compare', async () => {
    // Where the marker row (id 0) lands among the users shows which emails sort before 'b'.
    const marker = "(SELECT id, email FROM users UNION ALL SELECT 0, 'b') t"
    const {result} = await session(async (c) => {
      const errors = await attempts(c, [
        `SELECT id FROM ${marker} ORDER BY email`,
        'SELECT id, email AS e FROM users ORDER BY e DESC',
        'SELECT id, email FROM users ORDER BY 2',
        `SELECT MIN(id) FROM ${marker} GROUP BY email`,
        `SELECT DISTINCT email, id > 0 FROM ${marker}`,
        "SELECT email, 1 FROM users UNION SELECT 'b', 0",
        "SELECT email, 1 FROM users UNION ALL SELECT 'b', 0 ORDER BY 1",
        `SELECT id, RANK() OVER (ORDER BY email) FROM ${marker}`,
        `SELECT id, COUNT(*) OVER w FROM ${marker} WINDOW w AS (PARTITION BY email)`,
        'DELETE FROM orders WHERE user_id IN (SELECT id FROM users) ORDER BY (SELECT email FROM users WHERE id = user_id) LIMIT 1',
        'UPDATE users SET name = name WHERE id > 0 ORDER BY ssn LIMIT 1',
      ])
      // Sorting by other columns runs, as does UNION ALL.
      const [fine] = await c.query(
        'SELECT id FROM users ORDER BY id DESC; ' +
          'SELECT name, COUNT(*) AS n FROM users GROUP BY name ORDER BY 1; ' +
          "SELECT email FROM users WHERE id = 1 UNION ALL SELECT 'b'",
      )
      return {errors, fine}
    })
    const refused: unknown = expect.stringMatching(/sorts rows by masked column \S+\.users\.(email|ssn)/)
    expect(result.errors).toEqual(Array.from({length: 11}, () => refused))
    expect(await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.orders`)).toEqual([{n: 2}])
    expect(result.fine).toEqual([
      [{id: 2}, {id: 1}],
      [
        {name: 'Alice Smith', n: 1},
        {name: 'Bob Jones', n: 1},
      ],
      [{email: 'a***@example.com'}, {email: '***'}],
    ])
  })

  it('refuses a CASE, IF or divisor computed from a masked column: an error or warning answers a question', async () => {
    const {result} = await session(async (c) => {
      const errors = await attempts(c, [
        'SELECT CASE WHEN ASCII(email) > 100 THEN (SELECT 1 UNION SELECT 2) ELSE 1 END FROM users WHERE id = 1',
        "SELECT CASE SUBSTR(ssn, 1, 1) WHEN '2' THEN 1 END FROM users",
        'SELECT IF(ASCII(email) > 100, 1, 2) FROM users',
        'SELECT 1 / (ASCII(email) - 97), 1 DIV LENGTH(card) FROM users',
        'SELECT MOD(1, ASCII(ssn) - 50) FROM users',
      ])
      // A CASE that looks a value up (its result masked), or decides by other columns, and a divisor of
      // other columns run.
      const [fine] = await c.query(
        "SELECT CASE email WHEN 'alice.smith@example.com' THEN 'a' ELSE 'b' END AS k, " +
          'IF(id > 1, name, NULL) AS n, 100 DIV id AS t FROM users ORDER BY id',
      )
      return {errors, fine}
    })
    const condition: unknown = expect.stringMatching(
      /by a condition computed from masked column \S+\.users\./,
    )
    // A divisor can fail (or warn) for some values: refused as such (fallible.ts).
    const fails: unknown = expect.stringMatching(/computes from masked column \S+\.users\.\w+ with a cast/)
    expect(result.errors).toEqual([condition, condition, condition, fails, fails])
    expect(result.fine).toEqual([
      {k: '[REDACTED]', n: null, t: 100},
      {k: '[REDACTED]', n: 'Bob Jones', t: 50},
    ])
  })

  it('refuses a computation that fails or warns for some inputs: the error or the warning count answers a question', async () => {
    const {bytes, result} = await session(async (c) => {
      const errors = await attempts(c, [
        // Each ran before: the warning count (or the error) said which values were not all digits,
        // or which first characters come after 'l'.
        'SELECT ssn + 0 FROM users WHERE id = 1',
        'SELECT CAST(SUBSTR(email, 1, 1) AS SIGNED) FROM users',
        "SELECT STR_TO_DATE(CONCAT('2020-', ASCII(email) - 96, '-01'), '%Y-%m-%d') FROM users",
        'SELECT ASCII(card) * 9223372036854775807 FROM users',
        'SELECT ssn > 219, NOT email FROM users',
        "SELECT 'x' REGEXP note FROM users",
        // Past max_allowed_packet the result is NULL with a warning: when the value is long enough.
        "SELECT LENGTH(CONCAT(email, REPEAT('x', 16777200))) FROM users WHERE id = 1",
      ])
      // A table's own columns check what it stores (CHECK, a length, a UNIQUE key): a temporary table
      // defined with its columns, and a stored one (email is VARCHAR(100)).
      const stores = await attempts(c, [
        "CREATE TEMPORARY TABLE firsts (c CHAR(1), CHECK (c < 'b')) SELECT SUBSTR(email, 1, 1) AS c FROM users",
        "UPDATE users SET email = CONCAT(email, REPEAT('x', 80)) WHERE id = 1",
        'INSERT INTO users (id, ssn) SELECT id + 10, email FROM users WHERE id = 1',
      ])
      // What cannot fail runs, its results masked; arithmetic on columns no rule masks runs too.
      const [fine] = await c.query(
        "SELECT LOWER(email) AS e, SUBSTR(ssn, 1, 3) AS s, CAST(card AS CHAR) AS k, email LIKE 'a%' AS l, " +
          'id * 2 AS d FROM users WHERE id = 1',
      )
      const [[warnings]] = await c.query<mysql.RowDataPacket[]>('SELECT @@warning_count AS w')
      return {errors, stores, fine, warnings}
    })
    const refused: unknown = expect.stringMatching(
      /computes from masked column \S+\.users\.\w+ with a cast, arithmetic, a pattern, a constraint or a function that fails for some inputs, so whether it fails or warns/,
    )
    expect(result.errors).toEqual(Array.from({length: 7}, () => refused))
    const checked: unknown = expect.stringMatching(
      /stores a value computed from masked column \S+\.users\.email in a column whose type or constraints may refuse it .* so whether it fails or warns/,
    )
    expect(result.stores).toEqual(Array.from({length: 3}, () => checked))
    expect(leaks(bytes)).toEqual([])
    expect(result.fine).toEqual([
      {e: expect.any(String), s: expect.any(String), k: expect.any(String), l: null, d: 2},
    ])
    expect(result.warnings).toEqual({w: 0})
  })

  it('refuses DDL whose success checks masked values: a CHECK, a UNIQUE key, a type change', async () => {
    const {bytes, result} = await session(async (c) => {
      // Each ran before: whether it failed said whether alice's email sorts before 'b', whether two
      // values share a first character, whether a value is a number or fits 3 characters.
      const errors = await attempts(c, [
        "ALTER TABLE users ADD CONSTRAINT c1 CHECK (id <> 1 OR email < 'b')",
        'ALTER TABLE users ADD UNIQUE (ssn(1))',
        'CREATE UNIQUE INDEX u1 ON users (email(1))',
        'ALTER TABLE users MODIFY email INT',
        'ALTER TABLE users CHANGE ssn ssn VARCHAR(3)',
      ])
      // A plain index on a masked column, and a key on columns no rule masks, check nothing masked.
      const fine = await attempts(c, [
        'ALTER TABLE users ADD INDEX ie (email)',
        'ALTER TABLE orders ADD UNIQUE uo (id)',
      ])
      return {errors, fine}
    })
    const condition: unknown = expect.stringMatching(
      /by a condition computed from masked column \S+\.users\.email/,
    )
    const fails: unknown = expect.stringMatching(
      /computes from masked column \S+\.users\.(email|ssn) with a cast, arithmetic, a pattern, a constraint/,
    )
    expect(result.errors).toEqual([condition, fails, fails, fails, fails])
    expect(result.fine).toEqual([
      'ran: ALTER TABLE users ADD INDEX ie (email)',
      'ran: ALTER TABLE orders ADD UNIQUE uo (id)',
    ])
    expect(leaks(bytes)).toEqual([])
    await db.admin(
      `ALTER TABLE \`${db.name}\`.users DROP INDEX ie; ALTER TABLE \`${db.name}\`.orders DROP INDEX uo`,
    )
    const shown = (await db.admin(`SHOW CREATE TABLE \`${db.name}\`.users`)) as Record<string, string>[]
    const create = shown[0]?.['Create Table'] ?? ''
    expect(create).toContain('`email` varchar(100)')
    expect(create).not.toMatch(/CONSTRAINT|UNIQUE|KEY `ie`/)
  })

  it('refuses HANDLER reads that choose or sort rows by a masked column, through an alias too', async () => {
    const {bytes, result} = await session(async (c) => {
      await c.query('HANDLER users OPEN AS h')
      // Each ran before: one row or none said whether the email starts with 'a'; rows read from a key
      // compared with a known value, or in an index's order, show how the index's values compare.
      const errors = await attempts(c, [
        "HANDLER h READ FIRST WHERE email LIKE 'a%'",
        'HANDLER h READ `PRIMARY` >= (1)',
        'HANDLER h READ `PRIMARY` FIRST',
        "HANDLER users OPEN; HANDLER users READ FIRST WHERE ssn > '5'",
      ])
      // Rows as stored, a page at a time: masked.
      const [rows] = await c.query<mysql.RowDataPacket[]>('HANDLER h READ FIRST')
      const [next] = await c.query<mysql.RowDataPacket[]>('HANDLER h READ NEXT LIMIT 5')
      await c.query('HANDLER h CLOSE')
      return {errors, rows: [...rows, ...next]}
    })
    const condition: unknown = expect.stringMatching(
      /by a condition computed from masked column \S+\.users\.(email|ssn|card|note|born)/,
    )
    const order: unknown = expect.stringMatching(/sorts rows by masked column \S+\.users\./)
    expect(result.errors).toEqual([condition, condition, order, condition])
    expect(result.rows).toHaveLength(2)
    expect(leaks(bytes)).toEqual([])
  })

  it('masks the checksum of a table with masked columns (a guessed row could be checked against it)', async () => {
    const truth = async (table: string): Promise<unknown> =>
      ((await db.admin(`CHECKSUM TABLE \`${db.name}\`.${table}`)) as {Checksum: unknown}[])[0]?.Checksum
    const {result} = await session(async (c) => {
      const [masked] = await c.query<mysql.RowDataPacket[]>('CHECKSUM TABLE users')
      const [plain] = await c.query<mysql.RowDataPacket[]>('CHECKSUM TABLE orders')
      return {masked, plain}
    })
    expect(await truth('users')).not.toBeNull()
    expect(result.masked).toEqual([{Table: `${db.name}.users`, Checksum: null}])
    expect(result.plain).toEqual([{Table: `${db.name}.orders`, Checksum: await truth('orders')}])
  })

  it('refuses GROUP_CONCAT of a masked column: the warning for a result cut at group_concat_max_len shows its length', async () => {
    const {result} = await session(async (c) => {
      await c.query('SET SESSION group_concat_max_len = 16')
      const errors = await attempts(c, [
        'SELECT GROUP_CONCAT(email) FROM users WHERE id = 1',
        "SELECT GROUP_CONCAT(REPLACE(SUBSTR(ssn, 1, 1), '2', 'xxxxxxxxxxxxxxxxx')) FROM users WHERE id = 1",
        'SELECT JSON_ARRAYAGG(email) FROM users WHERE id = 1',
      ])
      const [[warnings]] = await c.query<mysql.RowDataPacket[]>('SELECT @@warning_count AS w')
      // Of columns no rule masks, it runs.
      const [fine] = await c.query('SELECT GROUP_CONCAT(name ORDER BY id) AS n FROM users')
      return {errors, warnings, fine}
    })
    const fails: unknown = expect.stringMatching(
      /computes from masked column \S+\.users\.(email|ssn) with a cast, arithmetic, a pattern, a constraint or a function that fails/,
    )
    expect(result.errors).toEqual([fails, fails, fails])
    expect(result.warnings).toEqual({w: 0})
    expect(result.fine).toEqual([{n: 'Alice Smith,Bob '}])
  })

  it('refuses a delay in a statement that reads a masked column: its duration answers a question', async () => {
    const {result} = await session(async (c) => {
      const out = await attempts(c, [
        'SELECT IF(ASCII(email) > 100, SLEEP(0.01), 0) FROM users',
        'SELECT BENCHMARK(10, MD5(123)), ssn FROM users',
        'DO IF((SELECT ASCII(email) FROM users WHERE id = 1) > 100, SLEEP(0.01), 0)',
      ])
      const [alone] = await c.query('SELECT SLEEP(0) AS s, total FROM orders WHERE id = 10')
      return {out, alone}
    })
    const refused: unknown = expect.stringMatching(
      /calls (sleep|benchmark)\(\) while reading masked column \S+\.users\./,
    )
    // IF's condition is itself judged first (a result that fails or waits shows which way it went).
    const condition: unknown = expect.stringMatching(
      /by a condition computed from masked column \S+\.users\.email/,
    )
    expect(result.out).toEqual([condition, refused, condition])
    expect(result.alone).toEqual([{s: 0, total: 100}])
  })

  it('masks derived columns, and leaves columns that only filter alone', async () => {
    const {result} = await session(async (c) => {
      const [a] = await c.query(
        "SELECT id, LOWER(email) AS e FROM users WHERE email = 'alice.smith@example.com'",
      )
      const [b] = await c.query(
        'SELECT o.total, u.name FROM orders o JOIN users u ON u.id = o.user_id WHERE u.ssn <> "" ORDER BY o.id',
      )
      return [a, b]
    })
    expect(result).toEqual([
      // Computed: redacted whatever the rule's style (LOWER(SUBSTR(email, 2)) would show a character).
      [{id: 1, e: '[REDACTED]'}],
      [
        {total: 100, name: 'Alice Smith'},
        {total: 200, name: 'Bob Jones'},
      ],
    ])
  })

  it('withholds server errors that may quote a masked value', async () => {
    await db.admin(`CREATE UNIQUE INDEX email_unique ON \`${db.name}\`.users (email)`)
    try {
      const {bytes, result} = await session(async (c) => {
        try {
          // Its own value stored back whole (not a copy, and no check it has not passed), refused by the
          // server quoting the value: a duplicate of a unique key.
          await c.query('INSERT INTO users (id, email) SELECT id + 100, email FROM users WHERE id = 1')
          return 'no error'
        } catch (e) {
          return (e as Error).message
        }
      })
      expect(result).toMatch(/withheld because the statement reads masked columns \(error 1062\)/)
      expect(leaks(bytes)).toEqual([])
    } finally {
      await db.admin(`DROP INDEX email_unique ON \`${db.name}\`.users`)
    }
  })

  it('masks SQL-level PREPARE/EXECUTE results like the prepared text', async () => {
    const {bytes, result} = await session(async (c) => {
      await c.query("PREPARE s FROM 'SELECT id, name, email FROM users ORDER BY id'")
      const [first] = await c.query('EXECUTE s')
      await c.query("PREPARE s2 FROM 'SELECT CONCAT(ssn, ''|''), TO_BASE64(note) FROM users'; EXECUTE s2")
      await c.query('DEALLOCATE PREPARE s')
      await expect(c.query('EXECUTE s')).rejects.toThrow()
      return first
    })
    expect(result).toEqual([
      {id: 1, name: 'Alice Smith', email: 'a***@example.com'},
      {id: 2, name: 'Bob Jones', email: 'b***@corp-mail.test'},
    ])
    expect(leaks(bytes)).toEqual([])
  })

  it('masks a table filled from masked columns for the rest of the session', async () => {
    const {bytes} = await session(async (c) => {
      await c.query('CREATE TEMPORARY TABLE stash AS SELECT id, email, ssn FROM users')
      await c.query('SELECT * FROM stash')
      await c.query("SELECT CONCAT(email, '|'), CONCAT_WS('|', ssn, 'x') FROM stash")
    })
    expect(leaks(bytes)).toEqual([])
  })

  it('masks rows of DELETE ... RETURNING, stored functions, HANDLER and column statistics', async () => {
    await db.admin(
      `CREATE TABLE \`${db.name}\`.users_copy AS SELECT * FROM \`${db.name}\`.users;` +
        `CREATE FUNCTION \`${db.name}\`.leak() RETURNS TEXT READS SQL DATA RETURN (SELECT GROUP_CONCAT(email) FROM \`${db.name}\`.users);` +
        `ANALYZE TABLE \`${db.name}\`.users PERSISTENT FOR ALL;`,
    )
    const {bytes} = await session(async (c) => {
      const attempts = [
        'DELETE FROM users_copy WHERE id = 1 RETURNING email, ssn',
        'SELECT leak()',
        'SELECT UPPER(leak())',
        'HANDLER users OPEN; HANDLER users READ FIRST; HANDLER users CLOSE',
        `SELECT min_value, max_value FROM mysql.column_stats WHERE db_name = '${db.name}'`,
      ]
      for (const sql of attempts)
        try {
          await c.query(sql)
        } catch {
          // Denied or failed: what matters is what reached the client.
        }
    })
    expect(leaks(bytes)).toEqual([])
  })

  it('masks what stored procedures, functions and triggers return or copy, for the rest of the session', async () => {
    const q = (name: string): string => `\`${db.name}\`.${name}`
    await db.admin(
      `CREATE TABLE ${q('pub')} (v TEXT);` +
        `CREATE TABLE ${q('events')} (id INT);` +
        `CREATE PROCEDURE ${q('p_read')}() SELECT CONCAT(code, '') AS c, id FROM ${q('vault')};` +
        `CREATE PROCEDURE ${q('p_copy')}() INSERT INTO ${q('pub')} SELECT code FROM ${q('vault')};` +
        `CREATE PROCEDURE ${q('p_out')}(OUT o TEXT) SELECT CONCAT(code, '') INTO o FROM ${q('vault')} LIMIT 1;` +
        `CREATE FUNCTION ${q('f_copy')}() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO ${q('pub')} SELECT code FROM ${q('vault')}; RETURN 1; END;` +
        `CREATE TRIGGER ${q('t_copy')} AFTER INSERT ON ${q('events')} FOR EACH ROW INSERT INTO ${q('pub')} SELECT code FROM ${q('vault')};`,
    )
    const attempts = [
      ['CALL p_read()'],
      ['CALL p_copy()', 'SELECT v, CONCAT(v, "") FROM pub'],
      ['CALL p_out(@o)', 'SELECT @o, CONCAT(@o, "")'],
      ['SELECT f_copy()', 'SELECT v FROM pub'],
      [`SELECT \`${db.name}\`.f_copy() AS n`, 'SELECT UPPER(v) FROM pub'],
      ['INSERT INTO events VALUES (1)', 'SELECT v FROM pub'],
      ['UPDATE orders SET total = f_copy() WHERE id = 10', 'SELECT * FROM pub'],
      ["PREPARE s FROM 'CALL p_copy()'", 'EXECUTE s', 'SELECT * FROM pub'],
    ]
    for (const steps of attempts) {
      const {bytes} = await session(async (c) => {
        for (const sql of steps)
          try {
            await c.query(sql)
          } catch {
            // Denied or failed: what matters is what reached the client.
          }
      })
      expect(leaks(bytes), steps.join('; ')).toEqual([])
      await db.admin(`DELETE FROM ${q('pub')}`)
    }
    // A session that runs no stored code reads such a table as it is.
    await db.admin(`INSERT INTO ${q('pub')} VALUES ('plain')`)
    const {result} = await session(async (c) => (await c.query('SELECT v FROM pub'))[0])
    expect(result).toEqual([{v: 'plain'}])
  })

  it('follows MySQL name case: columns in any case, tables by case where the server compares them so', async () => {
    const secret = 'wombat-4410-secret'
    await db.admin(
      `CREATE TABLE \`${db.name}\`.people (id INT, email TEXT);` +
        `INSERT INTO \`${db.name}\`.people VALUES (1, '${secret}');` +
        `CREATE TABLE \`${db.name}\`.People (id INT, Email TEXT);` +
        `INSERT INTO \`${db.name}\`.People VALUES (1, 'public-note');`,
    )
    const [{lctn}] = (await db.admin('SELECT @@lower_case_table_names AS lctn')) as [{lctn: number}]
    const own = await startMysqlTestProxy(db.url, {
      ...mysqlTestPolicy(db.name),
      // The rule names the column in another case than the table defines it.
      masking: [{name: 'people-email', columns: [`${db.name}.people.EMAIL`], style: 'redact'}],
    })
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: own.port,
      user: 'root',
      database: db.name,
    })
    try {
      const q = async (sql: string): Promise<unknown> => (await c.query({sql, rowsAsArray: true}))[0]
      // The session's first statement already knows how the server compares names.
      const other = await q("SELECT Email, CONCAT(eMail, '') FROM People")
      const masked = await q("SELECT email, CONCAT(EMAIL, ''), UPPER(Email) FROM people")
      const joined = await q('SELECT p.email, q.email FROM People p JOIN people q ON q.id = p.id')
      // Where table names compare without case, `People` is `people`: masked.
      const plain = lctn === 0 ? 'public-note' : '[REDACTED]'
      expect({other, masked, joined}).toEqual({
        other: [[plain, plain]],
        masked: [['[REDACTED]', '[REDACTED]', '[REDACTED]']],
        joined: [[plain, '[REDACTED]']],
      })
    } finally {
      await c.end()
      await own.close()
    }
  })

  it('follows views and tables another session changes', async () => {
    const {bytes, result} = await session(async (c) => {
      const [before] = await c.query('SELECT * FROM v_swap')
      // Everything the statements below name is now in the session's catalog cache.
      await c.query('SELECT * FROM (SELECT * FROM swap) t')
      await c.query('SELECT id, name FROM users')
      await db.admin(
        `CREATE OR REPLACE VIEW \`${db.name}\`.v_swap AS SELECT 1 AS id, b AS name FROM \`${db.name}\`.swap;` +
          `CREATE VIEW \`${db.name}\`.v_late AS SELECT b AS code FROM \`${db.name}\`.swap;` +
          `CREATE VIEW \`${db.name}\`.v_later AS SELECT code FROM \`${db.name}\`.v_late;` +
          `ALTER TABLE \`${db.name}\`.swap MODIFY b TEXT FIRST;`,
      )
      await c.query('SELECT * FROM v_swap')
      await c.query('SELECT code FROM v_later')
      await c.query('SELECT * FROM (SELECT * FROM swap) t')
      return before
    })
    expect(result).toEqual([
      {id: 1, name: 'Alice Smith'},
      {id: 2, name: 'Bob Jones'},
    ])
    expect(leaks(bytes)).toEqual([])
  })

  it("leaves the client's warnings, ROW_COUNT() and FOUND_ROWS() as the server set them", async () => {
    const {result} = await session(async (c) => {
      await c.query('CREATE TABLE IF NOT EXISTS orders (id INT)')
      const [warnings] = await c.query('SHOW WARNINGS')
      await c.query('UPDATE orders SET total = total WHERE id >= 10')
      const [count] = await c.query('SELECT ROW_COUNT() AS n')
      await c.query('SELECT SQL_CALC_FOUND_ROWS id FROM users LIMIT 1')
      const [found] = await c.query('SELECT FOUND_ROWS() AS n')
      return {warnings, count, found}
    })
    expect(result).toEqual({
      warnings: [{Level: 'Note', Code: 1050, Message: "Table 'orders' already exists"}],
      count: [{n: 2}],
      found: [{n: 2}],
    })
  })

  it('with detect rules alone, scans every text value and leaves the rest', async () => {
    const detectOnly = await startMysqlTestProxy(db.url, {
      ...mysqlTestPolicy(db.name),
      masking: [{name: 'found', detect: ['email', 'ssn'], style: 'redact'}],
    })
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: detectOnly.port,
      user: 'root',
      database: db.name,
    })
    try {
      const [rows] = await c.query('SELECT id, name, CONCAT(email, "") AS e, bio FROM users ORDER BY id')
      const [prepared] = await c.execute('SELECT id, ssn FROM users WHERE id = ?', [1])
      expect([rows, prepared]).toEqual([
        [
          {id: 1, name: 'Alice Smith', e: '[REDACTED]', bio: 'write to [REDACTED]'},
          {id: 2, name: 'Bob Jones', e: '[REDACTED]', bio: 'nothing here'},
        ],
        [{id: 1, ssn: '[REDACTED]'}],
      ])
    } finally {
      await c.end()
      await detectOnly.close()
    }
  })

  it('withholds text it cannot read: results in UTF-16/UTF-32, unconverted, or after an unreadable SET', async () => {
    const detectOnly = await startMysqlTestProxy(db.url, {
      ...mysqlTestPolicy(db.name),
      masking: [{name: 'found', detect: ['email', 'ssn'], style: 'redact'}],
    })
    const t = await tap(detectOnly.port)
    const c = await mysql.createConnection({host: '127.0.0.1', port: t.port, user: 'root', database: db.name})
    try {
      const out: unknown[] = []
      for (const set of [
        'SET character_set_results = utf16',
        'SET character_set_results = utf32',
        'SET character_set_results = NULL',
        'SET NAMES utf8mb4, character_set_results = ucs2',
      ]) {
        await c.query(set)
        // Names and numbers come in that charset too (mysql2 cannot read them): the bio values only.
        const [rows] = await c.query({sql: 'SELECT id, bio FROM users ORDER BY id', rowsAsArray: true})
        out.push((rows as unknown[][]).map((r) => r[1]))
      }
      // Back to a charset masking reads: values are scanned again.
      await c.query('SET NAMES utf8mb4')
      const [rows] = await c.query({sql: 'SELECT id, bio FROM users ORDER BY id', rowsAsArray: true})
      out.push(rows)
      const withheld = [null, null]
      expect(out).toEqual([
        withheld,
        withheld,
        withheld,
        withheld,
        [
          [1, 'write to [REDACTED]'],
          [2, 'nothing here'],
        ],
      ])
      const received = t.received()
      expect(leaks(received)).toEqual([])
      // In UTF-16/UTF-32 an ASCII value travels with NUL bytes between its characters.
      expect(leaks(Buffer.from(received.toString('latin1').replace(/\0/g, ''), 'latin1'))).toEqual([])
    } finally {
      await c.end()
      await t.close()
      await detectOnly.close()
    }
  })

  it('the mysql client shows masked values and benign columns as they are', async () => {
    const {stdout} = await run('mysql', [
      '-h127.0.0.1',
      `-P${proxy.port}`,
      '-uroot',
      '--ssl=0',
      '--batch',
      db.name,
      '-e',
      'SELECT id, name, email, born FROM users ORDER BY id; SELECT HEX(ssn), TO_BASE64(card) FROM users; SHOW TABLES; DESCRIBE users',
    ])
    expect(leaks(Buffer.from(stdout))).toEqual([])
    expect(stdout).toContain('1\tAlice Smith\ta***@example.com\tNULL')
    expect(stdout).toContain('orders')
    expect(stdout).toContain('email\tvarchar(100)\tYES')
  })
})
