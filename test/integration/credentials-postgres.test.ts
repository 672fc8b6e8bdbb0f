/* eslint-disable @typescript-eslint/no-unsafe-argument -- tests probe parsed JSON bodies */
import {createHash, createHmac, pbkdf2Sync} from 'node:crypto'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {api} from './server-harness.js'
import {
  ALLOW_ALL,
  dropPgRoleAndMembers,
  openSessionApi,
  pgAdmin,
  startCredServer,
  suffix,
  tokenOf,
  type CredServer,
} from './credentials-support.js'

// Per-session PostgreSQL users minted by a real control plane, checked by connecting to the real server
// directly (no guard in between): the role's own grants are the hard boundary.

const s = suffix()
const DB = `dbg_cred_${s}`
const RO = `app_ro_${s}`
const FOREIGN = `dbg_foreign_${s
  .slice(0, 10)
  .padEnd(10, 'a')
  .replace(/[^a-z2-7]/g, 'a')}`
const clock = {offset: 0}
let server: CredServer
let alice: string
let bob: string

const target = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  protocol: 'postgres',
  host: '127.0.0.1',
  port: 5432,
  database: DB,
  admin: {user: 'postgres', password: 'unused-with-trust'},
  groups: ['eng'],
  roles: [{groups: ['eng'], db_role: RO}],
  credential_ttl: 3,
  ...extra,
})

const config = {
  targets: [target('pg-cred'), target('pg-admins', {groups: ['admins']}), target('pg-norole', {roles: []})],
  policies: [{name: 'allow-all', document: ALLOW_ALL}],
}

async function connectAs(user: string, password: string): Promise<pg.Client> {
  const c = new pg.Client({host: '127.0.0.1', port: 5432, user, password, database: DB})
  c.on('error', () => undefined)
  await c.connect()
  return c
}

async function roleExists(name: string): Promise<boolean> {
  return (await pgAdmin(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [name])).length === 1
}

/** Checks a password against the SCRAM verifier PostgreSQL stored, as the server's SCRAM exchange would. */
function scramAccepts(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier)
  if (!m) return false
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), Number(m[1]), 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  return createHash('sha256').update(clientKey).digest('base64') === m[3]
}

beforeAll(async () => {
  await pgAdmin(`CREATE DATABASE ${DB}`)
  await pgAdmin(`CREATE ROLE ${RO} NOLOGIN`)
  await pgAdmin(`CREATE ROLE ${FOREIGN} NOLOGIN`)
  await pgAdmin(
    `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'one');
     GRANT USAGE ON SCHEMA public TO ${RO}; GRANT SELECT ON items TO ${RO}`,
    [],
    DB,
  )
  server = await startCredServer(config, {clock})
  alice = await tokenOf(server, 'alice')
  bob = await tokenOf(server, 'bob')
})

afterAll(async () => {
  await server?.stop()
  await pgAdmin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await dropPgRoleAndMembers(RO)
  await pgAdmin(`DROP ROLE IF EXISTS ${FOREIGN}`)
})

describe('postgres: minted per-session users', () => {
  it('mints a role that logs in with exactly the mapped role rights, and DELETE revokes it', async () => {
    const res = await openSessionApi(server, alice, {target: 'pg-cred'})
    expect(res.status).toBe(201)
    const {credentials, target: t, renew_after_seconds} = res.body
    expect(credentials.user).toMatch(/^dbg_alice_[a-z2-7]{10}$/)
    expect(credentials.password.length).toBeGreaterThanOrEqual(43)
    expect(t).toEqual({
      name: 'pg-cred',
      protocol: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      database: DB,
      tls: {mode: 'disable'},
    })
    expect(renew_after_seconds).toBe(1)

    const [auth] = await pgAdmin(
      `SELECT rolpassword, rolvaliduntil, rolsuper, rolcreaterole FROM pg_authid WHERE rolname = $1`,
      [credentials.user],
    )
    expect(scramAccepts(auth.rolpassword, credentials.password)).toBe(true)
    expect(scramAccepts(auth.rolpassword, `${credentials.password}x`)).toBe(false)
    expect(new Date(auth.rolvaliduntil).toISOString()).toBe(credentials.expires_at)
    expect([auth.rolsuper, auth.rolcreaterole]).toEqual([false, false])

    const direct = await connectAs(credentials.user, credentials.password)
    expect((await direct.query('SELECT name FROM items')).rows).toEqual([{name: 'one'}])
    await expect(direct.query(`INSERT INTO items VALUES (2, 'two')`)).rejects.toMatchObject({code: '42501'})
    await expect(direct.query('DROP TABLE items')).rejects.toMatchObject({code: '42501'})
    await expect(direct.query('CREATE TABLE mine (x int)')).rejects.toMatchObject({code: '42501'})

    const end = await api(server, `/api/v1/sessions/${res.body.session_id}`, alice, {method: 'DELETE'})
    expect(end).toEqual({status: 200, body: {revoked: true}})
    expect(await roleExists(credentials.user)).toBe(false)
    // Its open connection was terminated, and it cannot log in again.
    await expect(direct.query('SELECT 1')).rejects.toThrow()
    await expect(connectAs(credentials.user, credentials.password)).rejects.toThrow(/does not exist/)
    // Ending twice is harmless; renewing an ended session is refused.
    expect(
      (await api(server, `/api/v1/sessions/${res.body.session_id}`, alice, {method: 'DELETE'})).status,
    ).toBe(200)
    const renew = await api(server, `/api/v1/sessions/${res.body.session_id}/renew`, alice, {method: 'POST'})
    expect(renew.status).toBe(409)
  })

  it('renewal moves VALID UNTIL, so the role outlives its first TTL; without renewal it lapses', async () => {
    const kept = (await openSessionApi(server, alice, {target: 'pg-cred'})).body
    const lapsed = (await openSessionApi(server, alice, {target: 'pg-cred'})).body
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1000))
      const r = await api(server, `/api/v1/sessions/${kept.session_id}/renew`, alice, {method: 'POST'})
      expect(r.status).toBe(200)
      expect(r.body.bundle.payload.target).toBe('pg-cred')
    }
    // Past the original expiry: the renewed role is still valid, per the database's own clock.
    expect(Date.now()).toBeGreaterThan(Date.parse(kept.credentials.expires_at))
    const [k] = await pgAdmin(`SELECT rolvaliduntil > now() AS valid FROM pg_roles WHERE rolname = $1`, [
      kept.credentials.user,
    ])
    expect(k.valid).toBe(true)
    const c = await connectAs(kept.credentials.user, kept.credentials.password)
    expect((await c.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{n: 1}])
    await c.end()
    // The other one was never renewed: its VALID UNTIL has passed, so password logins are refused.
    const [l] = await pgAdmin(`SELECT rolvaliduntil > now() AS valid FROM pg_roles WHERE rolname = $1`, [
      lapsed.credentials.user,
    ])
    expect(l.valid).toBe(false)
    const late = await api(server, `/api/v1/sessions/${lapsed.session_id}/renew`, alice, {method: 'POST'})
    expect(late.status).toBe(409)
    expect(late.body.error.message).toMatch(/ended or expired/)
    await api(server, `/api/v1/sessions/${kept.session_id}`, alice, {method: 'DELETE'})
  })

  it('only the owner (or an admin) may renew or end a session', async () => {
    const opened = (await openSessionApi(server, alice, {target: 'pg-cred'})).body
    const renew = await api(server, `/api/v1/sessions/${opened.session_id}/renew`, bob, {method: 'POST'})
    expect(renew.status).toBe(403)
    const end = await api(server, `/api/v1/sessions/${opened.session_id}`, bob, {method: 'DELETE'})
    expect(end.status).toBe(403)
    expect(await roleExists(opened.credentials.user)).toBe(true)
    const carol = await tokenOf(server, 'carol')
    expect(
      (await api(server, `/api/v1/sessions/${opened.session_id}`, carol, {method: 'DELETE'})).status,
    ).toBe(200)
    expect(await roleExists(opened.credentials.user)).toBe(false)
    expect((await api(server, `/api/v1/sessions/nope/renew`, alice, {method: 'POST'})).status).toBe(404)
  })

  it('refuses unknown, forbidden and unmapped targets, naming the allowed ones', async () => {
    const unknown = await openSessionApi(server, alice, {target: 'nope'})
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.message).toMatch(/targets you may use: pg-cred, pg-norole/)
    const forbidden = await openSessionApi(server, alice, {target: 'pg-admins'})
    expect(forbidden.status).toBe(403)
    expect(forbidden.body.error.message).toMatch(/may not use target "pg-admins".*pg-cred/)
    const unmapped = await openSessionApi(server, alice, {target: 'pg-norole'})
    expect(unmapped.status).toBe(403)
    expect(unmapped.body.error.message).toMatch(/maps no database role/)
    expect((await openSessionApi(server, alice, {target: 'pg-cred', extra: 1})).status).toBe(400)
  })

  it('the reaper removes what a crashed CLI left, after expiry, and never touches a role it did not mint', async () => {
    const crashed = (await openSessionApi(server, alice, {target: 'pg-cred'})).body
    // Not expired yet: the reaper leaves it alone.
    expect((await server.ctx.reaper.run()).revoked).not.toContain(`pg-cred/${crashed.credentials.user}`)
    expect(await roleExists(crashed.credentials.user)).toBe(true)
    // The CLI never ends it nor renews it; the control plane's clock passes its expiry.
    clock.offset += 60_000
    const report = await server.ctx.reaper.run()
    expect(report.revoked).toContain(`pg-cred/${crashed.credentials.user}`)
    expect(await roleExists(crashed.credentials.user)).toBe(false)
    // A role with the prefix that this control plane never recorded is someone else's: untouched.
    expect(report.foreign).toBeGreaterThanOrEqual(1)
    expect(await roleExists(FOREIGN)).toBe(true)
  })

  it('after a control-plane restart, the reaper run at start cleans what the previous process minted', async () => {
    const crashed = (await openSessionApi(server, alice, {target: 'pg-cred'})).body
    expect(await roleExists(crashed.credentials.user)).toBe(true)
    clock.offset += 60_000
    server = await server.restart()
    const report = await server.firstReap
    expect(report?.revoked).toContain(`pg-cred/${crashed.credentials.user}`)
    expect(await roleExists(crashed.credentials.user)).toBe(false)
    alice = await tokenOf(server, 'alice')
    bob = await tokenOf(server, 'bob')
  })
})
