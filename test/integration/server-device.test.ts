/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {api, Browser, formAction, postForm, startTestServer, type TestServer} from './server-harness.js'

// The device authorization grant, with the test playing the user in a browser (form posts, redirects).

let server: TestServer

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server?.stop()
})

async function startDevice(): Promise<Record<string, any>> {
  const res = await postForm(`${server.url}/auth/device/code`, {client_id: 'dbgate-cli'})
  expect(res.status).toBe(200)
  return res.body
}

const poll = (deviceCode: string) =>
  postForm(`${server.url}/auth/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    device_code: deviceCode,
    client_id: 'dbgate-cli',
  })

describe('device flow', () => {
  it('is approved through the IdP login and then yields tokens once', async () => {
    const d = await startDevice()
    expect(d.user_code).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/)
    expect(d).toMatchObject({verification_uri: `${server.url}/device`, expires_in: 600, interval: 1})
    expect(d.verification_uri_complete).toBe(
      `${server.url}/device?user_code=${encodeURIComponent(d.user_code)}`,
    )
    expect((await poll(d.device_code)).body.error).toBe('authorization_pending')
    // Polling faster than the interval is told to slow down (and the interval grows).
    expect((await poll(d.device_code)).body.error).toBe('slow_down')

    const browser = new Browser()
    const entry = await browser.request(d.verification_uri_complete)
    const entryHtml = await entry.text()
    expect(entryHtml).toContain(`value="${d.user_code}"`)
    // The user types the code in lower case without the dash; it still matches.
    const typed = d.user_code.replace('-', '').toLowerCase()
    const login = await browser.follow(formAction(entryHtml, d.verification_uri), {
      form: {user_code: typed, action: 'approve'},
    })
    const loginHtml = await login.response!.text()
    expect(loginHtml).toContain('name="password"')
    const done = await browser.follow(formAction(loginHtml, login.url), {
      form: {username: 'bob', password: 'bob-pw', action: 'login'},
    })
    expect(done.response!.status).toBe(200)
    expect(await done.response!.text()).toContain('Device approved. You can return to your terminal.')

    // Wait out the (grown) poll interval on the server's clock rather than the wall clock.
    server.clock.offset = 7000
    const tokens = await poll(d.device_code).finally(() => (server.clock.offset = 0))
    expect(tokens.status).toBe(200)
    expect(tokens.body.identity).toMatchObject({sub: 'bob', groups: ['eng'], roles: ['user']})
    expect(tokens.body.refresh_token).toMatch(/^dbg_rt_/)
    expect((await api(server, '/api/v1/me', tokens.body.access_token)).body.sub).toBe('bob')
    expect((await poll(d.device_code)).body.error).toBe('invalid_grant')
  }, 30_000)

  it('reports access_denied when the user denies, and expired_token after expiry', async () => {
    const d = await startDevice()
    const browser = new Browser()
    const page = await browser.request(`${server.url}/device`, {
      form: {user_code: d.user_code, action: 'deny'},
    })
    expect(await page.text()).toContain('was denied')
    expect(await poll(d.device_code)).toMatchObject({status: 400, body: {error: 'access_denied'}})

    const late = await startDevice()
    server.clock.offset = 601_000
    try {
      expect((await poll(late.device_code)).body.error).toBe('expired_token')
    } finally {
      server.clock.offset = 0
    }
  })

  it('refuses unknown codes and clients', async () => {
    const browser = new Browser()
    const page = await browser.request(`${server.url}/device`, {
      form: {user_code: 'ZZZZ-ZZZZ', action: 'approve'},
    })
    expect(page.status).toBe(400)
    expect(await page.text()).toContain('unknown or has expired')
    expect((await poll('dbg_dc_nope')).body.error).toBe('invalid_grant')
    expect(await postForm(`${server.url}/auth/device/code`, {client_id: 'other'})).toMatchObject({
      status: 401,
      body: {error: 'invalid_client'},
    })
  })
})
