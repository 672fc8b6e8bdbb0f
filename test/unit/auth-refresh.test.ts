import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {getAuthenticatedClient} from '../../src/auth/session.js'
import {chooseStore, recordLogin} from '../../src/auth/token-store.js'
import {needsRefresh, type StoredSession} from '../../src/auth/tokens.js'
import {oauthError, scriptedServer, tokenReply, type Reply, type ScriptedServer} from './auth-helpers.js'

describe('when to refresh', () => {
  const now = 1_700_000_000_000
  it.each([
    ['expired an hour ago', now - 3_600_000, true],
    ['expiring right now', now, true],
    ['expiring in 10 s', now + 10_000, true],
    ['expiring in exactly 30 s', now + 30_000, true],
    ['expiring in 31 s', now + 31_000, false],
    ['expiring in 15 min', now + 900_000, false],
  ])('a token %s: refresh %s', (_why, expiresAt, expected) => {
    expect(needsRefresh(expiresAt, now)).toBe(expected)
  })
})

describe('silent refresh of a stored session', () => {
  let dir: string
  let server: ScriptedServer
  let replies: Reply[]
  const now = 1_700_000_000_000
  const env = {DBGATE_TOKEN_STORE: 'file'}

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dbgate-refresh-'))
    replies = []
    server = await scriptedServer(() => replies.shift() ?? oauthError('server_error', 500))
  })
  afterEach(async () => {
    await server.close()
    rmSync(dir, {recursive: true, force: true})
  })

  function storeSession(expiresInMs: number): void {
    const session: StoredSession = {
      version: 1,
      apiUrl: server.url,
      issuer: server.url,
      tokenEndpoint: `${server.url}/auth/token`,
      revocationEndpoint: `${server.url}/auth/revoke`,
      accessToken: 'at-old',
      accessTokenExpiresAt: now + expiresInMs,
      refreshToken: 'rt-old',
      identity: {sub: 'alice', name: 'Alice', kind: 'user', groups: ['eng'], roles: ['user']},
    }
    const store = chooseStore({configDir: dir, env}, server.url)
    store.save(session)
    recordLogin(dir, server.url, store.location)
  }

  const ctx = () => ({apiUrl: undefined, configDir: dir, env, now: () => now})

  it('uses a fresh access token as is, without asking the server', async () => {
    storeSession(600_000)
    const auth = await getAuthenticatedClient(ctx())
    expect(auth.apiUrl).toBe(server.url)
    expect(auth.accessTokenExpiresAt).toBe(now + 600_000)
    expect(server.received).toEqual([])
  })

  it('refreshes a token 10 s from expiry and keeps the rotated refresh token', async () => {
    storeSession(10_000)
    replies.push(tokenReply('at-new', 'rt-new', 900))
    const auth = await getAuthenticatedClient(ctx())
    expect(auth.accessTokenExpiresAt).toBe(now + 900_000)
    expect(server.received[0]!.form).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-old',
      client_id: 'dbgate-cli',
    })
    // The next command uses the rotated token from the store, without refreshing again.
    const again = await getAuthenticatedClient(ctx())
    expect(again.accessTokenExpiresAt).toBe(now + 900_000)
    expect(server.received.length).toBe(1)
    replies.push({status: 200, body: {sub: 'alice'}})
    await again.client.me()
    expect(server.received[1]!.headers.authorization).toBe('Bearer at-new')
    const stored = chooseStore({configDir: dir, env}, server.url).load(server.url)
    expect(stored?.refreshToken).toBe('rt-new')
  })

  it('refreshes once when two commands find the token expiring at the same time', async () => {
    storeSession(5_000)
    replies.push(tokenReply('at-new', 'rt-new', 900))
    // A second refresh with the spent rt-old would end the session: the lock must prevent it.
    replies.push(oauthError('invalid_grant'))
    const both = await Promise.all([getAuthenticatedClient(ctx()), getAuthenticatedClient(ctx())])
    expect(both.map((a) => a.accessTokenExpiresAt)).toEqual([now + 900_000, now + 900_000])
    expect(server.received.length).toBe(1)
  })

  it('says the session expired (exit 5) when the refresh token was revoked', async () => {
    storeSession(-60_000)
    replies.push(oauthError('invalid_grant'))
    await expect(getAuthenticatedClient(ctx())).rejects.toMatchObject({
      code: 'E_NOT_LOGGED_IN',
      exitCode: 5,
      message: 'Your session has expired.',
      suggestions: ['Run `dbgate login`.'],
    })
  })

  it('says "not logged in" (exit 5) when there is no session at all', async () => {
    await expect(getAuthenticatedClient({apiUrl: server.url, configDir: dir, env})).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringMatching(/not logged in to http:\/\/127\.0\.0\.1/),
    })
    await expect(getAuthenticatedClient({apiUrl: undefined, configDir: dir, env})).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringMatching(/no control plane is configured/),
    })
  })
})
