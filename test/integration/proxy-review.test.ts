import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ReviewHook, ReviewOutcome, ReviewRequest} from '../../src/proxy/index.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {TEST_POLICY, startTestProxy, type TestProxy} from '../support/proxy.js'

// The proxy's review hook against the real PostgreSQL: a held statement pauses only its own session, runs
// once the hook says so, and a refusal or a failing hook is a clear error after which the session goes on.

interface Held {
  readonly request: ReviewRequest
  resolve(outcome: ReviewOutcome): void
  reject(err: Error): void
}

let db: ScratchDb
let proxy: TestProxy
const held: Held[] = []
const hook: ReviewHook = {
  review: (request, notice) =>
    new Promise<ReviewOutcome>((resolve, reject) => {
      notice('dbgate: waiting for request apr_test', 'Approve it somewhere.')
      held.push({request, resolve, reject})
    }),
}

async function nextHeld(): Promise<Held> {
  for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
  const h = held.shift()
  if (!h) throw new Error('no statement was held')
  return h
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client(proxy.clientConfig)
  c.on('error', () => undefined)
  await c.connect()
  return c
}

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_review',
    `CREATE TABLE secrets (id int); INSERT INTO secrets VALUES (1), (2);`,
  )
  proxy = await startTestProxy(db.url, undefined, {review: hook})
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

describe('proxy review hook', {timeout: 30_000}, () => {
  it('holds the statement with a NOTICE, serves other sessions meanwhile, then runs it', async () => {
    const a = await client()
    const b = await client()
    const notices: string[] = []
    a.on('notice', (n) => notices.push(n.message ?? ''))
    const pending = a.query('select count(*)::int as n from secrets')
    const h = await nextHeld()
    expect(h.request.sql).toBe('select count(*)::int as n from secrets')
    expect(h.request.decision.rule).toBe('secrets-need-review')
    // The client is this test process: the proxy names it for the approvers.
    expect(h.request.process).toMatch(new RegExp(`\\(pid ${process.pid}\\)`))
    expect((await b.query('select 41 + 1 as x')).rows).toEqual([{x: 42}])
    h.resolve({kind: 'run', approvalId: 'apr_test'})
    expect((await pending).rows).toEqual([{n: 2}])
    expect(notices).toEqual(['dbgate: waiting for request apr_test'])
    await a.end()
    await b.end()
  })

  it('a refusal is an ErrorResponse with the review routine; the session goes on', async () => {
    const a = await client()
    const pending = a.query('select * from secrets').catch((e: unknown) => e)
    ;(await nextHeld()).resolve({
      kind: 'refuse',
      message: 'dbgate: request apr_x was denied',
      hint: 'ask again',
      approvalId: 'apr_x',
    })
    const err = (await pending) as {message: string; routine: string; hint: string; code: string}
    expect(err).toMatchObject({
      message: 'dbgate: request apr_x was denied',
      routine: 'dbgate_policy_review',
      hint: 'ask again',
      code: '42501',
    })
    expect((await a.query('select 1 as one')).rows).toEqual([{one: 1}])
    await a.end()
  })

  it('a failing hook refuses (fail closed), and a client that leaves makes the request inactive', async () => {
    const a = await client()
    const pending = a.query('select * from secrets').catch((e: unknown) => e)
    ;(await nextHeld()).reject(new Error('control plane down'))
    expect(((await pending) as Error).message).toContain('the approval service failed: control plane down')
    expect((await a.query('select 2 as two')).rows).toEqual([{two: 2}])

    void a.query('select * from secrets').catch(() => undefined)
    const h = await nextHeld()
    expect(h.request.active()).toBe(true)
    await a.end().catch(() => undefined)
    for (let i = 0; i < 100 && h.request.active(); i++) await new Promise((r) => setTimeout(r, 20))
    expect(h.request.active()).toBe(false)
    h.resolve({kind: 'run', approvalId: 'apr_late'})
  })
})

describe('an approved statement under masking rules', {timeout: 30_000}, () => {
  let masked: TestProxy
  const approve: ReviewHook = {review: () => Promise.resolve({kind: 'run', approvalId: 'apr_mask'})}

  beforeAll(async () => {
    await adminQuery(
      `CREATE TABLE secrets_people (id int, email text);
       INSERT INTO secrets_people VALUES (1, 'alice.leak@example.com')`,
      db.name,
    )
    masked = await startTestProxy(
      db.url,
      {
        ...TEST_POLICY,
        rules: [
          ...TEST_POLICY.rules,
          {name: 'people-need-review', when: {tables: ['public.secrets_people']}, action: 'review'},
        ],
        masking: [{name: 'people-email', columns: ['public.secrets_people.email'], style: 'redact'}],
      },
      {review: approve},
    )
  })
  afterAll(async () => {
    await masked?.close()
  })

  it('runs once approved and still masks the columns the policy masks', async () => {
    const c = new pg.Client(masked.clientConfig)
    c.on('error', () => undefined)
    await c.connect()
    const {rows} = await c.query<{id: number; email: string}>('select id, email from secrets_people')
    await c.end()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.id).toBe(1)
    expect(rows[0]!.email).not.toContain('alice.leak')
  })
})
