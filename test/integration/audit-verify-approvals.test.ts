/* eslint-disable @typescript-eslint/no-explicit-any -- tests probe parsed JSON bodies */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliHome, runCli} from '../support/login-e2e.js'
import {adminQuery, uniqueName} from '../support/pg-scratch.js'
import {api, devTokens, startTestServer, type TestServer} from './server-harness.js'

// `audit verify` re-hashes every approval request's chain of transitions in the control plane's PostgreSQL
// store: transitions edited, deleted (in the middle, first, or cut from the end) and swapped there directly
// are each named by request id, transition and kind, by the API, `dbgate audit verify` and its --json.

const POLICY = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [{name: 'review-deletes', when: {kinds: ['delete']}, action: 'review'}],
}

const storeDb = uniqueName('dbgate_verify_apr')
const storeUrl = `postgres://postgres@127.0.0.1:5432/${storeDb}`
const home = cliHome()
let server: TestServer
let alice: string
let bob: string
let carol: string
let auditorToken: string

beforeAll(async () => {
  await adminQuery(`CREATE DATABASE ${storeDb}`)
  server = await startTestServer(
    {policies: [{name: 'verify-test', targets: ['*'], groups: ['*'], document: POLICY}]},
    undefined,
    storeUrl,
  )
  ;({alice, bob, carol} = await devTokens(server))
  const args = ['server', 'tokens', 'create', '--name', 'verify-bot', '--groups', 'security', '--json']
  const made = await runCli([...args, '--data', server.dataDir, '--database-url', storeUrl], {})
  expect(made.code, made.stderr).toBe(0)
  auditorToken = (JSON.parse(made.stdout) as {token: string}).token
}, 60_000)
afterAll(async () => {
  await server?.stop()
  home.remove()
  await adminQuery(`DROP DATABASE IF EXISTS ${storeDb} WITH (FORCE)`)
})

async function request(sql: string): Promise<string> {
  const res = await api(server, '/api/v1/approvals', bob, {
    method: 'POST',
    body: {target: 'pg-test', statement: sql, reason: 'cleanup'},
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body.id as string
}
const decide = async (id: string, what: 'approve' | 'deny'): Promise<void> => {
  const res = await api(server, `/api/v1/approvals/${id}/${what}`, alice, {method: 'POST', body: {}})
  expect(res.status, JSON.stringify(res.body)).toBe(200)
}
const verify = async (since?: string): Promise<any> =>
  (await api(server, `/api/v1/audit/verify${since ? `?since=${encodeURIComponent(since)}` : ''}`, carol)).body
/** Runs SQL on the store's database directly, as someone with access to it would. */
const tamper = (sql: string) => adminQuery(sql, storeDb)

describe('audit verify over the approval chains', {timeout: 120_000}, () => {
  it('names each edited, deleted and swapped transition by request, number and kind', async () => {
    const edited = await request('delete from items where id = 1')
    await decide(edited, 'approve')
    const used = await api(server, '/api/v1/approvals/use', bob, {
      method: 'POST',
      body: {target: 'pg-test', statement: 'delete from items where id = 1', id: edited},
    })
    expect(used.status).toBe(200)
    const cutTail = await request('delete from items where id = 2')
    await decide(cutTail, 'deny')
    const cutHead = await request('delete from items where id = 3')
    await decide(cutHead, 'approve')
    const swapped = await request('delete from items where id = 4')
    await decide(swapped, 'approve')
    const untouched = await request('delete from items where id = 5')

    const clean = await verify()
    expect(clean).toMatchObject({
      ok: true,
      problems: [],
      approvals: {requests: 5, transitions: 10, problems: []},
    })

    await tamper(
      `UPDATE approval_events SET detail = 'looked fine' WHERE approval_id = '${edited}' AND n = 2`,
    )
    await tamper(`DELETE FROM approval_events WHERE approval_id = '${cutTail}' AND n = 2`)
    await tamper(`DELETE FROM approval_events WHERE approval_id = '${cutHead}' AND n = 1`)
    for (const [from, to] of [
      [1, -1],
      [2, 1],
      [-1, 2],
    ])
      await tamper(`UPDATE approval_events SET n = ${to} WHERE approval_id = '${swapped}' AND n = ${from}`)

    const lines = [
      `approval ${edited}: transition 2 (approved) altered (hash mismatch)`,
      `approval ${cutTail}: transition 2 missing`,
      `approval ${cutHead}: transition 1 missing`,
      `approval ${swapped}: transition 1 (approved) out of order (it was recorded as transition 2)`,
      `approval ${swapped}: transition 2 (requested) out of order (it was recorded as transition 1)`,
    ]
    const found = await verify()
    expect(found.ok).toBe(false)
    expect([...found.problems].sort()).toEqual([...lines].sort())
    expect(found.approvals.requests).toBe(5)
    expect(found.approvals.problems).toEqual(
      expect.arrayContaining([
        {approval_id: edited, kind: 'altered', n: 2, type: 'approved', chained_at: null},
        {approval_id: cutTail, kind: 'missing', n: 2, type: null, chained_at: null},
        {approval_id: cutHead, kind: 'missing', n: 1, type: null, chained_at: null},
        {approval_id: swapped, kind: 'out_of_order', n: 1, type: 'approved', chained_at: 2},
        {approval_id: swapped, kind: 'out_of_order', n: 2, type: 'requested', chained_at: 1},
      ]),
    )
    expect(found.approvals.problems).toHaveLength(5)
    expect(JSON.stringify(found)).not.toContain(untouched)
    // `approvals show` agrees (it cannot see a transition cut from the end: only verify knows the count).
    for (const id of [edited, cutHead, swapped])
      expect((await api(server, `/api/v1/approvals/${id}`, bob)).body.events_intact).toBe(false)

    // The CLI, as an auditor (a machine token of the security group): its lines, its exit code, its --json.
    const env = {
      ...home.env,
      DBGATE_STATE_DIR: mkdtempSync(join(tmpdir(), 'dbgate-verify-apr-')),
      DBGATE_TOKEN: auditorToken,
    }
    const text = await runCli(['audit', 'verify', '--api', server.url], env)
    expect(text.code, text.stderr).toBe(1)
    expect(text.stdout).toContain(
      'server: PROBLEMS: 0 events of 0 devices verified, 8 transitions of 5 approval requests',
    )
    for (const line of lines) expect(text.stdout).toContain(`  ${line}\n`)
    const json = await runCli(['audit', 'verify', '--json', '--api', server.url], env)
    const report = JSON.parse(json.stdout)
    expect(report.ok).toBe(false)
    expect(report.server.approvals.problems).toEqual(found.approvals.problems)

    // --since after everything: no request is checked.
    const later = await verify(new Date(Date.now() + 3_600_000).toISOString())
    expect(later).toMatchObject({ok: true, approvals: {requests: 0, transitions: 0}})
  })
})
