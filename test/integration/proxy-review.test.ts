import {connect} from 'node:net'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ReviewHook, ReviewOutcome, ReviewRequest} from '../../src/proxy/index.js'
import {cancelRequest} from '../../src/proxy/postgres/wire.js'
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
    expect(h.request.extended).toBe(false)
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

/** What psql's Ctrl-C sends: a CancelRequest with the session's key, on a new connection to the proxy. */
async function cancel(c: pg.Client): Promise<void> {
  const key = c as unknown as {processID: number; secretKey: number}
  const {host, port} = proxy.clientConfig
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, host, () => socket.end(cancelRequest(key.processID, key.secretKey)))
    socket.on('error', reject)
    socket.on('close', () => resolve())
  })
}

describe('proxy review hook in the extended protocol', {timeout: 30_000}, () => {
  it('holds a statement with parameters at Parse with a NOTICE, then runs it once the hook says run', async () => {
    const a = await client()
    const notices: string[] = []
    a.on('notice', (n) => notices.push(n.message ?? ''))
    const pending = a.query('select id from secrets where id = $1', [2])
    const h = await nextHeld()
    expect(h.request.sql).toBe('select id from secrets where id = $1')
    expect(h.request.extended).toBe(true)
    expect(h.request.decision.rule).toBe('secrets-need-review')
    h.resolve({kind: 'run', approvalId: 'apr_ext'})
    expect((await pending).rows).toEqual([{id: 2}])
    expect(notices).toEqual(['dbgate: waiting for request apr_test'])
    expect((await a.query('select $1::int as x', [7])).rows).toEqual([{x: 7}])
    await a.end()
  })

  it('a refused named prepared statement is an error, the rest of the batch is discarded, the session goes on', async () => {
    const a = await client()
    const pending = a
      .query({name: 'held_one', text: 'select id from secrets where id = $1', values: [1]})
      .catch((e: unknown) => e)
    ;(await nextHeld()).resolve({
      kind: 'refuse',
      message: 'dbgate: approval required: request apr_y was created',
      hint: 'Once it is approved, run it with: dbgate exec',
      approvalId: 'apr_y',
    })
    expect(await pending).toMatchObject({
      message: 'dbgate: approval required: request apr_y was created',
      code: '42501',
      routine: 'dbgate_policy_review',
    })
    // The statement was never prepared on the server: its name is free, and the session is usable.
    expect((await a.query({name: 'held_one', text: 'select $1::int as y', values: [3]})).rows).toEqual([
      {y: 3},
    ])
    await a.end()
  })

  it('a cancel (Ctrl-C) ends the hold with 57014 and the session goes on, in both protocols', async () => {
    const a = await client()
    for (const run of [
      () => a.query('select * from secrets'),
      () => a.query('select id from secrets where id = $1', [1]),
    ]) {
      const pending = run().catch((e: unknown) => e)
      const h = await nextHeld()
      await cancel(a)
      expect(await pending).toMatchObject({code: '57014', message: 'canceling statement due to user request'})
      // The hook is told to stop waiting: a late approval is not spent on a statement nobody waits for.
      expect(h.request.active()).toBe(false)
      h.resolve({kind: 'run', approvalId: 'apr_late'})
      expect((await a.query('select 5 as five')).rows).toEqual([{five: 5}])
    }
    // A cancel with nothing held still reaches the server.
    const slow = a.query('select pg_sleep(20) as slept_in_review_test').catch((e: unknown) => e)
    for (let i = 0; i < 200; i++) {
      const {rows} = await adminQuery(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%slept_in_review_test' AND state = 'active'`,
      )
      if ((rows[0] as {n: number}).n > 0) break
      await new Promise((r) => setTimeout(r, 25))
    }
    await cancel(a)
    expect(await slow).toMatchObject({code: '57014'})
    await a.end()
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
