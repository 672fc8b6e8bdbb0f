/**
 * TLS from the MySQL engine to the server, against a real MariaDB with TLS (a throwaway instance: the
 * shared server has have_ssl DISABLED). The login used requires TLS, so a session that works proves the
 * upstream leg is encrypted; the server also reports the TLS version of the proxy's connection.
 */
import {readFileSync} from 'node:fs'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startMariadb, type MariadbInstance} from '../support/mariadb-instance.js'
import {mysqlTestPolicy, startMysqlTestProxy, type MysqlTestProxy} from '../support/mysql-proxy.js'

let db: MariadbInstance
const proxies: MysqlTestProxy[] = []

beforeAll(async () => {
  db = await startMariadb()
  await db.admin(`CREATE DATABASE app;
    CREATE TABLE app.items (id INT PRIMARY KEY); INSERT INTO app.items VALUES (1), (2);
    CREATE USER tls_app@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL; GRANT ALL ON app.* TO tls_app@'%'`)
}, 120_000)
afterAll(async () => {
  for (const p of proxies) await p.close()
  await db?.stop()
})

async function proxy(query: string, target = {}): Promise<MysqlTestProxy> {
  const url = `mysql://tls_app:tls-pw@127.0.0.1:${db.port}/app?${query}`
  const p = await startMysqlTestProxy(url, mysqlTestPolicy('app'), {target})
  proxies.push(p)
  return p
}

async function through(p: MysqlTestProxy): Promise<mysql.Connection> {
  const c = await mysql.createConnection({host: '127.0.0.1', port: p.port, user: 'tls_app'})
  c.on('error', () => undefined)
  return c
}

/** The TLS version of the proxy's upstream session, as the server reports it, and a query's answer. */
async function tlsAndCount(p: MysqlTestProxy): Promise<{version: string; n: number}> {
  const c = await through(p)
  try {
    const [status] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'")
    const [count] = await c.query('SELECT COUNT(*) AS n FROM items')
    return {version: (status as {Value: string}[])[0]!.Value, n: (count as {n: number}[])[0]!.n}
  } finally {
    await c.end()
  }
}

describe('TLS to a MariaDB that requires it', {timeout: 60_000}, () => {
  it('ssl-mode=verify_identity with the CA file: the session runs over TLS', async () => {
    const p = await proxy(`ssl-mode=verify_identity&ssl-ca=${encodeURIComponent(db.certs.caFile)}`)
    expect(await tlsAndCount(p)).toEqual({version: expect.stringMatching(/^TLSv1\.[23]$/), n: 2})
  })

  it('verify_identity with the CA in memory and a server name (what TARGET mode passes)', async () => {
    const p = await proxy('ssl-mode=disabled', {
      sslMode: 'verify_identity',
      sslCaPem: readFileSync(db.certs.caFile, 'utf8'),
      sslServerName: 'localhost',
    })
    expect((await tlsAndCount(p)).n).toBe(2)
  })

  it('ssl-mode=required (no verification) and the default, preferred, use TLS too', async () => {
    expect((await tlsAndCount(await proxy('ssl-mode=required'))).version).toMatch(/^TLSv1/)
    expect((await tlsAndCount(await proxy(''))).version).toMatch(/^TLSv1/)
  })

  it('a certificate from another CA is refused, and the client is told why', async () => {
    const p = await proxy(`ssl-mode=verify_identity&ssl-ca=${encodeURIComponent(db.certs.otherCaFile)}`)
    await expect(through(p)).rejects.toMatchObject({
      message: expect.stringMatching(/dbgate cannot reach the database: .*certificate/i),
    })
  })

  it('a server name the certificate does not carry is refused under verify_identity', async () => {
    const p = await proxy('ssl-mode=disabled', {
      sslMode: 'verify_identity',
      sslCaPem: readFileSync(db.certs.caFile, 'utf8'),
      sslServerName: 'db.example.com',
    })
    await expect(through(p)).rejects.toMatchObject({
      message: expect.stringMatching(/dbgate cannot reach the database/),
    })
  })

  it('verify_identity without a CA (TARGET verify-full with none) trusts only the system roots', async () => {
    const p = await proxy('ssl-mode=disabled', {sslMode: 'verify_identity'})
    await expect(through(p)).rejects.toMatchObject({
      message: expect.stringMatching(/dbgate cannot reach the database: .*certificate/i),
    })
  })

  it('ssl-mode=disabled reaches the server in the clear, which refuses this login', async () => {
    const p = await proxy('ssl-mode=disabled')
    await expect(through(p)).rejects.toMatchObject({message: expect.stringMatching(/Access denied/)})
  })
})
