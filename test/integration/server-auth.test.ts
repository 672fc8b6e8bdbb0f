/* eslint-disable @typescript-eslint/no-unsafe-argument -- tests probe parsed JSON bodies */
import {createRemoteJWKSet, jwtVerify} from 'jose'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  api,
  Browser,
  browserLogin,
  loginAs,
  pkce,
  postForm,
  startTestServer,
  type TestServer,
} from './server-harness.js'

// The browser login (authorization code + PKCE through the dev IdP's real login form), refresh rotation,
// reuse detection, revocation and expiry, all over HTTP.

const ALICE = {username: 'alice', password: 'alice-pw'}
let server: TestServer

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server?.stop()
})

function tokenForm(code: string, verifier: string, redirectUri: string): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: redirectUri,
    client_id: 'dbgate-cli',
  }
}

describe('browser login', () => {
  it('completes the authorization code flow with a nonce-bearing id_token', async () => {
    const login = await browserLogin(server, ALICE, {nonce: 'nonce-123', state: 'state-abc'})
    expect(login.redirect.origin + login.redirect.pathname).toBe('http://127.0.0.1:53682/callback')
    expect(login.redirect.searchParams.get('state')).toBe('state-abc')
    const code = login.redirect.searchParams.get('code')!
    const res = await postForm(`${server.url}/auth/token`, tokenForm(code, login.verifier, login.redirectUri))
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 600,
      identity: {
        sub: 'alice',
        name: 'Alice',
        email: 'alice@example.com',
        kind: 'user',
        groups: ['eng', 'approvers'],
      },
    })
    expect(res.body.identity.roles).toEqual(['user', 'approver'])
    expect(res.body.refresh_token).toMatch(/^dbg_rt_/)

    const discovery = (await (await fetch(`${server.url}/.well-known/dbgate`)).json()) as Record<
      string,
      string
    >
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri!))
    const id = await jwtVerify(res.body.id_token, jwks, {issuer: server.url, audience: 'dbgate-cli'})
    expect(id.payload).toMatchObject({sub: 'alice', nonce: 'nonce-123'})
    const at = await jwtVerify(res.body.access_token, jwks, {
      issuer: server.url,
      audience: 'dbgate-api',
      typ: 'at+jwt',
    })
    expect(at.payload).toMatchObject({sub: 'alice', actor: 'human'})
    expect(at.protectedHeader.kid).toBeTruthy()

    // One use only.
    const again = await postForm(
      `${server.url}/auth/token`,
      tokenForm(code, login.verifier, login.redirectUri),
    )
    expect(again).toMatchObject({status: 400, body: {error: 'invalid_grant'}})
    // An id token is not an access token.
    expect((await api(server, '/api/v1/me', res.body.id_token)).status).toBe(401)
  })

  it('refuses a wrong code_verifier or redirect_uri', async () => {
    const login = await browserLogin(server, ALICE)
    const code = login.redirect.searchParams.get('code')!
    const bad = await postForm(
      `${server.url}/auth/token`,
      tokenForm(code, pkce().verifier, login.redirectUri),
    )
    expect(bad).toMatchObject({status: 400, body: {error: 'invalid_grant'}})
    const login2 = await browserLogin(server, ALICE)
    const code2 = login2.redirect.searchParams.get('code')!
    const wrongUri = await postForm(
      `${server.url}/auth/token`,
      tokenForm(code2, login2.verifier, 'http://127.0.0.1:1/x'),
    )
    expect(wrongUri).toMatchObject({status: 400, body: {error: 'invalid_grant'}})
  })

  it('expires codes after 60 seconds', async () => {
    const login = await browserLogin(server, ALICE)
    server.clock.offset = 61_000
    try {
      const res = await postForm(
        `${server.url}/auth/token`,
        tokenForm(login.redirect.searchParams.get('code')!, login.verifier, login.redirectUri),
      )
      expect(res).toMatchObject({status: 400, body: {error: 'invalid_grant'}})
    } finally {
      server.clock.offset = 0
    }
  })

  it('shows the login form again on a wrong password, and cancelling returns access_denied', async () => {
    const {challenge} = pkce()
    const redirectUri = 'http://localhost:40000/cb'
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: 'dbgate-cli',
      redirect_uri: redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st',
    })
    const browser = new Browser()
    const page = await browser.follow(`${server.url}/auth/authorize?${q.toString()}`)
    const html = await page.response!.text()
    expect(html).toContain('<form method="post"')
    expect(html).toContain('name="password"')
    expect(html).not.toContain('<script')
    const action = new URL(/action="([^"]+)"/.exec(html)![1]!, page.url).toString()
    const wrong = await browser.request(action, {
      form: {username: 'alice', password: 'nope', action: 'login'},
    })
    expect(wrong.status).toBe(401)
    expect(await wrong.text()).toContain('Wrong username or password.')
    const cancelled = await browser.follow(action, {form: {action: 'cancel'}}, (u) =>
      u.startsWith(redirectUri),
    )
    const back = new URL(cancelled.url)
    expect(back.searchParams.get('error')).toBe('access_denied')
    expect(back.searchParams.get('state')).toBe('st')
  })

  it('refuses non-loopback redirect URIs and requires PKCE S256', async () => {
    const base = {
      response_type: 'code',
      client_id: 'dbgate-cli',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      state: 's',
    }
    for (const redirect_uri of [
      'https://evil.example/cb',
      'http://10.0.0.1:8000/cb',
      'http://127.0.0.1.evil.example/cb',
    ]) {
      const res = await fetch(
        `${server.url}/auth/authorize?${new URLSearchParams({...base, redirect_uri}).toString()}`,
        {redirect: 'manual'},
      )
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()
    }
    const plain = new URLSearchParams({
      ...base,
      redirect_uri: 'http://127.0.0.1:9/cb',
      code_challenge_method: 'plain',
    })
    const res = await fetch(`${server.url}/auth/authorize?${plain.toString()}`, {redirect: 'manual'})
    expect(res.status).toBe(302)
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request')
    const client = await fetch(
      `${server.url}/auth/authorize?${new URLSearchParams({...base, client_id: 'other', redirect_uri: 'http://127.0.0.1:9/cb'}).toString()}`,
      {redirect: 'manual'},
    )
    expect(client.status).toBe(400)
  })
})

describe('refresh tokens', () => {
  it('rotates on use, and reuse of an old one revokes the whole session', async () => {
    const first = await loginAs(server, ALICE)
    const refresh = (token: string) =>
      postForm(`${server.url}/auth/token`, {
        grant_type: 'refresh_token',
        refresh_token: token,
        client_id: 'dbgate-cli',
      })
    const second = await refresh(first.refresh_token)
    expect(second.status).toBe(200)
    expect(second.body.refresh_token).not.toBe(first.refresh_token)
    expect(second.body.identity.sub).toBe('alice')
    expect((await api(server, '/api/v1/me', second.body.access_token)).status).toBe(200)

    const reuse = await refresh(first.refresh_token)
    expect(reuse).toMatchObject({status: 400, body: {error: 'invalid_grant'}})
    expect(reuse.body.error_description).toMatch(/already used/)
    // The whole family is dead: the newest refresh token and the access tokens too.
    expect((await refresh(second.body.refresh_token)).status).toBe(400)
    const me = await api(server, '/api/v1/me', second.body.access_token)
    expect(me).toMatchObject({status: 401, body: {error: {code: 'unauthorized'}}})
  })

  it('revokes on logout (RFC 7009), answering 200 even for unknown tokens', async () => {
    const t = await loginAs(server, ALICE)
    const res = await postForm(`${server.url}/auth/revoke`, {token: t.refresh_token})
    expect(res).toEqual({status: 200, body: {}})
    expect(await postForm(`${server.url}/auth/revoke`, {token: 'dbg_rt_unknown'})).toEqual({
      status: 200,
      body: {},
    })
    const viaJson = await fetch(`${server.url}/auth/revoke`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({token: 'x'}),
    })
    expect(viaJson.status).toBe(200)
    expect((await api(server, '/api/v1/me', t.access_token)).status).toBe(401)
    const refreshed = await postForm(`${server.url}/auth/token`, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: 'dbgate-cli',
    })
    expect(refreshed.body.error).toBe('invalid_grant')
  })

  it('accepts JSON bodies on the token endpoint and rejects unknown grants', async () => {
    const t = await loginAs(server, ALICE)
    const res = await fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({
        grant_type: 'refresh_token',
        refresh_token: t.refresh_token,
        client_id: 'dbgate-cli',
      }),
    })
    expect(res.status).toBe(200)
    expect(await postForm(`${server.url}/auth/token`, {grant_type: 'password'})).toMatchObject({
      status: 400,
      body: {error: 'unsupported_grant_type'},
    })
    expect(
      await postForm(`${server.url}/auth/token`, {grant_type: 'refresh_token', extra: 'x'}),
    ).toMatchObject({
      status: 400,
      body: {error: 'invalid_request'},
    })
  })

  it('expires access tokens after their TTL', async () => {
    const t = await loginAs(server, ALICE)
    const me = await api(server, '/api/v1/me', t.access_token)
    expect(Date.parse(me.body.token_expires_at) - Date.now()).toBeGreaterThan(590_000)
    server.clock.offset = 601_000
    try {
      const expired = await api(server, '/api/v1/me', t.access_token)
      expect(expired).toEqual({
        status: 401,
        body: {error: {code: 'unauthorized', message: 'the access token has expired'}},
      })
      const refreshed = await postForm(`${server.url}/auth/token`, {
        grant_type: 'refresh_token',
        refresh_token: t.refresh_token,
        client_id: 'dbgate-cli',
      })
      expect((await api(server, '/api/v1/me', refreshed.body.access_token)).status).toBe(200)
    } finally {
      server.clock.offset = 0
    }
  })
})
