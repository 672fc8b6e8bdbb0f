import {copyFileSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import type {Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {launchBrowser, pageText, signInOnDevIdp} from '../support/browser.js'
import {cliHome, runCli, spawnCli, startDevServer, type DevServer} from '../support/login-e2e.js'

/** `dbgate login` in a real headless chromium against the dev control plane, then whoami/targets/logout. */
let server: DevServer
let browser: Browser
const home = cliHome()
const credentials = join(home.configDir, 'credentials.json')

beforeAll(async () => {
  ;[server, browser] = await Promise.all([startDevServer(), launchBrowser()])
})
afterAll(async () => {
  await browser?.close()
  await server?.stop()
  home.remove()
})

function storedTokens(): {accessToken: string; refreshToken: string} {
  const file = JSON.parse(readFileSync(credentials, 'utf8')) as {
    sessions: Record<string, {accessToken: string; refreshToken: string}>
  }
  return file.sessions[server.url]!
}

/** Starts `dbgate login --no-browser` and returns it with the authorization URL it printed. */
async function startLogin(): Promise<{login: ReturnType<typeof spawnCli>; url: string}> {
  const login = spawnCli(['login', '--api', server.url, '--no-browser'], home.env)
  const [, url] = await login.waitForStderr(/^\s+(https?:\/\/\S*code_challenge=\S+)\s*$/m)
  return {login, url: url!}
}

describe('dbgate login in a real browser', {timeout: 120_000}, () => {
  it('logs alice in through the dev identity provider and shows the result page', async () => {
    const {login, url} = await startLogin()
    expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256')
    expect(new URL(url).searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/)
    const page = await browser.newPage()
    await page.goto(url)
    await signInOnDevIdp(page, 'alice', 'alice-password')
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/)
    expect(await pageText(page)).toContain('Logged in as Alice Example. You can close this tab.')
    await page.close()
    const result = await login.done
    expect(result.stderr).toContain(`Logged in to ${server.url} as Alice Example <alice@example.com>.`)
    expect(result.code).toBe(0)
    expect(statSync(credentials).mode & 0o777).toBe(0o600)
    const {accessToken, refreshToken} = storedTokens()
    for (const secret of [accessToken, refreshToken]) {
      expect(result.stdout + result.stderr).not.toContain(secret)
    }
  })

  it('whoami --json shows alice, her groups and roles, and the file store', async () => {
    const result = await runCli(['whoami', '--json'], home.env)
    expect(result.code, result.stderr).toBe(0)
    const me = JSON.parse(result.stdout) as Record<string, unknown>
    expect(me).toMatchObject({
      apiUrl: server.url,
      name: 'Alice Example',
      email: 'alice@example.com',
      kind: 'user',
      storage: 'file',
      storagePath: credentials,
    })
    expect(me.groups).toEqual(expect.arrayContaining(['eng', 'approvers']))
    expect(me.roles).toEqual(expect.arrayContaining(['user', 'approver']))
    expect(Date.parse(me.tokenExpiresAt as string)).toBeGreaterThan(Date.now())
    expect(result.stdout).not.toContain(storedTokens().refreshToken)
  })

  it('whoami says where the token is stored, in words', async () => {
    const result = await runCli(['whoami'], home.env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('Alice Example <alice@example.com> (user,')
    expect(result.stdout).toMatch(/groups: +.*eng/)
    expect(result.stdout).toContain(`stored in: file ${credentials} (DBGATE_TOKEN_STORE=file)`)
  })

  it('refreshes silently: every command with a 30 s access token rotates the refresh token', async () => {
    const before = storedTokens()
    const first = await runCli(['targets', '--json'], home.env)
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout)).toEqual({
      targets: [{name: 'eng-pg', protocol: 'postgres', host: '127.0.0.1', port: 5432, database: 'test'}],
    })
    const after = storedTokens()
    expect(after.refreshToken).not.toBe(before.refreshToken)
    expect(after.accessToken).not.toBe(before.accessToken)
    const second = await runCli(['whoami', '--json'], home.env)
    expect(second.code, second.stderr).toBe(0)
    expect(storedTokens().refreshToken).not.toBe(after.refreshToken)
  })

  it('fails the login with an error page when the callback carries a forged state', async () => {
    const {login, url} = await startLogin()
    const redirectUri = new URL(url).searchParams.get('redirect_uri')!
    const page = await browser.newPage()
    await page.goto(`${redirectUri}?state=forged&code=stolen-code`)
    expect(await pageText(page)).toMatch(/Login failed.*state mismatch/)
    await page.close()
    const result = await login.done
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('state mismatch')
  })

  it('shows the cancellation in the browser and fails the login when the user cancels at the identity provider', async () => {
    const {login, url} = await startLogin()
    const page = await browser.newPage()
    await page.goto(url)
    await Promise.all([
      page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/),
      page.locator('#cancel').click(),
    ])
    expect(await pageText(page)).toMatch(/Login failed.*denied or cancelled/)
    await page.close()
    const result = await login.done
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('The login was denied or cancelled')
  })

  it('logout revokes the session at the control plane and deletes local tokens', async () => {
    copyFileSync(credentials, join(home.configDir, 'credentials.saved'))
    copyFileSync(join(home.configDir, 'login.json'), join(home.configDir, 'login.saved'))
    const result = await runCli(['logout'], home.env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('the session was revoked')
    expect(() => statSync(credentials)).toThrow()
    const whoami = await runCli(['whoami'], home.env)
    expect(whoami.code).toBe(5)
    expect(whoami.stderr).toMatch(/not logged in/i)
    // The old tokens are dead server-side too: put them back and the refresh is refused.
    copyFileSync(join(home.configDir, 'credentials.saved'), credentials)
    copyFileSync(join(home.configDir, 'login.saved'), join(home.configDir, 'login.json'))
    const revoked = await runCli(['whoami'], home.env)
    expect(revoked.code).toBe(5)
    expect(revoked.stderr).toContain('Your session has expired.')
    expect(revoked.stderr).toContain('dbgate login')
  })

  it('logout still deletes local tokens when the control plane is down, and says it could not revoke', async () => {
    await server.stop()
    const result = await runCli(['logout'], home.env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/could not revoke the session.*Cannot reach the control plane/)
    expect(() => statSync(credentials)).toThrow()
    const whoami = await runCli(['whoami', '--api', server.url], home.env)
    expect(whoami.code).toBe(5)
  })

  it('reports an unreachable control plane with exit code 6', async () => {
    const result = await runCli(['login', '--api', server.url, '--no-browser'], home.env)
    expect(result.code).toBe(6)
    expect(result.stderr).toContain(`Cannot reach the control plane at ${server.url}`)
  })
})
