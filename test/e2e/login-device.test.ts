import type {Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {launchBrowser, pageText, signInOnDevIdp} from '../support/browser.js'
import {cliHome, runCli, spawnCli, startDevServer, type DevServer} from '../support/login-e2e.js'

/** `dbgate login --device` end to end: the test plays the user in a real headless chromium. */
let server: DevServer
let browser: Browser
const home = cliHome()

beforeAll(async () => {
  ;[server, browser] = await Promise.all([startDevServer(), launchBrowser()])
})
afterAll(async () => {
  await browser?.close()
  await server?.stop()
  home.remove()
})

/** Starts `dbgate login --device` and returns it with the verification URL (code included) it printed. */
async function startDeviceLogin() {
  const login = spawnCli(['login', '--device', '--api', server.url], home.env)
  const [, userCode] = await login.waitForStderr(/enter the code:\s+(\S+)/)
  const [, url] = await login.waitForStderr(/^\s+(https?:\/\/\S*user_code=\S+)\s*$/m)
  return {login, url: url!, userCode: userCode!}
}

describe('dbgate login --device', {timeout: 120_000}, () => {
  it('logs bob in once he approves the code in a browser', async () => {
    const {login, url, userCode} = await startDeviceLogin()
    expect(userCode).toMatch(/^[A-Z]{4}-?[A-Z]{4}$/)
    const page = await browser.newPage()
    await page.goto(url)
    await Promise.all([page.waitForLoadState('load'), page.locator('#approve').click()])
    await signInOnDevIdp(page, 'bob', 'bob-password')
    expect(await pageText(page)).toContain('Device approved')
    await page.close()
    const result = await login.done
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(`Logged in to ${server.url} as Bob Example.`)

    const whoami = await runCli(['whoami', '--json'], home.env)
    expect(whoami.code, whoami.stderr).toBe(0)
    expect(JSON.parse(whoami.stdout)).toMatchObject({
      name: 'Bob Example',
      kind: 'user',
      groups: ['eng'],
      storage: 'file',
    })
  })

  it('fails with a clear message when the user denies the code', async () => {
    const {login, url} = await startDeviceLogin()
    const page = await browser.newPage()
    await page.goto(url)
    await Promise.all([page.waitForLoadState('load'), page.locator('#deny').click()])
    expect(await pageText(page)).toMatch(/denied/i)
    await page.close()
    const result = await login.done
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('The login was denied in the browser.')
  })
})
