/* eslint-disable @typescript-eslint/no-explicit-any -- tests probe parsed JSON bodies */
import {createHash, randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {validateServerConfig, withDevMode, type ServerConfig} from '../../src/server/config.js'
import {startServer, type RunningServer} from '../../src/server/server.js'

/** Test helpers for the control plane: start one on port 0 in a temp dir, and play the browser. */

/** The dev users of the tests (the same as examples/server.yaml). */
export const TEST_CONFIG = {
  dev: {
    users: [
      {
        username: 'alice',
        password: 'alice-pw',
        name: 'Alice',
        email: 'alice@example.com',
        groups: ['eng', 'approvers'],
      },
      {username: 'bob', password: 'bob-pw', name: 'Bob', groups: ['eng']},
      {username: 'carol', password: 'carol-pw', name: 'Carol', groups: ['admins']},
    ],
  },
  roles: {admin: ['admins'], approver: ['approvers'], auditor: ['security'], user: ['*']},
  tokens: {device_poll_interval: 1},
  targets: [
    {
      name: 'pg-test',
      protocol: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      database: 'test',
      admin: {user: 'postgres', password: 'pg-secret-pw'},
      groups: ['eng'],
    },
    {
      name: 'maria-admin',
      protocol: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      database: 'test',
      admin: {user: 'root', password: ''},
      groups: ['admins'],
    },
  ],
}

/** A started server and its temp dir. */
export interface TestServer extends RunningServer {
  dataDir: string
  /** A mutable clock offset in ms, added to Date.now(). */
  clock: {offset: number}
  stop(): Promise<void>
}

/** Starts a control plane on 127.0.0.1:0 with TEST_CONFIG (merged with `extra`); `databaseUrl`: a PostgreSQL store. */
export async function startTestServer(
  extra: Record<string, unknown> = {},
  dataDir?: string,
  databaseUrl?: string,
): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'dbgate-server-'))
  const config: ServerConfig = withDevMode(validateServerConfig({...TEST_CONFIG, ...extra}, 'test'), false)
  const clock = {offset: 0}
  const server = await startServer({
    config,
    dataDir: dir,
    listen: '127.0.0.1:0',
    databaseUrl,
    env: {},
    now: () => Date.now() + clock.offset,
  })
  return Object.assign(server, {
    dataDir: dir,
    clock,
    stop: async () => {
      await server.close()
      if (!dataDir) rmSync(dir, {recursive: true, force: true})
    },
  })
}

/** A minimal browser: follows redirects by hand, keeps cookies per host:port, submits forms. */
export class Browser {
  private readonly cookies = new Map<string, Map<string, string>>()

  /** GET or POST without following redirects, with this browser's cookies. */
  async request(url: string, init: {method?: string; form?: Record<string, string>} = {}): Promise<Response> {
    const u = new URL(url)
    const jar = this.cookies.get(u.host) ?? new Map<string, string>()
    this.cookies.set(u.host, jar)
    const headers: Record<string, string> = {}
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    let body: string | undefined
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    }
    const res = await fetch(url, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') jar.delete(name)
      else jar.set(name, value)
    }
    return res
  }

  /** Follows redirects from `url` until a non-redirect, or until a URL `stop` accepts; returns the last hop. */
  async follow(
    url: string,
    init: {method?: string; form?: Record<string, string>} = {},
    stop: (u: string) => boolean = () => false,
  ): Promise<{url: string; response: Response | undefined}> {
    let current = url
    let res = await this.request(current, init)
    for (let hops = 0; hops < 20; hops++) {
      const loc = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || !loc) return {url: current, response: res}
      current = new URL(loc, current).toString()
      if (stop(current)) return {url: current, response: undefined}
      res = await this.request(current)
    }
    throw new Error('too many redirects')
  }
}

/** Reads a form's action from an HTML page. */
export function formAction(html: string, base: string): string {
  const m = /<form[^>]*action="([^"]+)"/.exec(html)
  if (!m) throw new Error(`no form in page: ${html.slice(0, 200)}`)
  return new URL(m[1]!.replaceAll('&amp;', '&'), base).toString()
}

/** A PKCE pair. */
export function pkce(): {verifier: string; challenge: string} {
  const verifier = randomBytes(32).toString('base64url')
  return {verifier, challenge: createHash('sha256').update(verifier).digest('base64url')}
}

/** The CLI's side of a browser login, up to the loopback redirect URL (not fetched). */
export async function browserLogin(
  server: {url: string},
  user: {username: string; password: string},
  opts: {nonce?: string; state?: string; redirectUri?: string} = {},
): Promise<{redirect: URL; verifier: string; redirectUri: string; state: string; nonce: string}> {
  const {verifier, challenge} = pkce()
  const redirectUri = opts.redirectUri ?? 'http://127.0.0.1:53682/callback'
  const state = opts.state ?? randomBytes(16).toString('base64url')
  const nonce = opts.nonce ?? randomBytes(16).toString('base64url')
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'dbgate-cli',
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  const browser = new Browser()
  const isLoopback = (u: string): boolean => u.startsWith(redirectUri)
  const toLogin = await browser.follow(`${server.url}/auth/authorize?${q.toString()}`, {}, isLoopback)
  if (!toLogin.response) return {redirect: new URL(toLogin.url), verifier, redirectUri, state, nonce}
  const html = await toLogin.response.text()
  const done = await browser.follow(
    formAction(html, toLogin.url),
    {form: {...user, action: 'login'}},
    isLoopback,
  )
  if (done.response)
    throw new Error(
      `login did not come back to the CLI: ${done.response.status} ${await done.response.text()}`,
    )
  return {redirect: new URL(done.url), verifier, redirectUri, state, nonce}
}

/** POSTs a form to the token endpoint and returns status and JSON body. */
export async function postForm(
  url: string,
  form: Record<string, string>,
): Promise<{status: number; body: any}> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams(form).toString(),
  })
  return {status: res.status, body: await res.json()}
}

/** A full login as `user`, returning the token response. */
export async function loginAs(
  server: {url: string},
  user: {username: string; password: string},
): Promise<any> {
  const login = await browserLogin(server, user)
  const code = login.redirect.searchParams.get('code')
  if (!code) throw new Error(`no code: ${login.redirect.toString()}`)
  const res = await postForm(`${server.url}/auth/token`, {
    grant_type: 'authorization_code',
    code,
    code_verifier: login.verifier,
    redirect_uri: login.redirectUri,
    client_id: 'dbgate-cli',
  })
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

/** Access tokens of the three dev users (alice: approver, bob: eng, carol: admin). */
export async function devTokens(server: TestServer): Promise<{alice: string; bob: string; carol: string}> {
  const token = async (username: string): Promise<string> =>
    (await loginAs(server, {username, password: `${username}-pw`})).access_token as string
  return {alice: await token('alice'), bob: await token('bob'), carol: await token('carol')}
}

/** GET/POST/DELETE a JSON API path with a bearer token. */
export async function api(
  server: {url: string},
  path: string,
  token: string | undefined,
  init: {method?: string; body?: unknown} = {},
): Promise<{status: number; body: any}> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await res.text()
  return {status: res.status, body: text ? JSON.parse(text) : undefined}
}
