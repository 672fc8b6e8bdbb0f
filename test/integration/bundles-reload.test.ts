/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- tests probe parsed JSON bodies */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BundleKeysDocument} from '../../src/control/api-types.js'
import {verifyBundle} from '../../src/control/bundle.js'
import {loadServerConfig} from '../../src/server/config.js'
import {api, postForm, TEST_CONFIG} from './server-harness.js'
import {startCredServer, tokenOf, type CredServer} from './credentials-support.js'

// Signed policy bundles from a real control plane: published keys, first-match selection, actors, and
// reloading the config file (a good file takes effect at once; a bad one keeps the old policy).

const dir = mkdtempSync(join(tmpdir(), 'dbgate-bundles-'))
const configFile = join(dir, 'server.yaml')
const policyFile = join(dir, 'eng-policy.yaml')
let server: CredServer
let alice: string
let carol: string
let keys: BundleKeysDocument

const pgTarget = (name: string, groups: string[]) => ({
  name,
  protocol: 'postgres',
  host: '127.0.0.1',
  port: 5432,
  database: 'unused',
  admin: {user: 'postgres', password: 'x'},
  groups,
})

function writeConfig(engPolicy: string): void {
  writeFileSync(policyFile, engPolicy)
  const doc = {
    ...TEST_CONFIG,
    targets: [pgTarget('prod-pg', ['eng', 'admins']), pgTarget('lab-pg', ['eng'])],
    policies: [
      {
        name: 'admins',
        targets: ['*'],
        groups: ['admins'],
        document: {version: 1, defaults: {action: 'allow'}},
      },
      {name: 'eng-prod', targets: ['prod-*'], groups: ['eng'], file: 'eng-policy.yaml'},
    ],
  }
  writeFileSync(configFile, stringify(doc))
}

const V1 =
  'version: 1\ndefaults: {action: allow}\nrules:\n  - {name: no-drop, when: {kinds: [drop]}, action: deny}\n'
const V2 = 'version: 1\ndefaults: {action: review}\n'

async function bundleFor(token: string, query: string): Promise<{status: number; body: any}> {
  return api(server, `/api/v1/bundle?${query}`, token)
}

beforeAll(async () => {
  writeConfig(V1)
  const loaded = loadServerConfig(configFile)
  server = await startCredServer(
    {targets: loaded.targets, policies: loaded.policies},
    {load: () => loadServerConfig(configFile)},
  )
  alice = await tokenOf(server, 'alice')
  carol = await tokenOf(server, 'carol')
  keys = (await api(server, '/.well-known/dbgate-bundle-keys.json', undefined)).body
})

afterAll(async () => {
  await server?.stop()
  rmSync(dir, {recursive: true, force: true})
})

describe('bundles', () => {
  it('publishes one Ed25519 key, distinct from the token keys', async () => {
    const kids = Object.keys(keys.keys)
    expect(kids).toHaveLength(1)
    expect(keys.keys[kids[0]!]).toMatchObject({kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: kids[0]})
    const jwks = (await api(server, '/.well-known/jwks.json', undefined)).body
    expect(jwks.keys.map((k: {kid: string}) => k.kid)).not.toContain(kids[0])
  })

  it('serves the first matching policy, signed, saying who and how', async () => {
    const res = await bundleFor(alice, 'target=prod-pg')
    expect(res.status).toBe(200)
    const ok = verifyBundle(res.body.bundle, {
      keys: keys.keys,
      target: 'prod-pg',
      identity: 'alice',
      now: Date.now(),
    })
    expect(ok.payload).toMatchObject({
      identity: 'alice',
      groups: ['eng', 'approvers'],
      actor: 'human',
      agent: null,
      policy_name: 'eng-prod',
      iss: server.url,
    })
    expect(ok.policy.rules.map((r) => r.name)).toEqual(['no-drop'])
    const agent = await bundleFor(alice, 'target=prod-pg&actor=agent&agent=claude-code')
    expect(agent.body.bundle.payload).toMatchObject({actor: 'agent', agent: 'claude-code'})
    const admins = await bundleFor(carol, 'target=prod-pg')
    expect(admins.body.bundle.payload.policy_name).toBe('admins')
  })

  it('refuses a target no policy covers, and targets the caller may not use', async () => {
    const none = await bundleFor(alice, 'target=lab-pg')
    expect(none.status).toBe(403)
    expect(none.body.error.message).toMatch(/no policy .* on target "lab-pg"/)
    const unknown = await bundleFor(alice, 'target=nope')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.message).toMatch(/targets you may use: lab-pg, prod-pg/)
  })

  it('gives machine tokens actor ci, whatever they ask for', async () => {
    const created = await api(server, '/api/v1/admin/tokens', carol, {
      method: 'POST',
      body: {name: 'ci-bundles', groups: ['eng']},
    })
    expect(created.status).toBe(201)
    const exchanged = await postForm(`${server.url}/auth/token`, {
      grant_type: 'urn:dbgate:params:oauth:grant-type:machine-token',
      machine_token: created.body.token,
    })
    const res = await bundleFor(exchanged.body.access_token, 'target=prod-pg&actor=agent&agent=x')
    expect(res.body.bundle.payload).toMatchObject({identity: 'service:ci-bundles', actor: 'ci', agent: null})
  })

  it('reload picks up a changed policy; a bad file keeps the old one and says why', async () => {
    const before = (await bundleFor(alice, 'target=prod-pg')).body.bundle.payload.policy_version
    writeConfig(V2)
    expect((await api(server, '/api/v1/admin/reload', alice, {method: 'POST'})).status).toBe(403)
    const ok = await api(server, '/api/v1/admin/reload', carol, {method: 'POST'})
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({policies: 2, targets: 2})
    const after = (await bundleFor(alice, 'target=prod-pg')).body.bundle.payload
    expect(after.policy_version).not.toBe(before)
    expect(after.policy).toEqual({version: 1, defaults: {action: 'review'}})

    writeConfig('version: 1\ndefaults: {action: maybe}\n')
    const bad = await api(server, '/api/v1/admin/reload', carol, {method: 'POST'})
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/old one stays in force/)
    expect(bad.body.error.message).toMatch(/policies\[1\] \(eng-prod\).*defaults\.action/)
    const kept = (await bundleFor(alice, 'target=prod-pg')).body.bundle.payload
    expect(kept.policy_version).toBe(after.policy_version)

    writeFileSync(configFile, 'targets: [nonsense')
    expect((await server.reload()).kind).toBe('failed')
    expect((await bundleFor(alice, 'target=prod-pg')).body.bundle.payload.policy_version).toBe(
      after.policy_version,
    )
  })

  it('keeps the same bundle key across restarts', async () => {
    writeConfig(V1)
    server = await server.restart()
    expect((await api(server, '/.well-known/dbgate-bundle-keys.json', undefined)).body).toEqual(keys)
  })
})
