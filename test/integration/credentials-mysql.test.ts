/* eslint-disable @typescript-eslint/no-unsafe-argument -- tests probe parsed JSON bodies */
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {api} from './server-harness.js'
import {
  ALLOW_ALL,
  dropMyRoleAndMembers,
  myAdmin,
  openSessionApi,
  startCredServer,
  suffix,
  tokenOf,
  type CredServer,
} from './credentials-support.js'

// Per-session MariaDB users: CREATE USER + GRANT role + SET DEFAULT ROLE, password logins checked against the
// real server (mysql_native_password), and the reaper enforcing the expiry MySQL itself cannot.

const s = suffix()
const DB = `dbg_cred_${s}`
const RO = `app_ro_${s}`
const clock = {offset: 0}
let server: CredServer
let alice: string

const config = {
  targets: [
    {
      name: 'maria-cred',
      protocol: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      database: DB,
      admin: {user: 'root', password: ''},
      groups: ['eng'],
      roles: [{groups: ['eng'], db_role: RO}],
      credential_ttl: 3,
    },
  ],
  policies: [{name: 'allow-all', document: ALLOW_ALL}],
}

async function connectAs(user: string, password: string): Promise<mysql.Connection> {
  const c = await mysql.createConnection({host: '127.0.0.1', port: 3306, user, password, database: DB})
  c.on('error', () => undefined)
  return c
}

async function userExists(name: string): Promise<boolean> {
  return (await myAdmin(`SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'`, [name])).length === 1
}

beforeAll(async () => {
  await myAdmin(`CREATE DATABASE ${DB}`)
  await myAdmin(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, name VARCHAR(20))`)
  await myAdmin(`INSERT INTO ${DB}.items VALUES (1, 'one')`)
  await myAdmin(`CREATE ROLE ${RO}`)
  await myAdmin(`GRANT SELECT ON ${DB}.* TO ${RO}`)
  server = await startCredServer(config, {clock})
  alice = await tokenOf(server, 'alice')
})

afterAll(async () => {
  await server?.stop()
  await dropMyRoleAndMembers(RO, DB)
})

describe('mariadb: minted per-session users', () => {
  it('mints a user that logs in with its password and has only the role rights; DELETE drops it', async () => {
    const res = await openSessionApi(server, alice, {target: 'maria-cred'})
    expect(res.status).toBe(201)
    const {user, password} = res.body.credentials
    expect(user).toMatch(/^dbg_alice_[a-z2-7]{10}$/)
    expect(user.length).toBeLessThanOrEqual(32)

    const direct = await connectAs(user, password)
    const [rows] = await direct.query('SELECT name FROM items')
    expect(rows).toEqual([{name: 'one'}])
    await expect(direct.query(`INSERT INTO items VALUES (2, 'two')`)).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    })
    await expect(direct.query('DROP TABLE items')).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    })
    await expect(connectAs(user, `${password}x`)).rejects.toThrow(/Access denied/)

    const end = await api(server, `/api/v1/sessions/${res.body.session_id}`, alice, {method: 'DELETE'})
    expect(end).toEqual({status: 200, body: {revoked: true}})
    expect(await userExists(user)).toBe(false)
    await expect(direct.query('SELECT 1')).rejects.toThrow()
    await expect(connectAs(user, password)).rejects.toThrow(/Access denied/)
  })

  it('a renewed session survives its first TTL; an unrenewed one is reaped and its password refused', async () => {
    const kept = (await openSessionApi(server, alice, {target: 'maria-cred'})).body
    const lapsed = (await openSessionApi(server, alice, {target: 'maria-cred'})).body
    clock.offset += 2000
    const renewed = await api(server, `/api/v1/sessions/${kept.session_id}/renew`, alice, {method: 'POST'})
    expect(renewed.status).toBe(200)
    expect(Date.parse(renewed.body.expires_at)).toBeGreaterThan(Date.parse(kept.credentials.expires_at))
    clock.offset += 2000 // past both original expiries, inside the renewed one
    const report = await server.ctx.reaper.run()
    expect(report.revoked).toContain(`maria-cred/${lapsed.credentials.user}`)
    expect(report.revoked).not.toContain(`maria-cred/${kept.credentials.user}`)
    await expect(connectAs(lapsed.credentials.user, lapsed.credentials.password)).rejects.toThrow(
      /Access denied/,
    )
    const c = await connectAs(kept.credentials.user, kept.credentials.password)
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM items')
    expect(rows).toEqual([{n: 1}])
    await c.end()
    await api(server, `/api/v1/sessions/${kept.session_id}`, alice, {method: 'DELETE'})
    expect(await userExists(kept.credentials.user)).toBe(false)
  })

  it('after a restart, the reaper run at start drops what the previous process minted', async () => {
    const crashed = (await openSessionApi(server, alice, {target: 'maria-cred'})).body
    expect(await userExists(crashed.credentials.user)).toBe(true)
    clock.offset += 60_000
    server = await server.restart()
    expect((await server.firstReap)?.revoked).toContain(`maria-cred/${crashed.credentials.user}`)
    expect(await userExists(crashed.credentials.user)).toBe(false)
  })
})
