import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliHome, runCli, startDevServer, type DevServer} from '../support/login-e2e.js'

/** A CI job's view: DBGATE_TOKEN instead of a login, the service identity in whoami, and revocation. */
let server: DevServer
const home = cliHome()

beforeAll(async () => {
  server = await startDevServer()
})
afterAll(async () => {
  await server?.stop()
  home.remove()
})

/** Runs `dbgate server tokens ...` on the test server's data directory (the store, while it runs). */
async function serverTokens(args: string[]): Promise<Record<string, unknown>> {
  const result = await runCli(['server', 'tokens', ...args, '--data', server.dataDir, '--json'], {})
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as Record<string, unknown>
}

describe('machine tokens (DBGATE_TOKEN)', {timeout: 120_000}, () => {
  let token: string
  let id: string

  it('whoami shows the service identity of a machine token, stored nowhere', async () => {
    const created = await serverTokens([
      'create',
      '--name',
      'ci-deploy',
      '--groups',
      'deploy',
      '--ttl',
      '30d',
    ])
    token = created.token as string
    id = created.id as string
    expect(token).toMatch(/^dbg_mt_/)
    const result = await runCli(['whoami', '--json', '--api', server.url], {...home.env, DBGATE_TOKEN: token})
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({
      name: 'ci-deploy',
      kind: 'service',
      groups: ['deploy'],
      storage: 'env',
      apiUrl: server.url,
    })
    expect(result.stdout + result.stderr).not.toContain(token)
    const text = await runCli(['whoami', '--api', server.url], {...home.env, DBGATE_TOKEN: token})
    expect(text.stdout).toContain('from DBGATE_TOKEN (machine token, kept in memory only)')
  })

  it('a revoked machine token gives a clear error and exit code 5', async () => {
    await serverTokens(['revoke', id])
    const result = await runCli(['whoami', '--api', server.url], {...home.env, DBGATE_TOKEN: token})
    expect(result.code).toBe(5)
    expect(result.stderr).toContain('The machine token in DBGATE_TOKEN was refused by the control plane')
  })

  it('a made-up machine token is refused the same way', async () => {
    const result = await runCli(['targets', '--api', server.url], {
      ...home.env,
      DBGATE_TOKEN: 'dbg_mt_not-a-real-token',
    })
    expect(result.code).toBe(5)
    expect(result.stderr).toContain('DBGATE_TOKEN was refused')
  })
})
