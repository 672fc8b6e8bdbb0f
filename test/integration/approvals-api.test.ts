/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests probe parsed JSON bodies */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {deadSink, startReceiver, type Receiver} from '../support/webhook-receiver.js'
import {api, Browser, devTokens, formAction, startTestServer, type TestServer} from './server-harness.js'

// The approval API on a real control plane: requests judged by the server's own policy, distinct approvers,
// self-approval refused, grants bound to requester, target and statement, expiry, audit events, and signed,
// retried notifications to local receivers standing in for Slack and a ticketing webhook.

const SLACK_SECRET = 'slack-secret-approvals-0123456789'
const HOOK_SECRET = 'hook-secret-approvals-0123456789'
let server: TestServer
let slack: Receiver
let hook: Receiver
let alice: string
let bob: string
let carol: string

const POLICY = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {name: 'review-deletes', when: {kinds: ['delete']}, action: 'review', approval: {expires: '5m'}},
    {
      name: 'review-truncate',
      when: {kinds: ['truncate']},
      action: 'review',
      approval: {approvers: 2, groups: ['admins'], uses: 2, window: '1h'},
    },
    {name: 'no-drop', when: {kinds: ['drop']}, action: 'deny'},
    {name: 'quick-inserts', when: {kinds: ['insert']}, action: 'review', approval: {expires: '1s'}},
  ],
}

beforeAll(async () => {
  slack = await startReceiver(SLACK_SECRET, 1)
  hook = await startReceiver(HOOK_SECRET)
  server = await startTestServer({
    policies: [{name: 'approvals-test', targets: ['*'], groups: ['*'], document: POLICY}],
    approvals: {
      notify: [
        {name: 'slack', kind: 'slack', url: slack.url, secret: SLACK_SECRET},
        {name: 'tickets', kind: 'webhook', url: hook.url, secret: HOOK_SECRET, rules: ['review-deletes']},
        // Nothing listens there: every attempt fails, and the request records that.
        deadSink(HOOK_SECRET, ['review-truncate']),
      ],
      retries: 2,
      retry_delay: 1,
    },
  })
  ;({alice, bob, carol} = await devTokens(server))
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await slack?.close()
  await hook?.close()
})

const create = (token: string, statement: string, reason = 'cleanup of a bad row') =>
  api(server, '/api/v1/approvals', token, {method: 'POST', body: {target: 'pg-test', statement, reason}})
const decide = (token: string, id: string, what: 'approve' | 'deny', comment?: string) =>
  api(server, `/api/v1/approvals/${id}/${what}`, token, {method: 'POST', body: comment ? {comment} : {}})
const use = (token: string, statement: string, id?: string) =>
  api(server, '/api/v1/approvals/use', token, {
    method: 'POST',
    body: {target: 'pg-test', statement, ...(id ? {id} : {})},
  })

describe('approvals API', {timeout: 60_000}, () => {
  it('request → signed notifications → approve by another user → one use → refused after', async () => {
    const sql = 'delete from items where id = 1'
    const created = await create(bob, sql)
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const r = created.body
    expect(r).toMatchObject({
      status: 'pending',
      requester_name: 'Bob',
      rule: 'review-deletes',
      statement: sql,
    })
    expect(r.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(r.url).toBe(`${server.url}/approvals/${r.id}`)

    await slack.waitFor(1)
    await hook.waitFor(1)
    expect(slack.attempts).toBeGreaterThanOrEqual(2) // the first delivery got a 503 and was retried
    const msg = slack.accepted[0]!.body as any
    expect(msg.text).toContain('Bob')
    const blockText = JSON.stringify(msg.blocks)
    for (const part of ['Bob', 'pg-test', 'review-deletes', 'cleanup of a bad row', sql, r.url])
      expect(blockText).toContain(part)
    expect(msg.blocks.find((b: any) => b.type === 'actions').elements[0].url).toBe(r.url)
    expect(hook.accepted[0]!.body).toMatchObject({
      type: 'approval.requested',
      approval: {id: r.id, statement: sql},
    })
    expect(slack.refused).toEqual([])

    expect((await use(bob, sql, r.id)).body.error.message).toContain('still pending')
    const self = await decide(bob, r.id, 'approve')
    expect(self.status).toBe(403)
    expect(self.body.error.message).toContain('your own request')

    const ok = await decide(alice, r.id, 'approve', 'looks fine')
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({
      status: 'approved',
      grant: {uses_left: 1},
      votes: [{approver_name: 'Alice'}],
    })

    const altered = await use(bob, 'delete from items where id = 2', r.id)
    expect(altered.status).toBe(409)
    expect(altered.body.error.message).toContain('differs from the one approved')
    const other = await use(alice, sql, r.id)
    expect(other.status).toBe(403)
    expect(other.body.error.message).toContain('another identity')

    const first = await use(bob, sql)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({uses_left: 0, approval: {id: r.id}})
    const second = await use(bob, sql, r.id)
    expect(second.status).toBe(409)
    expect(second.body.error.message).toContain('used up')

    const shown = await api(server, `/api/v1/approvals/${r.id}`, bob)
    const types = shown.body.events.map((e: any) => e.type)
    expect(types).toEqual(expect.arrayContaining(['requested', 'notified', 'approved', 'used']))
    // The request's own deliveries (the decision's, `SINK, approved (attempt N)`, may still be under way).
    const ofRequest = shown.body.events.filter((e: any) => e.type === 'notified' && !e.detail.includes(', '))
    expect(ofRequest).toHaveLength(2)
    expect(shown.body.events_intact).toBe(true)
  })

  it('a denied request cannot be used; the deny comment is kept', async () => {
    const r = (await create(bob, 'delete from items where id = 7')).body
    const denied = await decide(alice, r.id, 'deny', 'not during the freeze')
    expect(denied.body).toMatchObject({
      status: 'denied',
      votes: [{decision: 'deny', comment: 'not during the freeze'}],
    })
    expect((await use(bob, 'delete from items where id = 7', r.id)).body.error.message).toContain('denied')
    expect((await decide(alice, r.id, 'approve')).status).toBe(409)
  })

  it("expires after the rule's time; an expired request cannot be approved", async () => {
    const r = (await create(bob, 'delete from items where id = 8')).body
    server.clock.offset += 6 * 60_000
    try {
      const shown = await api(server, `/api/v1/approvals/${r.id}`, bob)
      expect(shown.body.status).toBe('expired')
      expect(shown.body.events.map((e: any) => e.type)).toContain('expired')
      const late = await decide(alice, r.id, 'approve')
      expect(late.status).toBe(409)
      expect(late.body.error.message).toContain('expired')
    } finally {
      server.clock.offset -= 6 * 60_000
    }
  })

  it('N distinct approvers, from the approver role or a group the rule names; two uses', async () => {
    const sql = 'truncate items'
    const r = (await create(bob, sql)).body
    expect(r.settings).toMatchObject({approvers: 2, groups: ['admins'], uses: 2})
    expect((await decide(alice, r.id, 'approve')).body.status).toBe('pending')
    expect((await decide(alice, r.id, 'approve')).status).toBe(409)
    expect((await decide(carol, r.id, 'approve')).body.status).toBe('approved')
    expect((await use(bob, sql)).body.uses_left).toBe(1)
    expect((await use(bob, sql)).body.uses_left).toBe(0)
    expect((await use(bob, sql)).status).toBe(404)
    // The dead receiver: three attempts (1 + retries 2, after 1 s and 2 s), then notify_failed.
    let events: string[] = []
    for (let i = 0; i < 40 && !events.includes('notify_failed'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      events = (await api(server, `/api/v1/approvals/${r.id}`, bob)).body.events.map((e: any) => e.type)
    }
    const failed = (await api(server, `/api/v1/approvals/${r.id}`, bob)).body.events.find(
      (e: any) => e.type === 'notify_failed',
    )
    expect(failed?.detail).toContain('dead: 3 attempts')
  })

  it('malformed bodies are refused with the field named, never stored', async () => {
    const bad = [
      [{target: 'pg-test', statement: 'delete from items', reason: 'r', extra: 1}, 'unknown field "extra"'],
      [{target: 'pg-test', statement: '', reason: 'r'}, 'statement'],
      [{target: 'pg-test', statement: 'delete from items'}, 'reason'],
      [{target: 'pg-test', statement: 7, reason: 'r'}, 'statement'],
      [{target: 'pg-test', statement: 'x'.repeat(300 * 1024), reason: 'r'}, 'statement'],
    ] as const
    const before = (await api(server, '/api/v1/approvals', alice)).body.approvals.length
    for (const [body, field] of bad) {
      const res = await api(server, '/api/v1/approvals', bob, {method: 'POST', body})
      expect(res.status, JSON.stringify(res.body)).toBe(400)
      expect(res.body.error.message).toContain(field)
    }
    expect((await api(server, '/api/v1/approvals?status=nope', bob)).status).toBe(400)
    expect((await api(server, '/api/v1/approvals/%3Cx%3E', bob)).status).toBe(404)
    expect((await api(server, '/api/v1/approvals', alice)).body.approvals.length).toBe(before)
    expect((await api(server, '/api/v1/approvals', undefined)).status).toBe(401)
  })

  it('only review statements make requests; approvers see all, requesters their own', async () => {
    const allowed = await create(bob, 'select 1')
    expect(allowed.status).toBe(400)
    expect(allowed.body.error.message).toContain('needs no approval')
    const denied = await create(bob, 'drop table items')
    expect(denied.body.error.message).toContain('deny (rule "no-drop")')
    const unknown = await api(server, '/api/v1/approvals', bob, {
      method: 'POST',
      body: {target: 'nope', statement: 'delete from x', reason: 'r'},
    })
    expect(unknown.status).toBe(404)
    const mine = (await api(server, '/api/v1/approvals', bob)).body.approvals
    expect(mine.length).toBeGreaterThan(0)
    expect(mine.every((a: any) => a.requester_name === 'Bob')).toBe(true)
    const pending = (await api(server, '/api/v1/approvals?status=approved', alice)).body.approvals
    expect(pending.every((a: any) => a.status === 'approved')).toBe(true)
    // Bob is no approver: he cannot decide someone else's request either.
    const alices = (await create(alice, 'delete from items where id = 9')).body
    const byBob = await decide(bob, alices.id, 'approve')
    expect(byBob.status).toBe(404)
  })

  it('the page behind SSO shows the request and takes a CSRF-checked decision; never on your own', async () => {
    const sql = "delete from items where name = '<script>alert(1)</script>'"
    const r = (await create(bob, sql, 'page test')).body
    const signIn = async (username: string, password: string): Promise<{browser: Browser; html: string}> => {
      const browser = new Browser()
      const login = await browser.follow(r.url)
      expect(login.url).toContain('/dev-idp')
      const html = await login.response!.text()
      const back = await browser.follow(formAction(html, login.url), {
        form: {username, password, action: 'login'},
      })
      expect(back.url).toBe(r.url)
      expect(back.response!.status).toBe(200)
      return {browser, html: await back.response!.text()}
    }
    const {browser, html} = await signIn('alice', 'alice-pw')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).not.toContain('<script>')
    for (const part of ['Bob (', 'review-deletes', 'page test', 'pg-test', 'id="approve"'])
      expect(html).toContain(part)
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!

    const forged = await browser.request(r.url, {form: {action: 'approve', csrf: 'not-the-token'}})
    expect(forged.status).toBe(403)
    const noCookie = await new Browser().request(r.url, {form: {action: 'approve', csrf}})
    expect(noCookie.status).toBe(403)
    expect((await api(server, `/api/v1/approvals/${r.id}`, bob)).body.status).toBe('pending')

    const own = await signIn('bob', 'bob-pw')
    expect(own.html).not.toContain('id="approve"')
    expect(own.html).toContain('This is your request: another approver must decide it.')

    const approved = await browser.request(r.url, {
      form: {action: 'approve', comment: 'ok from the page', csrf},
    })
    expect(approved.status).toBe(200)
    const after = await approved.text()
    expect(after).toContain('id="status">approved<')
    expect(after).toContain('Alice: approve — ok from the page')
  })

  it('a request nobody decides expires at its deadline and Slack is told, signed like the request', async () => {
    const created = await create(bob, "insert into items values (99, 'x')")
    expect(created.status).toBe(201)
    const id = created.body.id as string
    const expiredMessage = () =>
      slack.accepted.find((d) => JSON.stringify(d.body).includes(`request ${id} on pg-test by Bob expired`))
    for (let i = 0; i < 200 && expiredMessage() === undefined; i++)
      await new Promise((r) => setTimeout(r, 50))
    const msg = expiredMessage()?.body as any
    expect(msg.text).toBe(`dbgate: request ${id} on pg-test by Bob expired without a decision`)
    // Accepted: its signature and timestamp verified (the receiver refuses anything else).
    expect(JSON.stringify(msg.blocks)).toContain(`${server.url}/approvals/${id}`)
    const shown = await api(server, `/api/v1/approvals/${id}`, bob)
    expect(shown.body.status).toBe('expired')
    expect(shown.body.events.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['requested', 'expired']),
    )
  })
})
