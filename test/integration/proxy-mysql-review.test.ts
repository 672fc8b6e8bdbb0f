import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import mysql from 'mysql2/promise'
import {describe, expect, it} from 'vitest'

import {DEFAULT_APPROVAL} from '../../src/policy/index.js'
import {Command} from '../../src/proxy/mysql/protocol.js'
import {readErr} from '../../src/proxy/mysql/wire.js'
import {MARIADB, mysqlProxyFixture, mysqlTestPolicy} from '../support/mysql-proxy.js'
import {rawMysql} from '../support/mysql-raw.js'
import {heldHook} from '../support/review-hook.js'

// The MySQL engine's review hook against the real MariaDB: a held COM_QUERY or COM_STMT_PREPARE pauses only its
// own session, runs once the hook says so, and a refusal or a failing hook is ERR 1142 (SQLSTATE 42501) after
// which the session goes on. `secrets` is reviewed by a rule whose grants cover any literal values (so a statement
// with `?` may be approved at PREPARE); `ledger` by one that binds a grant to the exact text.

const run = promisify(execFile)

const notices: string[] = []
const {hook, held, nextHeld} = heldHook('prod-my')

async function client(): Promise<mysql.Connection> {
  const c = await mysql.createConnection({...MARIADB, port: proxy.port, database: db.name})
  c.on('error', () => undefined)
  return c
}

async function ledgerRows(): Promise<number> {
  const rows = (await db.admin(`SELECT COUNT(*) AS n FROM \`${db.name}\`.ledger`)) as {n: number}[]
  return Number(rows[0]?.n)
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20))
}

const {db, proxy} = mysqlProxyFixture('review', {
  setup: (d) =>
    `CREATE TABLE \`${d}\`.secrets (id INT); INSERT INTO \`${d}\`.secrets VALUES (1), (2);` +
    `CREATE TABLE \`${d}\`.ledger (id INT); INSERT INTO \`${d}\`.ledger VALUES (1), (2);`,
  policy: (d) => {
    const base = mysqlTestPolicy(d)
    return {
      ...base,
      rules: [
        ...base.rules.map((r) =>
          r.name === 'secrets-need-review' ? {...r, approval: {...DEFAULT_APPROVAL, anyLiterals: true}} : r,
        ),
        {name: 'ledger-needs-review', when: {tables: [`${d}.ledger`]}, action: 'review'},
      ],
    }
  },
  extra: {review: hook, reviewNotice: (message) => notices.push(message)},
})

describe('MySQL review hook', {timeout: 30_000}, () => {
  it('holds a query, serves other sessions meanwhile, says where to approve, then runs it', async () => {
    const a = await client()
    const b = await client()
    notices.length = 0
    const pending = a.query('SELECT COUNT(*) AS n FROM secrets')
    const h = await nextHeld()
    expect(h.request.sql).toBe('SELECT COUNT(*) AS n FROM secrets')
    expect(h.request.extended).toBe(false)
    expect(h.request.decision.rule).toBe('secrets-need-review')
    // The client is this test process: the proxy names it for the approvers.
    expect(h.request.process).toMatch(new RegExp(`\\(pid ${process.pid}\\)`))
    expect(notices).toEqual(['dbgate: waiting for request apr_test'])
    expect((await b.query('SELECT 41 + 1 AS x'))[0]).toEqual([{x: 42}])
    h.resolve({kind: 'run', approvalId: 'apr_test'})
    expect((await pending)[0]).toEqual([{n: 2}])
    await a.end()
    await b.end()
  })

  it('a refusal is ERR 1142 with SQLSTATE 42501, the message and the hint; the session goes on', async () => {
    const a = await client()
    const pending = a.query('DELETE FROM ledger WHERE id = 1').catch((e: unknown) => e)
    ;(await nextHeld()).resolve({
      kind: 'refuse',
      message: 'dbgate: request apr_x was denied',
      hint: 'ask again',
      approvalId: 'apr_x',
    })
    expect(await pending).toMatchObject({
      errno: 1142,
      sqlState: '42501',
      message: 'dbgate: request apr_x was denied. Hint: ask again',
    })
    expect(await ledgerRows()).toBe(2)
    expect((await a.query('SELECT 1 AS one'))[0]).toEqual([{one: 1}])
    const refused = proxy.audit.events.filter(
      (e) => e.type === 'statement' && e.statement === 'DELETE FROM ledger WHERE id = 1',
    )
    expect(refused).toMatchObject([{decision: 'review', rule: 'ledger-needs-review'}])
    await a.end()
  })

  it('a failing hook refuses (fail closed)', async () => {
    const a = await client()
    const pending = a.query('SELECT * FROM secrets').catch((e: unknown) => e)
    ;(await nextHeld()).reject(new Error('control plane down'))
    expect(await pending).toMatchObject({
      errno: 1142,
      sqlState: '42501',
      message: 'dbgate: approval required, and the approval service failed: control plane down',
    })
    expect((await a.query('SELECT 2 AS two'))[0]).toEqual([{two: 2}])
    await a.end()
  })

  it('COM_QUIT or a dropped connection while held: the wait ends and the statement never runs', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.command(Buffer.concat([Buffer.from([Command.query]), Buffer.from('DELETE FROM ledger WHERE id = 1')]))
    const quitting = await nextHeld()
    expect(quitting.request.active()).toBe(true)
    raw.command(Buffer.from([Command.quit]))
    await raw.closed()
    await until(() => !quitting.request.active())
    expect(quitting.request.active()).toBe(false)
    quitting.resolve({kind: 'run', approvalId: 'apr_late'})

    const a = await client()
    void a.query('DELETE FROM ledger WHERE id = 2').catch(() => undefined)
    const dropped = await nextHeld()
    a.destroy()
    await until(() => !dropped.request.active())
    expect(dropped.request.active()).toBe(false)
    dropped.resolve({kind: 'run', approvalId: 'apr_late'})
    await new Promise((r) => setTimeout(r, 200))
    expect(await ledgerRows()).toBe(2)
  })

  it('commands sent behind a held one wait, and are answered in order after it', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    const query = (sql: string): Buffer => Buffer.concat([Buffer.from([Command.query]), Buffer.from(sql)])
    const packet = (payload: Buffer): Buffer =>
      Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload])
    raw.write(Buffer.concat([packet(query('DELETE FROM ledger WHERE id = 1')), packet(query('SELECT 7'))]))
    const h = await nextHeld()
    h.resolve({kind: 'refuse', message: 'dbgate: no', approvalId: null})
    const first = await raw.next()
    expect(readErr(first.payload)).toMatchObject({code: 1142, sqlState: '42501', message: 'dbgate: no'})
    // Then the SELECT's result set: one column.
    expect((await raw.next()).payload[0]).toBe(1)
    raw.socket.destroy()
  })
})

describe('MySQL review hook with prepared statements', {timeout: 30_000}, () => {
  it('a PREPARE with ? under a rule bound to the exact text is refused without a request', async () => {
    const a = await client()
    const err = await a.execute('DELETE FROM ledger WHERE id = ?', [1]).catch((e: unknown) => e)
    expect(err).toMatchObject({errno: 1142, sqlState: '42501'})
    expect((err as Error).message).toBe(
      `dbgate: approval required by rule "ledger-needs-review", and this statement needs approval with its values: its parameters (?) are sent only after it is prepared. Hint: Send it with the values written in the SQL as a simple query (e.g. the mysql client), or run: dbgate request-approval prod-my --sql '…' --reason '…', then once approved: dbgate exec prod-my --approval ID --sql '…'.`,
    )
    expect(held).toHaveLength(0)
    expect(await ledgerRows()).toBe(2)
    expect((await a.execute('SELECT ? AS x', [5]))[0]).toEqual([{x: 5}])
    await a.end()
  })

  it('`?` in a literal, quoted text or a comment is no placeholder: the PREPARE is held, then runs', async () => {
    const a = await client()
    const ids = (await db.admin(`SELECT id FROM \`${db.name}\`.ledger ORDER BY id`)) as {id: number}[]
    expect(ids.length).toBeGreaterThan(0)
    const texts = [
      "SELECT id FROM ledger WHERE '?' <> '' ORDER BY id",
      'SELECT id AS `?` FROM ledger ORDER BY id',
      'SELECT id FROM ledger /* ? */ ORDER BY id # ?',
    ]
    for (const [i, sql] of texts.entries()) {
      // execute() sends COM_STMT_PREPARE then COM_STMT_EXECUTE though there are no values.
      const pending = a.execute(sql)
      const h = await nextHeld()
      expect(h.request).toMatchObject({sql, extended: true})
      h.resolve({kind: 'run', approvalId: `apr_noparam_${i}`})
      const [rows, fields] = await pending
      expect((rows as Record<string, unknown>[]).map((r) => Number(r[fields[0]!.name]))).toEqual(
        ids.map((r) => Number(r.id)),
      )
    }
    // A real `?` beside one in a literal still needs its values approved: refused at PREPARE, no request.
    const err = await a
      .execute("SELECT id FROM ledger WHERE id = ? AND '?' <> ''", [1])
      .catch((e: unknown) => e)
    expect(err).toMatchObject({errno: 1142, sqlState: '42501'})
    expect((err as Error).message).toContain('this statement needs approval with its values')
    expect(held).toHaveLength(0)
    await a.end()
  })

  it('a PREPARE allowed any literals is held, runs once per use of its grant, then is refused', async () => {
    const a = await client()
    const sql = 'SELECT id FROM secrets WHERE id = ?'
    const first = a.execute(sql, [2])
    const h = await nextHeld()
    expect(h.request).toMatchObject({sql, extended: true})
    expect(h.request.again).toBeUndefined()
    h.resolve({kind: 'run', approvalId: 'apr_ps'})
    expect((await first)[0]).toEqual([{id: 2}])

    // mysql2 prepares a statement once per connection: the next run is only COM_STMT_EXECUTE.
    const second = a.execute(sql, [1])
    const again = await nextHeld()
    expect(again.request).toMatchObject({sql, extended: true, again: 'apr_ps'})
    again.resolve({kind: 'run', approvalId: 'apr_ps'})
    expect((await second)[0]).toEqual([{id: 1}])

    const third = a.execute(sql, [1]).catch((e: unknown) => e)
    ;(await nextHeld()).resolve({
      kind: 'refuse',
      message: 'dbgate: this prepared statement ran as approved, and approval apr_ps cannot be used again',
      approvalId: 'apr_ps',
    })
    expect(await third).toMatchObject({errno: 1142, sqlState: '42501'})
    expect((await a.query('SELECT 3 AS three'))[0]).toEqual([{three: 3}])
    await a.end()
  })
})

describe('MySQL review hook and direct execution', {timeout: 30_000}, () => {
  it('COM_STMT_EXECUTE of "the last prepared statement" (id 0xffffffff) cannot run an approved one again', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.command(
      Buffer.concat([Buffer.from([Command.stmtPrepare]), Buffer.from('SELECT id FROM secrets WHERE id = ?')]),
    )
    ;(await nextHeld()).resolve({kind: 'run', approvalId: 'apr_direct'})
    const ok = await raw.next()
    expect(ok.payload[0]).toBe(0)
    // PREPARE_OK: the parameter and column definitions follow (with their EOFs: no CLIENT_DEPRECATE_EOF).
    for (let i = 0; i < ok.payload.readUInt16LE(7) + 1 + ok.payload.readUInt16LE(5) + 1; i++) await raw.next()
    const execute = (id: number): Buffer => {
      const p = Buffer.alloc(18)
      p[0] = Command.stmtExecute
      p.writeUInt32LE(id, 1)
      p.writeUInt32LE(1, 6) // iteration count; flags (byte 5) 0: no cursor
      p[10] = 0 // NULL bitmap of one parameter
      p[11] = 1 // types follow
      p.writeUInt16LE(3, 12) // MYSQL_TYPE_LONG
      p.writeInt32LE(2, 14)
      return p
    }
    raw.command(execute(0xffffffff))
    const refused = await raw.next()
    expect(readErr(refused.payload)).toMatchObject({
      code: 1235,
      message: expect.stringContaining(
        'id 0xffffffff) is not supported in a session with an approved prepared statement',
      ),
    })
    // By its id, the approved statement runs its one use: a result set of one column.
    raw.command(execute(ok.payload.readUInt32LE(1)))
    expect((await raw.next()).payload[0]).toBe(1)
    raw.socket.destroy()
  })
})

describe('MySQL review hook with the mysql client', {timeout: 30_000}, () => {
  it('mysql waits for the approval and prints the rows, or the refusal as ERROR 1142 (42501)', async () => {
    const args = ['-h127.0.0.1', `-P${proxy.port}`, '-uroot', db.name, '-e']
    const approved = run('mysql', [...args, 'SELECT COUNT(*) AS n FROM secrets'])
    ;(await nextHeld()).resolve({kind: 'run', approvalId: 'apr_cli'})
    expect((await approved).stdout).toBe('n\n2\n')

    const refused = run('mysql', [...args, 'DELETE FROM ledger WHERE id > 0']).catch((e: unknown) => e)
    ;(await nextHeld()).resolve({
      kind: 'refuse',
      message: 'dbgate: request apr_c was denied',
      approvalId: 'apr_c',
    })
    expect(await refused).toMatchObject({
      stderr: expect.stringContaining('ERROR 1142 (42501) at line 1: dbgate: request apr_c was denied\n'),
    })
    expect(await ledgerRows()).toBe(2)
  })
})
