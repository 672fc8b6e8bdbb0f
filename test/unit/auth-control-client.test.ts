import {createServer} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {ControlClient, normalizeApiUrl} from '../../src/control/client.js'
import {scriptedServer, type Reply, type ScriptedServer} from './auth-helpers.js'

let server: ScriptedServer | undefined
afterEach(async () => server?.close())

async function answer(reply: Reply): Promise<ControlClient> {
  server = await scriptedServer(() => reply)
  return new ControlClient({baseUrl: server.url, accessToken: 'at-1'})
}

/** A port on which nothing listens. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const {port} = s.address() as {port: number}
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

describe('control plane client errors', () => {
  it('maps 401 to "not logged in" with exit code 5', async () => {
    const client = await answer({
      status: 401,
      body: {error: {code: 'unauthorized', message: 'token expired'}},
    })
    await expect(client.me()).rejects.toMatchObject({code: 'E_NOT_LOGGED_IN', exitCode: 5})
  })

  it('maps a refused connection to "unreachable" with exit code 6', async () => {
    const client = new ControlClient({baseUrl: `http://127.0.0.1:${await closedPort()}`})
    await expect(client.targets()).rejects.toMatchObject({
      code: 'E_UNREACHABLE',
      exitCode: 6,
      message: expect.stringMatching(
        /Cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
      ),
    })
  })

  it('maps a JSON 500 to exit 1 with the server message', async () => {
    const client = await answer({
      status: 500,
      body: {error: {code: 'internal', message: 'database is locked'}},
    })
    await expect(client.targets()).rejects.toMatchObject({
      code: 'E_API_INTERNAL',
      exitCode: 1,
      message: 'The control plane refused the request: database is locked',
    })
  })

  it('maps 403 to exit 1 with the server message', async () => {
    const client = await answer({
      status: 403,
      body: {error: {code: 'forbidden', message: 'admin role required'}},
    })
    await expect(client.targets()).rejects.toMatchObject({code: 'E_API_FORBIDDEN', exitCode: 1})
  })

  it('explains a non-JSON error body instead of failing to parse it', async () => {
    const client = await answer({
      status: 502,
      body: null,
      raw: '<html>Bad Gateway</html>',
      contentType: 'text/html',
    })
    await expect(client.targets()).rejects.toMatchObject({
      code: 'E_BAD_RESPONSE',
      exitCode: 1,
      message: expect.stringMatching(
        /answered HTTP 502 with a non-JSON body \(text\/html\): <html>Bad Gateway/,
      ),
    })
  })

  it('explains a non-JSON success body', async () => {
    const client = await answer({status: 200, body: null, raw: 'hello', contentType: 'text/plain'})
    await expect(client.targets()).rejects.toMatchObject({code: 'E_BAD_RESPONSE', message: /non-JSON body/})
  })

  it('maps an OAuth error body to its error code', async () => {
    const client = await answer({
      status: 400,
      body: {error: 'invalid_grant', error_description: 'refresh token reused'},
    })
    await expect(client.post('/auth/token', {form: {grant_type: 'refresh_token'}})).rejects.toMatchObject({
      code: 'E_OAUTH',
      oauthError: 'invalid_grant',
      message: expect.stringMatching(/invalid_grant.*refresh token reused/),
    })
  })

  it('sends the bearer token and form bodies, and parses JSON', async () => {
    const client = await answer({status: 200, body: {targets: []}})
    await expect(client.targets()).resolves.toEqual({targets: []})
    await client.post('/auth/revoke', {form: {token: 'rt 1&x'}})
    expect(server!.received[0]).toMatchObject({method: 'GET', path: '/api/v1/targets'})
    expect(server!.received[0]!.headers.authorization).toBe('Bearer at-1')
    expect(server!.received[1]!.form).toEqual({token: 'rt 1&x'})
  })

  it('refuses a discovery document without endpoints', async () => {
    const client = await answer({status: 200, body: {issuer: 'x'}})
    await expect(client.discover()).rejects.toMatchObject({
      code: 'E_BAD_RESPONSE',
      message: /authorization_endpoint/,
    })
  })

  it.each([
    ['https://dbgate.example.com/', 'https://dbgate.example.com'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['https://example.com/dbgate//', 'https://example.com/dbgate'],
  ])('normalises the API URL %s', (input, output) => {
    expect(normalizeApiUrl(input)).toBe(output)
  })

  it.each(['not a url', 'ftp://example.com'])('refuses the API URL %s as a usage error', (input) => {
    expect(() => normalizeApiUrl(input)).toThrow(expect.objectContaining({exitCode: 2}))
  })
})
