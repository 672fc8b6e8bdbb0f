import {afterEach, describe, expect, it} from 'vitest'

import {readCallback, startLoopback, type Loopback} from '../../src/auth/loopback.js'

let loopback: Loopback | undefined
afterEach(() => loopback?.close())

describe('callback checks', () => {
  const state = 'expected-state-value'
  it.each([
    ['a matching state and a code', `state=${state}&code=abc`, {code: 'abc'}],
    ['a wrong state', 'state=other&code=abc', 'E_LOGIN_STATE'],
    ['no state', 'code=abc', 'E_LOGIN_STATE'],
    ['an error even with the right state', `state=${state}&error=access_denied`, 'E_LOGIN_FAILED'],
    ['no code', `state=${state}`, 'E_LOGIN_FAILED'],
  ])('%s', (_why, query, expected) => {
    const result = readCallback(new URLSearchParams(query), state)
    if (typeof expected === 'string') expect('error' in result && result.error.code).toBe(expected)
    else expect(result).toEqual(expected)
  })

  it('checks the state before trusting an error from the callback', () => {
    const result = readCallback(new URLSearchParams('state=forged&error=access_denied'), state)
    expect('error' in result && result.error.code).toBe('E_LOGIN_STATE')
  })
})

describe('loopback listener', () => {
  it('listens on 127.0.0.1 and shows the success page once the login is finished', async () => {
    loopback = await startLoopback('s1')
    expect(loopback.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/)
    const codes: string[] = []
    const done = loopback.waitForCallback((code) => {
      codes.push(code)
      return Promise.resolve('Logged in as <alice>. You can close this tab.')
    }, 10_000)
    const res = await fetch(`${loopback.redirectUri}?state=s1&code=the-code`)
    await done
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('Logged in as &#60;alice&#62;. You can close this tab.')
    expect(codes).toEqual(['the-code'])
  })

  it('shows an error page and fails the login on a state mismatch', async () => {
    loopback = await startLoopback('s1')
    let finished = false
    const done = loopback.waitForCallback(() => {
      finished = true
      return Promise.resolve('ok')
    }, 10_000)
    const outcome = expect(done).rejects.toMatchObject({code: 'E_LOGIN_STATE'})
    const res = await fetch(`${loopback.redirectUri}?state=evil&code=stolen`)
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('state mismatch')
    await outcome
    expect(finished).toBe(false)
  })

  it('shows the failure of the token exchange in the browser', async () => {
    loopback = await startLoopback('s1')
    const done = loopback.waitForCallback(
      () => Promise.reject(new Error('id_token signature invalid')),
      10_000,
    )
    const outcome = expect(done).rejects.toThrow('id_token signature invalid')
    const res = await fetch(`${loopback.redirectUri}?state=s1&code=c`)
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('Login failed')
    await outcome
  })

  it('answers 404 to other paths without ending the login', async () => {
    loopback = await startLoopback('s1')
    const done = loopback.waitForCallback(() => Promise.resolve('ok'), 10_000)
    expect((await fetch(loopback.redirectUri.replace('/callback', '/favicon.ico'))).status).toBe(404)
    expect((await fetch(`${loopback.redirectUri}?state=s1&code=c`)).status).toBe(200)
    await done
  })

  it('gives up with a clear message when no callback arrives in time', async () => {
    loopback = await startLoopback('s1')
    await expect(loopback.waitForCallback(() => Promise.resolve('ok'), 50)).rejects.toMatchObject({
      code: 'E_LOGIN_TIMEOUT',
      message: expect.stringMatching(/No login completed in the browser/),
    })
  })
})
