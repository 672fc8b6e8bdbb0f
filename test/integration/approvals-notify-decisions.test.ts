/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {adminQuery, uniqueName} from '../support/pg-scratch.js'
import {deadSink, startReceiver, type Delivery, type Receiver} from '../support/webhook-receiver.js'
import {api, devTokens, startTestServer, type TestServer} from './server-harness.js'

// A decision is announced like a request: `approval.approved` / `approval.denied` to generic webhooks and a
// one-line Slack message, signed and retried as the others, on a control plane with its PostgreSQL store.

const SLACK_SECRET = 'slack-secret-decisions-0123456789'
const HOOK_SECRET = 'hook-secret-decisions-0123456789'
const POLICY = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {name: 'review-deletes', when: {kinds: ['delete']}, action: 'review'},
    {
      name: 'review-truncate',
      when: {kinds: ['truncate']},
      action: 'review',
      approval: {approvers: 2, groups: ['admins']},
    },
  ],
}

const storeDb = uniqueName('dbgate_apr_notify')
let server: TestServer
let slack: Receiver
let hook: Receiver
let alice: string
let bob: string
let carol: string

beforeAll(async () => {
  await adminQuery(`CREATE DATABASE ${storeDb}`)
  slack = await startReceiver(SLACK_SECRET)
  hook = await startReceiver(HOOK_SECRET)
  server = await startTestServer(
    {
      policies: [{name: 'decisions-test', targets: ['*'], groups: ['*'], document: POLICY}],
      approvals: {
        notify: [
          {name: 'slack', kind: 'slack', url: slack.url, secret: SLACK_SECRET},
          {name: 'tickets', kind: 'webhook', url: hook.url, secret: HOOK_SECRET},
          // Nothing listens there: every attempt fails, and the request records that.
          deadSink(HOOK_SECRET, ['review-truncate']),
        ],
        retries: 2,
        retry_delay: 1,
      },
    },
    undefined,
    `postgres://postgres@127.0.0.1:5432/${storeDb}`,
  )
  ;({alice, bob, carol} = await devTokens(server))
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await slack?.close()
  await hook?.close()
  await adminQuery(`DROP DATABASE IF EXISTS ${storeDb} WITH (FORCE)`)
})

const create = async (statement: string): Promise<string> => {
  const res = await api(server, '/api/v1/approvals', bob, {
    method: 'POST',
    body: {target: 'pg-test', statement, reason: 'cleanup'},
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body.id as string
}
const decide = (token: string, id: string, what: 'approve' | 'deny', comment?: string) =>
  api(server, `/api/v1/approvals/${id}/${what}`, token, {method: 'POST', body: comment ? {comment} : {}})

/** The deliveries a receiver accepted about one request (webhook payloads name it, Slack messages show it). */
const about = (r: Receiver, id: string): any[] =>
  r.accepted
    .map((d: Delivery) => d.body as any)
    .filter((b) => (b.approval !== undefined ? b.approval.id === id : JSON.stringify(b).includes(id)))

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await probe()
    if (v !== undefined) return v
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** The details of a request's `notified` / `notify_failed` events, read from the PostgreSQL store itself. */
async function deliveriesRecorded(id: string): Promise<string[]> {
  const {rows} = await adminQuery(
    `SELECT type, detail FROM approval_events WHERE approval_id = '${id}' AND type LIKE 'notif%' ORDER BY n`,
    storeDb,
  )
  return rows.map((r) => `${(r as {type: string}).type}: ${(r as {detail: string}).detail}`)
}

describe('decisions are notified', {timeout: 60_000}, () => {
  it('approved: a signed approval.approved webhook of the same shape, a Slack line, retried on failure', async () => {
    const sql = 'delete from items where id = 1'
    const id = await create(sql)
    await until('the request notifications', () =>
      about(hook, id).length === 1 && about(slack, id).length === 1 ? true : undefined,
    )
    // The receiver answers 503 while its attempt count is at most 0: the decision's first attempt fails.
    slack.attempts = -1
    const ok = await decide(alice, id, 'approve', 'looks fine')
    expect(ok.body.status).toBe('approved')

    const [requested, approved] = await until('the approval.approved webhook', () => {
      const got = about(hook, id)
      return got.length === 2 ? got : undefined
    })
    expect(approved).toMatchObject({
      type: 'approval.approved',
      approval: {
        id,
        status: 'approved',
        statement: sql,
        grant: {uses_left: 1},
        votes: [{approver_name: 'Alice', decision: 'approve', comment: 'looks fine'}],
        url: `${server.url}/approvals/${id}`,
      },
    })
    expect(Object.keys(approved).sort()).toEqual(Object.keys(requested).sort())
    expect(Object.keys(approved.approval).sort()).toEqual(Object.keys(requested.approval).sort())

    const message = await until('the Slack decision message', () => about(slack, id)[1])
    expect(message.text).toMatch(
      new RegExp(`^dbgate: request ${id} on pg-test by Bob was approved by Alice \\(`),
    )
    expect(message.text).toContain('looks fine')
    expect(JSON.stringify(message.blocks)).toContain(sql)
    expect(JSON.stringify(message.blocks)).toContain(`${server.url}/approvals/${id}`)
    // Every delivery carried a valid signature and timestamp (the receivers check them as Slack would).
    expect([...slack.refused, ...hook.refused]).toEqual([])

    const recorded = await until('the recorded deliveries', async () => {
      const d = await deliveriesRecorded(id)
      return d.length === 4 ? d : undefined
    })
    expect(recorded).toEqual(
      expect.arrayContaining([
        'notified: tickets, approved (attempt 1)',
        'notified: slack, approved (attempt 2)',
      ]),
    )
  })

  it('denied: approval.denied with the comment, and a Slack line naming who denied and why', async () => {
    const sql = 'delete from items where id = 2'
    const id = await create(sql)
    await until('the request notifications', () =>
      about(hook, id).length === 1 && about(slack, id).length === 1 ? true : undefined,
    )
    expect((await decide(alice, id, 'deny', 'not during the freeze')).body.status).toBe('denied')
    const denied = await until('the approval.denied webhook', () => about(hook, id)[1])
    expect(denied).toMatchObject({
      type: 'approval.denied',
      approval: {
        id,
        status: 'denied',
        grant: null,
        votes: [{approver_name: 'Alice', decision: 'deny', comment: 'not during the freeze'}],
      },
    })
    const message = await until('the Slack decision message', () => about(slack, id)[1])
    expect(message.text).toContain(`request ${id} on pg-test by Bob was denied by Alice (`)
    expect(message.text).toContain(': not during the freeze')
    expect([...slack.refused, ...hook.refused]).toEqual([])
    expect(
      await until('the recorded deliveries', async () => {
        const d = await deliveriesRecorded(id)
        return d.length === 4 ? d : undefined
      }),
    ).toEqual(
      expect.arrayContaining([
        'notified: tickets, denied (attempt 1)',
        'notified: slack, denied (attempt 1)',
      ]),
    )
  })

  it('with two approvers only the deciding vote is announced; a dead receiver fails after its retries', async () => {
    const id = await create('truncate items')
    await until('the request notifications', () => (about(hook, id).length === 1 ? true : undefined))
    expect((await decide(alice, id, 'approve')).body.status).toBe('pending')
    expect((await decide(carol, id, 'approve', 'second')).body.status).toBe('approved')
    const approved = await until('the approval.approved webhook', () => about(hook, id)[1])
    expect(approved).toMatchObject({type: 'approval.approved', approval: {id, status: 'approved'}})
    expect(approved.approval.votes.map((v: any) => v.approver_name)).toEqual(['Alice', 'Carol'])
    const message = await until('the Slack decision message', () => about(slack, id)[1])
    expect(message.text).toContain('was approved by Carol (')
    // The dead sink: 3 attempts (1 + retries 2, after 1 s and 2 s) for the request and for the decision.
    const recorded = await until('the failed deliveries', async () => {
      const d = await deliveriesRecorded(id)
      return d.filter((x) => x.startsWith('notify_failed')).length === 2 ? d : undefined
    })
    expect(recorded).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^notify_failed: dead: 3 attempts, last: /),
        expect.stringMatching(/^notify_failed: dead, approved: 3 attempts, last: /),
      ]),
    )
    // Only the deciding vote was announced: one approval.approved for this request, nothing for the first vote.
    expect(about(hook, id).map((b) => b.type)).toEqual(['approval.requested', 'approval.approved'])
    const shown = await api(server, `/api/v1/approvals/${id}`, bob)
    expect(shown.body.events_intact).toBe(true)
  })
})
