import {afterEach, describe, expect, it} from 'vitest'

import {pollDeviceToken} from '../../src/auth/device-flow.js'
import {ControlClient} from '../../src/control/client.js'
import {oauthError, scriptedServer, tokenReply, type Reply, type ScriptedServer} from './auth-helpers.js'

let server: ScriptedServer | undefined
afterEach(async () => server?.close())

/** Polls against a server that answers the scripted replies in order; sleeps are recorded, not slept. */
async function poll(replies: Reply[], auth = {device_code: 'dc-1', expires_in: 600, interval: 5}) {
  const queue = [...replies]
  server = await scriptedServer(() => queue.shift() ?? oauthError('server_error', 500))
  const slept: number[] = []
  let clock = 0
  const sleep = (ms: number): Promise<void> => {
    slept.push(ms)
    clock += ms
    return Promise.resolve()
  }
  const client = new ControlClient({baseUrl: server.url})
  const result = pollDeviceToken(client, `${server.url}/auth/token`, auth, sleep, () => clock)
  return {result, slept, received: server.received}
}

describe('device flow polling', () => {
  it('waits the interval, keeps polling while pending, and slows down by 5 s on slow_down', async () => {
    const {result, slept, received} = await poll([
      oauthError('authorization_pending'),
      oauthError('slow_down'),
      oauthError('authorization_pending'),
      tokenReply('at-1', 'rt-1'),
    ])
    await expect(result).resolves.toMatchObject({access_token: 'at-1', refresh_token: 'rt-1'})
    expect(slept).toEqual([5000, 5000, 10_000, 10_000])
    expect(received.map((r) => r.form)).toEqual(
      Array.from({length: 4}, () => ({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: 'dc-1',
        client_id: 'dbgate-cli',
      })),
    )
  })

  it('stops with a clear message when the user denies the login', async () => {
    const {result} = await poll([oauthError('authorization_pending'), oauthError('access_denied')])
    await expect(result).rejects.toMatchObject({
      code: 'E_LOGIN_DENIED',
      message: expect.stringMatching(/denied/),
    })
  })

  it('stops when the server says the code expired', async () => {
    const {result} = await poll([oauthError('expired_token')])
    await expect(result).rejects.toMatchObject({
      code: 'E_LOGIN_TIMEOUT',
      message: expect.stringMatching(/expired/),
    })
  })

  it('stops polling on its own once expires_in has passed', async () => {
    const pending = Array.from({length: 100}, () => oauthError('authorization_pending'))
    const {result, received} = await poll(pending, {device_code: 'dc', expires_in: 20, interval: 5})
    await expect(result).rejects.toMatchObject({code: 'E_LOGIN_TIMEOUT'})
    expect(received.length).toBe(3)
  })

  it('passes on an unexpected OAuth error with its description', async () => {
    const {result} = await poll([oauthError('invalid_client', 401)])
    await expect(result).rejects.toMatchObject({
      code: 'E_OAUTH',
      message: expect.stringMatching(/invalid_client/),
    })
  })

  it('never polls faster than once a second, even if told to', async () => {
    const {result, slept} = await poll([tokenReply('at', 'rt')], {
      device_code: 'dc',
      expires_in: 60,
      interval: 0,
    })
    await result
    expect(slept).toEqual([1000])
  })
})
