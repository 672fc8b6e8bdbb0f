import {inspect} from 'node:util'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Identity} from '../../src/control/api-types.js'
import {fetchBundleKeys} from '../../src/control/bundle.js'
import {ControlClient} from '../../src/control/client.js'
import {openSession, type SessionAuth} from '../../src/control/sessions.js'
import {DbgateError} from '../../src/errors.js'
import {api} from './server-harness.js'
import {ALLOW_ALL, pgAdmin, startCredServer, suffix, tokenOf, type CredServer} from './credentials-support.js'

// The CLI library the lead wires into `dbgate connect/exec TARGET`: openSession against a real control plane
// and PostgreSQL, its renewal loop, end(), and the errors a user sees.

const s = suffix()
const DB = `dbg_sess_${s}`
const RO = `app_ro_${s}`
let server: CredServer
let auth: SessionAuth

const target = (name: string, port = 5432) => ({
  name,
  protocol: 'postgres',
  host: '127.0.0.1',
  port,
  database: DB,
  admin: {user: 'postgres', password: 'x'},
  groups: ['eng'],
  roles: [{groups: ['eng'], db_role: RO}],
  credential_ttl: 3,
})

const ALICE: Identity = {
  sub: 'alice',
  name: 'Alice',
  kind: 'user',
  groups: ['eng', 'approvers'],
  roles: ['user'],
}

async function mintedRoles(): Promise<string[]> {
  const rows = await pgAdmin<{rolname: string}>(
    `SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
      WHERE g.rolname = $1 ORDER BY 1`,
    [RO],
  )
  return rows.map((r) => r.rolname)
}

async function canLogIn(user: string, password: string): Promise<boolean> {
  const c = new pg.Client({host: '127.0.0.1', port: 5432, user, password, database: DB})
  c.on('error', () => undefined)
  try {
    await c.connect()
    await c.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await c.end().catch(() => undefined)
  }
}

beforeAll(async () => {
  await pgAdmin(`CREATE DATABASE ${DB}`)
  await pgAdmin(`CREATE ROLE ${RO} NOLOGIN`)
  server = await startCredServer({
    targets: [target('pg-sess'), target('pg-down', 1)],
    policies: [{name: 'allow-all', document: ALLOW_ALL}],
  })
  const client = new ControlClient({baseUrl: server.url, accessToken: await tokenOf(server, 'alice')})
  auth = {client, identity: ALICE, bundleKeys: await fetchBundleKeys(client)}
})

afterAll(async () => {
  await server?.stop()
  await pgAdmin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  for (const r of await mintedRoles()) await pgAdmin(`DROP ROLE IF EXISTS "${r}"`)
  await pgAdmin(`DROP ROLE IF EXISTS ${RO}`)
})

describe('openSession', () => {
  it('opens, keeps credentials in memory only, renews in the background, and end() revokes', async () => {
    const session = await openSession(auth, {target: 'pg-sess'})
    expect(session.target.name).toBe('pg-sess')
    expect(session.policy.defaults.action).toBe('allow')
    expect(session.currentBundle()).toBe(session.bundle)
    const {user, password} = session.credentials
    expect(await canLogIn(user, password)).toBe(true)
    // Logging or serialising the session never shows the password.
    expect(JSON.stringify(session.credentials)).not.toContain(password)
    expect(inspect(session, {depth: 5})).not.toContain(password)

    const first = session.credentials.expiresAt
    const renewed: number[] = []
    await new Promise<void>((resolve, reject) => {
      session.renewLoop.start({
        onRenewed: (at) => {
          renewed.push(at)
          if (renewed.length === 2) resolve()
        },
        onFailed: reject,
      })
    })
    expect(session.renewLoop.running).toBe(true)
    expect(session.credentials.expiresAt).toBeGreaterThan(first)
    expect(renewed[1]).toBe(session.credentials.expiresAt)

    expect(await session.end()).toEqual({revoked: true})
    expect(session.renewLoop.running).toBe(false)
    expect(await session.end()).toEqual({revoked: true})
    expect(await canLogIn(user, password)).toBe(false)
  })

  it('stops the loop and reports when a renewal fails', async () => {
    const session = await openSession(auth, {target: 'pg-sess', actor: 'agent', agent: 'claude-code'})
    expect(session.bundle.payload).toMatchObject({actor: 'agent', agent: 'claude-code'})
    // Someone (an admin, or the owner elsewhere) ends it on the server.
    await api(server, `/api/v1/sessions/${session.sessionId}`, await tokenOf(server, 'carol'), {
      method: 'DELETE',
    })
    const failure = await new Promise<DbgateError>((resolve) => session.renewLoop.start({onFailed: resolve}))
    expect(failure).toBeInstanceOf(DbgateError)
    expect(failure.message).toMatch(/ended or expired/)
    expect(session.renewLoop.running).toBe(false)
    expect(session.renewLoop.failure).toBe(failure)
  })

  it('refuses a bundle not signed by the pinned key, and leaves no user behind', async () => {
    const before = await mintedRoles()
    const wrong = {'bundle-x': {...Object.values(auth.bundleKeys!)[0]!, kid: 'bundle-x'}}
    await expect(openSession({...auth, bundleKeys: wrong}, {target: 'pg-sess'})).rejects.toMatchObject({
      code: 'E_BUNDLE_INVALID',
    })
    expect(await mintedRoles()).toEqual(before)
    await expect(openSession({...auth, bundleKeys: undefined}, {target: 'pg-sess'})).rejects.toMatchObject({
      code: 'E_BUNDLE_INVALID',
      suggestions: ['Run `dbgate login` again.'],
    })
  })

  it('maps errors to what the user should see', async () => {
    await expect(openSession(auth, {target: 'nope'})).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/targets you may use: pg-down, pg-sess/) as unknown,
    })
    await expect(openSession(auth, {target: 'pg-down'})).rejects.toMatchObject({
      code: 'E_UNREACHABLE',
      exitCode: 6,
    })
    const stale = new ControlClient({baseUrl: server.url, accessToken: 'not-a-token'})
    await expect(openSession({...auth, client: stale}, {target: 'pg-sess'})).rejects.toMatchObject({
      exitCode: 5,
    })
  })
})
