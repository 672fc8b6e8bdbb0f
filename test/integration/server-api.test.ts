/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {targetCredentials} from '../../src/server/targets.js'
import {api, loginAs, postForm, startTestServer, type TestServer} from './server-harness.js'

// Every endpoint's authentication and roles, machine tokens, the targets registry, and bad input.

let server: TestServer
let alice: any
let carol: any

beforeAll(async () => {
  server = await startTestServer()
  alice = await loginAs(server, {username: 'alice', password: 'alice-pw'})
  carol = await loginAs(server, {username: 'carol', password: 'carol-pw'})
})
afterAll(async () => {
  await server?.stop()
})

const ENDPOINTS: {method: string; path: string; admin: boolean; body?: unknown}[] = [
  {method: 'GET', path: '/api/v1/me', admin: false},
  {method: 'GET', path: '/api/v1/targets', admin: false},
  {method: 'GET', path: '/api/v1/admin/tokens', admin: true},
  {method: 'POST', path: '/api/v1/admin/tokens', admin: true, body: {name: 'x', groups: []}},
  {method: 'DELETE', path: '/api/v1/admin/tokens/nope', admin: true},
  {method: 'GET', path: '/api/v1/admin/targets', admin: true},
  {method: 'POST', path: '/api/v1/admin/targets', admin: true, body: {}},
  {method: 'DELETE', path: '/api/v1/admin/targets/nope', admin: true},
]

function tamper(jwt: string): string {
  const [h, p, s] = jwt.split('.')
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString())
  payload.roles = ['admin']
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
}

describe('authentication and roles', () => {
  it.each(ENDPOINTS)(
    '$method $path refuses missing, malformed, forged, expired and revoked tokens',
    async (e) => {
      const call = (token: string | undefined) => api(server, e.path, token, {method: e.method, body: e.body})
      for (const token of [undefined, 'not-a-jwt', 'a.b.c', tamper(carol.access_token), alice.id_token]) {
        const res = await call(token)
        expect(res.status, `token ${String(token).slice(0, 20)}`).toBe(401)
        expect(res.body).toEqual({error: {code: 'unauthorized', message: expect.any(String)}})
      }
      server.clock.offset = 11 * 60_000
      try {
        expect((await call(carol.access_token)).status).toBe(401)
      } finally {
        server.clock.offset = 0
      }
      if (e.admin) {
        const wrongRole = await call(alice.access_token)
        expect(wrongRole.status).toBe(403)
        expect(wrongRole.body.error.code).toBe('forbidden')
      }
    },
  )

  it('refuses a revoked session immediately', async () => {
    const t = await loginAs(server, {username: 'carol', password: 'carol-pw'})
    expect((await api(server, '/api/v1/admin/tokens', t.access_token)).status).toBe(200)
    await postForm(`${server.url}/auth/revoke`, {token: t.refresh_token})
    for (const e of ENDPOINTS)
      expect((await api(server, e.path, t.access_token, {method: e.method, body: e.body})).status).toBe(401)
  })

  it('answers /me and filters /targets by group, without credentials', async () => {
    const me = await api(server, '/api/v1/me', alice.access_token)
    expect(me.body).toMatchObject({
      sub: 'alice',
      kind: 'user',
      groups: ['eng', 'approvers'],
      roles: ['user', 'approver'],
    })
    const targets = await api(server, '/api/v1/targets', alice.access_token)
    expect(targets.body).toEqual({
      targets: [{name: 'pg-test', protocol: 'postgres', host: '127.0.0.1', port: 5432, database: 'test'}],
    })
    const carolTargets = await api(server, '/api/v1/targets', carol.access_token)
    expect(carolTargets.body.targets.map((t: any) => t.name)).toEqual(['maria-admin'])
  })
})

describe('machine tokens', () => {
  it('are created once, exchanged for a service identity, revoked and expire', async () => {
    const created = await api(server, '/api/v1/admin/tokens', carol.access_token, {
      method: 'POST',
      body: {name: 'ci-deploy', groups: ['deploy', 'eng'], ttl_seconds: 3600},
    })
    expect(created.status).toBe(201)
    expect(created.body.token).toMatch(/^dbg_mt_[A-Za-z0-9_-]{43}$/)
    expect(created.body.info).toMatchObject({
      name: 'ci-deploy',
      groups: ['deploy', 'eng'],
      created_by: 'carol',
      revoked_at: null,
    })
    const list = await api(server, '/api/v1/admin/tokens', carol.access_token)
    expect(JSON.stringify(list.body)).not.toContain(created.body.token)
    expect(JSON.stringify(list.body)).not.toContain('hash')

    const dup = await api(server, '/api/v1/admin/tokens', carol.access_token, {
      method: 'POST',
      body: {name: 'ci-deploy', groups: []},
    })
    expect(dup).toMatchObject({status: 409, body: {error: {code: 'conflict'}}})

    const exchange = (t: string) =>
      postForm(`${server.url}/auth/token`, {
        grant_type: 'urn:dbgate:params:oauth:grant-type:machine-token',
        machine_token: t,
      })
    const ex = await exchange(created.body.token)
    expect(ex.status).toBe(200)
    expect(ex.body.refresh_token).toBeUndefined()
    expect(ex.body.identity).toEqual({
      sub: 'service:ci-deploy',
      name: 'ci-deploy',
      kind: 'service',
      groups: ['deploy', 'eng'],
      roles: ['user'],
    })
    const me = await api(server, '/api/v1/me', ex.body.access_token)
    expect(me.body).toMatchObject({sub: 'service:ci-deploy', kind: 'service'})
    expect(
      (await api(server, '/api/v1/targets', ex.body.access_token)).body.targets.map((t: any) => t.name),
    ).toEqual(['pg-test'])
    const after = await api(server, '/api/v1/admin/tokens', carol.access_token)
    expect(after.body.tokens.find((t: any) => t.name === 'ci-deploy').last_used_at).not.toBeNull()

    server.clock.offset = 3601_000
    try {
      expect((await exchange(created.body.token)).body).toMatchObject({
        error: 'invalid_grant',
        error_description: 'the machine token has expired',
      })
    } finally {
      server.clock.offset = 0
    }

    const del = await api(
      server,
      `/api/v1/admin/tokens/${created.body.info.id as string}`,
      carol.access_token,
      {method: 'DELETE'},
    )
    expect(del).toEqual({status: 200, body: {}})
    expect((await api(server, '/api/v1/me', ex.body.access_token)).status).toBe(401)
    expect((await exchange(created.body.token)).body.error_description).toBe('the machine token was revoked')
    expect((await exchange('dbg_mt_nope')).body.error).toBe('invalid_grant')
    expect(
      (await api(server, '/api/v1/admin/tokens/ci-deploy', carol.access_token, {method: 'DELETE'})).status,
    ).toBe(404)
  })
})

describe('targets registry', () => {
  const spec = {
    name: 'api-pg',
    protocol: 'postgres',
    host: 'db.internal',
    port: 5432,
    database: 'app',
    tls: {mode: 'verify-full'},
    admin: {user: 'dbgate_admin', password: 'very-secret-password-42'},
    groups: ['eng'],
  }

  it('stores admin credentials encrypted and never returns them', async () => {
    const created = await api(server, '/api/v1/admin/targets', carol.access_token, {
      method: 'POST',
      body: spec,
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'api-pg',
      admin_user: 'dbgate_admin',
      source: 'api',
      tls: {mode: 'verify-full'},
    })
    const all = await api(server, '/api/v1/admin/targets', carol.access_token)
    expect(all.body.targets.map((t: any) => t.name)).toEqual(['api-pg', 'maria-admin', 'pg-test'])
    for (const res of [created, all, await api(server, '/api/v1/targets', alice.access_token)]) {
      const text = JSON.stringify(res.body)
      expect(text).not.toContain('very-secret-password-42')
      expect(text).not.toContain('pg-secret-pw')
      expect(text).not.toContain('password')
    }
    const db = new Database(`${server.dataDir}/control-plane.db`, {readonly: true})
    const raw = JSON.stringify(db.prepare('SELECT * FROM targets').all())
    db.close()
    expect(raw).not.toContain('very-secret-password-42')
    expect(raw).not.toContain('pg-secret-pw')
    expect(await targetCredentials(server.ctx.store, 'api-pg', server.ctx.serverKey)).toEqual({
      user: 'dbgate_admin',
      password: 'very-secret-password-42',
    })
  })

  it('deletes API targets but not config targets', async () => {
    await api(server, '/api/v1/admin/targets', carol.access_token, {
      method: 'POST',
      body: {...spec, name: 'temp'},
    })
    expect(
      (await api(server, '/api/v1/admin/targets/temp', carol.access_token, {method: 'DELETE'})).status,
    ).toBe(200)
    expect(
      (await api(server, '/api/v1/admin/targets/temp', carol.access_token, {method: 'DELETE'})).status,
    ).toBe(404)
    const cfg = await api(server, '/api/v1/admin/targets/pg-test', carol.access_token, {method: 'DELETE'})
    expect(cfg).toMatchObject({status: 409, body: {error: {code: 'conflict'}}})
    const replace = await api(server, '/api/v1/admin/targets', carol.access_token, {
      method: 'POST',
      body: {...spec, name: 'pg-test'},
    })
    expect(replace.status).toBe(409)
  })
})

describe('bad input', () => {
  const raw = (path: string, body: string, type = 'application/json', token = carol.access_token as string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {'content-type': type, authorization: `Bearer ${token}`},
      body,
    })

  it('answers malformed JSON with 400 and a JSON error', async () => {
    const res = await raw('/api/v1/admin/tokens', '{"name": ')
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: {code: 'bad_request', message: 'the request body is not valid JSON'},
    })
    const oauth = await raw('/auth/token', '{bad')
    expect(oauth.status).toBe(400)
    expect(await oauth.json()).toMatchObject({error: 'invalid_request'})
  })

  it('answers an oversized body with 413', async () => {
    const res = await raw(
      '/api/v1/admin/tokens',
      JSON.stringify({name: 'x', groups: ['a'.repeat(1_100_000)]}),
    )
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({error: {code: 'payload_too_large'}})
  })

  it('rejects unknown fields and wrong types, naming them', async () => {
    const unknown = await raw('/api/v1/admin/tokens', JSON.stringify({name: 'x', groups: [], admin: true}))
    expect(unknown.status).toBe(400)
    expect(await unknown.json()).toEqual({
      error: {code: 'bad_request', message: 'body: unknown field "admin"'},
    })
    const nested = await raw(
      '/api/v1/admin/targets',
      JSON.stringify({
        ...{name: 'n', protocol: 'postgres', host: 'h', port: 1, database: 'd', groups: []},
        admin: {user: 'u', password: 'p', role: 'x'},
      }),
    )
    expect(((await nested.json()) as any).error.message).toBe('body.admin: unknown field "role"')
    const typed = await raw(
      '/api/v1/admin/targets',
      JSON.stringify({
        name: 'n',
        protocol: 'postgres',
        host: 'h',
        port: '5432',
        database: 'd',
        admin: {user: 'u', password: 'p'},
        groups: [],
      }),
    )
    expect(typed.status).toBe(400)
    expect(((await typed.json()) as any).error.message).toMatch(/^body\.port /)
    const protocol = await raw(
      '/api/v1/admin/targets',
      JSON.stringify({
        name: 'n',
        protocol: 'oracle',
        host: 'h',
        port: 1,
        database: 'd',
        admin: {user: 'u', password: 'p'},
        groups: [],
      }),
    )
    expect(protocol.status).toBe(400)
  })

  it('answers unknown routes and unsupported content types with JSON errors, never a stack', async () => {
    const res = await api(server, '/api/v1/nothing', carol.access_token)
    expect(res).toMatchObject({status: 404, body: {error: {code: 'not_found'}}})
    const xml = await raw('/api/v1/admin/tokens', '<x/>', 'application/xml')
    expect(xml.status).toBe(415)
    const text = await xml.text()
    expect(JSON.parse(text)).toMatchObject({error: {code: 'bad_request'}})
    expect(text).not.toMatch(/at .*\.js:\d+/)
  })
})
