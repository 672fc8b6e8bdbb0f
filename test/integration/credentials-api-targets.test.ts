/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- tests probe parsed JSON bodies */
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

// Targets created through the admin API carry their own role mapping (and credential lifetime), validated on
// the way in, so they open sessions like config targets: the minted user joins the mapped role, whose grants
// are what it can do.

const s = suffix()
const DB = `dbg_apit_${s}`
const RO = `app_ro_apit_${s}`
let server: CredServer
let alice: string
let carol: string

const spec = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  protocol: 'postgres',
  host: '127.0.0.1',
  port: 5432,
  database: DB,
  admin: {user: 'postgres', password: 'unused-with-trust'},
  groups: ['eng'],
  ...extra,
})

const createTarget = (body: Record<string, unknown>) =>
  api(server, '/api/v1/admin/targets', carol, {method: 'POST', body})

beforeAll(async () => {
  await pgAdmin(`CREATE DATABASE ${DB}`)
  await pgAdmin(`CREATE ROLE ${RO} NOLOGIN`)
  await pgAdmin(
    `CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1);
     GRANT USAGE ON SCHEMA public TO ${RO}; GRANT SELECT ON items TO ${RO}`,
    [],
    DB,
  )
  server = await startCredServer({policies: [{name: 'allow-all', document: ALLOW_ALL}]})
  alice = await tokenOf(server, 'alice')
  carol = await tokenOf(server, 'carol')
})

afterAll(async () => {
  await server?.stop()
  await pgAdmin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await dropPgRoleAndMembers(RO)
})

describe('admin API targets with a role mapping', () => {
  it('opens sessions whose minted user joins the mapped role, with the target own TTL', async () => {
    const roles = [
      {groups: ['ops'], db_role: 'app_ops'},
      {groups: ['eng'], db_role: RO},
    ]
    const created = await createTarget(spec('api-pg', {roles, credential_ttl: 120}))
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    expect(created.body).toMatchObject({name: 'api-pg', roles, credential_ttl: 120, source: 'api'})
    const listed = await api(server, '/api/v1/admin/targets', carol)
    expect(listed.body.targets.find((t: {name: string}) => t.name === 'api-pg')).toMatchObject({roles})

    const before = Date.now()
    const res = await openSessionApi(server, alice, {target: 'api-pg'})
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    const {user, password, expires_at} = res.body.credentials
    expect(Date.parse(expires_at) - before).toBeGreaterThanOrEqual(119_000)
    expect(Date.parse(expires_at) - before).toBeLessThanOrEqual(125_000)
    const [member] = await pgAdmin(`SELECT pg_has_role($1, $2, 'MEMBER') AS m`, [user, RO])
    expect(member.m).toBe(true)
    const direct = new pg.Client({host: '127.0.0.1', port: 5432, user, password, database: DB})
    await direct.connect()
    expect((await direct.query('SELECT id FROM items')).rows).toEqual([{id: 1}])
    await expect(direct.query('INSERT INTO items VALUES (2)')).rejects.toMatchObject({code: '42501'})
    await direct.end()
    const renewed = await api(server, `/api/v1/sessions/${res.body.session_id}/renew`, alice, {
      method: 'POST',
    })
    expect(renewed.body.renew_after_seconds).toBe(40)
    expect(
      (await api(server, `/api/v1/sessions/${res.body.session_id}`, alice, {method: 'DELETE'})).body,
    ).toEqual({revoked: true})
  })

  it('without roles, the target exists but opens no session, and says where to add them', async () => {
    expect((await createTarget(spec('api-noroles'))).body).toMatchObject({roles: [], credential_ttl: null})
    const res = await openSessionApi(server, alice, {target: 'api-noroles'})
    expect(res.status).toBe(403)
    expect(res.body.error.message).toMatch(/maps no database role.*\(roles of the target in the admin API\)/)
  })

  it.each([
    ['an empty role name', {roles: [{groups: ['eng'], db_role: ''}]}],
    ['a role for no group', {roles: [{groups: [], db_role: RO}]}],
    ['a control character in the role', {roles: [{groups: ['eng'], db_role: 'ro\nDROP'}]}],
    ['a role name over 63 characters', {roles: [{groups: ['eng'], db_role: 'r'.repeat(64)}]}],
    ['an unknown key in a mapping', {roles: [{groups: ['eng'], db_role: RO, admin: true}]}],
    ['roles that are not a list', {roles: {eng: RO}}],
    ['a TTL under 30 s', {credential_ttl: 5}],
    ['a minted-user prefix as the role', {roles: [{groups: ['eng'], db_role: 'dbg_alice_aaaaaaaaaa'}]}],
  ])('refuses %s with 400, creating nothing', async (_what, extra) => {
    const res = await createTarget(spec(`api-bad-${s}`, extra))
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('bad_request')
    const listed = await api(server, '/api/v1/admin/targets', carol)
    expect(listed.body.targets.map((t: {name: string}) => t.name)).not.toContain(`api-bad-${s}`)
  })
})
