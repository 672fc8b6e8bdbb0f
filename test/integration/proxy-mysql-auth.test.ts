import {randomBytes} from 'node:crypto'
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {encodePacket} from '../../src/proxy/mysql/framing.js'
import {encodeHandshakeResponse} from '../../src/proxy/mysql/handshake.js'
import {Cap} from '../../src/proxy/mysql/protocol.js'
import {
  mysqlScratch,
  mysqlTestPolicy,
  startMysqlTestProxy,
  type MysqlScratch,
  type MysqlTestProxy,
} from '../support/mysql-proxy.js'
import {RAW_CAPABILITIES, expectErr, rawMysql, rawMysqlGreeted} from '../support/mysql-raw.js'

// Logins on both sides of the MySQL engine, and the faults that must end one session only: TLS
// requests on the loopback port, oversized and malformed packets, unknown commands.

const run = promisify(execFile)
let db: MysqlScratch
const user = `dbg_mysql_u_${randomBytes(3).toString('hex')}`
const password = `pw-${randomBytes(6).toString('hex')}`
let proxy: MysqlTestProxy

beforeAll(async () => {
  db = await mysqlScratch('mysql_auth')
  await db.admin(
    `CREATE USER '${user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}');` +
      `GRANT ALL ON \`${db.name}\`.* TO '${user}'@'%';` +
      `CREATE TABLE \`${db.name}\`.t (id INT)`,
  )
  proxy = await startMysqlTestProxy(
    `mysql://${user}:${password}@127.0.0.1:3306/${db.name}?ssl-mode=disabled`,
    mysqlTestPolicy(db.name),
    {maxPacketBytes: 4096},
  )
})

afterAll(async () => {
  await proxy?.close()
  await db?.admin(`DROP USER IF EXISTS '${user}'@'%'`)
  await db?.drop()
})

describe('MySQL engine logins', () => {
  it('logs in upstream with mysql_native_password as the URL user; the client needs no password', async () => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'anyone',
      database: db.name,
    })
    const [rows] = await c.query('SELECT CURRENT_USER() AS u')
    expect((rows as {u: string}[])[0]?.u).toBe(`${user}@%`)
    await c.end()
  })

  it('passes the server refusal of a wrong upstream password to the client', async () => {
    const bad = await startMysqlTestProxy(
      `mysql://${user}:wrong@127.0.0.1:3306/${db.name}`,
      mysqlTestPolicy(db.name),
    )
    try {
      await expect(
        mysql.createConnection({host: '127.0.0.1', port: bad.port, user: 'x', database: db.name}),
      ).rejects.toMatchObject({errno: 1045, message: expect.stringMatching(/Access denied for user/)})
    } finally {
      await bad.close()
    }
  })

  it('requires the local password when one is set (mysql2 and the mysql client)', async () => {
    const locked = await startMysqlTestProxy(
      `mysql://root@127.0.0.1:3306/${db.name}`,
      mysqlTestPolicy(db.name),
      {
        localPassword: 'let-me-in',
      },
    )
    try {
      await expect(
        mysql.createConnection({host: '127.0.0.1', port: locked.port, user: 'root', password: 'nope'}),
      ).rejects.toMatchObject({errno: 1045, message: expect.stringMatching(/dbgate local password/)})
      const c = await mysql.createConnection({
        host: '127.0.0.1',
        port: locked.port,
        user: 'root',
        password: 'let-me-in',
      })
      const [rows] = await c.query('SELECT 1 AS one')
      expect(rows).toEqual([{one: 1}])
      await c.end()
      const {stdout} = await run('mysql', [
        '-h127.0.0.1',
        `-P${locked.port}`,
        '-uroot',
        '-plet-me-in',
        '-N',
        '-e',
        'select 41+1',
      ])
      expect(stdout.trim()).toBe('42')
      await expect(
        run('mysql', ['-h127.0.0.1', `-P${locked.port}`, '-uroot', '-pwrong', '-e', 'select 1']),
      ).rejects.toMatchObject({
        stderr: expect.stringMatching(/ERROR 1045/),
      })
    } finally {
      await locked.close()
    }
  })

  it('answers a TLS request on the loopback port with a clear ERR', async () => {
    const raw = await rawMysqlGreeted(proxy.port)
    expect(raw.greeting.capabilities & Cap.ssl).toBe(0)
    const hello = {
      capabilities: RAW_CAPABILITIES | Cap.ssl,
      maxPacket: 1 << 24,
      collation: 45,
      user: 'root',
      authResponse: Buffer.alloc(0),
      database: undefined,
      authPlugin: undefined,
      attributes: undefined,
    }
    raw.write(encodePacket(1, encodeHandshakeResponse(hello, true)))
    const err = await expectErr(raw)
    expect(err.message).toMatch(/does not offer TLS.*--ssl-mode=DISABLED/)
    await raw.closed()
  })

  it('refuses ssl-mode=required against a server without TLS, with a clear error', async () => {
    const tls = await startMysqlTestProxy(
      `mysql://root@127.0.0.1:3306/${db.name}?ssl-mode=required`,
      mysqlTestPolicy(db.name),
    )
    try {
      await expect(
        mysql.createConnection({host: '127.0.0.1', port: tls.port, user: 'root'}),
      ).rejects.toMatchObject({
        errno: 2003,
        message: expect.stringMatching(/does not support TLS, but ssl-mode=required requires it/),
      })
    } finally {
      await tls.close()
    }
  })
})

describe('MySQL engine faults end only the faulty session', () => {
  it('closes a session that sends an oversized packet; another session goes on', async () => {
    const other = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'root',
      database: db.name,
    })
    const raw = await rawMysql(proxy.port, db.name)
    raw.command(Buffer.concat([Buffer.from([0x03]), Buffer.alloc(5000, 0x20)]))
    expect(await expectErr(raw)).toMatchObject({
      code: 1153,
      message: expect.stringMatching(/exceeds the limit of 4096 bytes/),
    })
    await raw.closed()
    const [rows] = await other.query('SELECT 2 AS two')
    expect(rows).toEqual([{two: 2}])
    await other.end()
  })

  it('closes a session that sends a command out of sequence', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.write(encodePacket(5, Buffer.from([0x0e])))
    expect(await expectErr(raw)).toMatchObject({code: 1158, message: expect.stringMatching(/sequence id 5/)})
    await raw.closed()
  })

  it('closes a session whose handshake response is truncated', async () => {
    const raw = await rawMysqlGreeted(proxy.port)
    raw.write(encodePacket(1, Buffer.from([0x00, 0x02, 0x00, 0x00, 1, 2])))
    expect(await expectErr(raw)).toMatchObject({code: 1158})
    await raw.closed()
  })

  it('refuses unknown commands and empty packets without forwarding them; the session goes on', async () => {
    const raw = await rawMysql(proxy.port, db.name)
    raw.command(Buffer.from([0x1d, 0])) // COM_DAEMON: never a client's command
    expect(await expectErr(raw)).toMatchObject({
      code: 1047,
      message: expect.stringMatching(/command 0x1d is not relayed/),
    })
    raw.command(Buffer.from([0x42]))
    expect(await expectErr(raw)).toMatchObject({code: 1047})
    raw.command(Buffer.alloc(0))
    expect(await expectErr(raw)).toMatchObject({code: 1047})
    raw.command(Buffer.from([0x0e])) // COM_PING
    expect((await raw.next()).payload[0]).toBe(0)
    raw.socket.destroy()
  })
})
