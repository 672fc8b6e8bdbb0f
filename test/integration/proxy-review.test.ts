import {connect} from 'node:net'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DEFAULT_APPROVAL, type Policy} from '../../src/policy/index.js'
import type {ReviewHook} from '../../src/proxy/index.js'
import {cancelRequest, typed} from '../../src/proxy/postgres/wire.js'
import {F, RawClient, errorCode, errorMessage, types} from '../support/pg-raw.js'
import {adminQuery, createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {TEST_POLICY, startTestProxy, type TestProxy} from '../support/proxy.js'
import {heldHook} from '../support/review-hook.js'

// The proxy's review hook against the real PostgreSQL: a held statement pauses only its own session, runs
// once the hook says so, and a refusal or a failing hook is a clear error after which the session goes on.
// `secrets` is reviewed by a rule whose grants cover any literal values (so its text with placeholders may be
// approved at Parse); `ledger` by one that binds a grant to the exact text, so its values must be seen.

const POLICY: Policy = {
  ...TEST_POLICY,
  rules: [
    ...TEST_POLICY.rules.map((r) =>
      r.name === 'secrets-need-review' ? {...r, approval: {...DEFAULT_APPROVAL, anyLiterals: true}} : r,
    ),
    {name: 'ledger-needs-review', when: {tables: ['public.ledger']}, action: 'review'},
  ],
}

let db: ScratchDb
let proxy: TestProxy
const {hook, held, nextHeld} = heldHook('prod-pg')

async function client(): Promise<pg.Client> {
  const c = new pg.Client(proxy.clientConfig)
  c.on('error', () => undefined)
  await c.connect()
  return c
}

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_review',
    `CREATE TABLE secrets (id int); INSERT INTO secrets VALUES (1), (2);
     CREATE TABLE ledger (id int); INSERT INTO ledger VALUES (1), (2);`,
  )
  proxy = await startTestProxy(db.url, POLICY, {review: hook})
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

async function ledgerRows(): Promise<number> {
  return ((await adminQuery('SELECT count(*)::int AS n FROM ledger', db.name)).rows[0] as {n: number}).n
}

/** A Parse that declares `types.length` parameter types (int4), whatever its text. */
function parseWithTypes(name: string, sql: string, types: number): Buffer {
  const body = [Buffer.from(`${name}\0${sql}\0`), Buffer.from([0, types])]
  for (let i = 0; i < types; i++) body.push(Buffer.from([0, 0, 0, 23]))
  return typed(0x50, Buffer.concat(body))
}

describe('approval with the values in the extended protocol', {timeout: 30_000}, () => {
  it('a statement with parameters whose grant binds to the exact text is refused at Parse, without a request', async () => {
    const a = await client()
    const err = await a.query('delete from ledger where id = $1', [1]).catch((e: unknown) => e)
    expect(err).toMatchObject({code: '42501', routine: 'dbgate_policy_review'})
    const {message, hint} = err as {message: string; hint: string}
    expect(message).toContain('approval required by rule "ledger-needs-review"')
    expect(message).toContain('this statement needs approval with its values')
    expect(hint).toContain('with the values written in the SQL as a simple query (e.g. psql)')
    expect(hint).toContain("dbgate request-approval prod-pg --sql '…'")
    expect(hint).toContain("dbgate exec prod-pg --approval ID --sql '…'")
    // The hook was never asked: no request nobody could approve meaningfully.
    expect(held).toHaveLength(0)
    expect(await ledgerRows()).toBe(2)
    // The session goes on, and the same statement with its values written in is reviewed as usual.
    expect((await a.query('select 3 as three')).rows).toEqual([{three: 3}])
    const pending = a.query('delete from ledger where id = 1')
    const h = await nextHeld()
    expect(h.request).toMatchObject({sql: 'delete from ledger where id = 1', extended: false})
    h.resolve({kind: 'run', approvalId: 'apr_literal'})
    expect((await pending).rowCount).toBe(1)
    expect(await ledgerRows()).toBe(1)
    await a.end()
  })

  it('a Parse that declares parameter types is refused too, and the rest of its batch is discarded', async () => {
    const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    c.send(
      parseWithTypes('', 'select id from ledger', 1),
      F.bind('', '', ['1']),
      F.execute(''),
      F.sync(),
      F.query('select 4 as four'),
    )
    const first = await c.readUntil('Z')
    expect(types(first)).toBe('EZ')
    expect(errorCode(first[0]!)).toBe('42501')
    expect(errorMessage(first[0]!)).toContain('needs approval with its values')
    expect(types(await c.readUntil('Z'))).toBe('TDCZ')
    expect(held).toHaveLength(0)
    c.end()
  })

  it('`$1` in a literal, a quoted identifier, a comment or a dollar-quoted body is no parameter', async () => {
    const a = await client()
    const ids = (await adminQuery('SELECT id FROM ledger ORDER BY id', db.name)).rows.map(
      (r) => (r as {id: number}).id,
    )
    expect(ids.length).toBeGreaterThan(0)
    const texts = [
      "select id from ledger where '$1' <> '' order by id",
      'select id as "$1" from ledger order by id',
      'select id from ledger /* $1 */ order by id -- $2',
      'select id from ledger where $q$ $1 $q$ <> $$x$$ order by id',
    ]
    for (const [i, text] of texts.entries()) {
      // A name makes node-postgres send Parse/Bind/Execute though there are no values.
      const pending = a.query({name: `no_param_${i}`, text})
      const h = await nextHeld()
      expect(h.request).toMatchObject({sql: text, extended: true})
      h.resolve({kind: 'run', approvalId: `apr_noparam_${i}`})
      const {rows, fields} = await pending
      expect(rows.map((r: Record<string, unknown>) => r[fields[0]!.name])).toEqual(ids)
    }
    // A real `$1` beside one in a literal still needs its values approved: refused at Parse, no request.
    const err = await a
      .query("select id from ledger where id = $1 and '$2' <> ''", [1])
      .catch((e: unknown) => e)
    expect(err).toMatchObject({code: '42501', routine: 'dbgate_policy_review'})
    expect((err as Error).message).toContain('this statement needs approval with its values')
    expect(held).toHaveLength(0)
    await a.end()
  })

  it('a named statement approved at Parse runs again only as the hook spends the same approval again', async () => {
    const a = await client()
    const text = 'select id from secrets where id = $1'
    const pending = a.query({name: 'twice', text, values: [1]})
    ;(await nextHeld()).resolve({kind: 'run', approvalId: 'apr_twice'})
    expect((await pending).rows).toEqual([{id: 1}])
    expect(held).toHaveLength(0)
    // node-postgres prepared it already: this time it sends only Bind and Execute, and the Bind is held.
    const second = a.query({name: 'twice', text, values: [2]})
    const h2 = await nextHeld()
    expect(h2.request).toMatchObject({sql: text, again: 'apr_twice', extended: true})
    h2.resolve({kind: 'run', approvalId: 'apr_twice'})
    expect((await second).rows).toEqual([{id: 2}])
    // The grant is used up: the hook refuses, and the prepared statement does not run.
    const third = a.query({name: 'twice', text, values: [1]}).catch((e: unknown) => e)
    const h3 = await nextHeld()
    expect(h3.request.again).toBe('apr_twice')
    h3.resolve({
      kind: 'refuse',
      message: 'dbgate: approval apr_twice cannot be used again',
      approvalId: 'apr_twice',
    })
    expect(await third).toMatchObject({
      code: '42501',
      routine: 'dbgate_policy_review',
      message: 'dbgate: approval apr_twice cannot be used again',
    })
    expect((await a.query('select 5 as five')).rows).toEqual([{five: 5}])
    await a.end()
  })

  it('an unnamed statement approved at Parse and bound again without a new Parse asks the hook again', async () => {
    await adminQuery('INSERT INTO secrets VALUES (3)', db.name)
    const c = await RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
    c.send(
      F.parse('', 'delete from secrets where id = 3'),
      F.bind('', ''),
      F.execute(''),
      F.bind('', ''),
      F.execute(''),
      F.sync(),
      F.query('select 6 as six'),
    )
    ;(await nextHeld()).resolve({kind: 'run', approvalId: 'apr_unnamed'})
    const h2 = await nextHeld()
    expect(h2.request.again).toBe('apr_unnamed')
    h2.resolve({
      kind: 'refuse',
      message: 'dbgate: approval apr_unnamed cannot be used again',
      approvalId: null,
    })
    const first = await c.readUntil('Z')
    // A NOTICE of each hold, the one approved run, then the second Bind refused and its Execute discarded.
    expect(types(first)).toBe('N12CNEZ')
    expect(errorMessage(first[5]!)).toBe('dbgate: approval apr_unnamed cannot be used again')
    expect(types(await c.readUntil('Z'))).toBe('TDCZ')
    expect((await adminQuery('SELECT id FROM secrets WHERE id = 3', db.name)).rows).toEqual([])
    c.end()
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
