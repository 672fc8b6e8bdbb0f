import type {Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  chromiumAvailable,
  CHROMIUM_PATH,
  launchBrowser,
  pageText,
  signInOnDevIdp,
} from '../support/browser.js'
import {cliHome, runCli} from '../support/login-e2e.js'
import {adminQuery} from '../support/pg-scratch.js'
import {startReceiver, type Receiver} from '../support/webhook-receiver.js'
import {flat, setUpTargetWorld, type TargetWorld} from './exec-target-support.js'

/**
 * The approval page behind SSO in a real headless chromium: the link of the webhook payload, the dev identity
 * provider's login, the page showing statement, requester, process and rule, and the Approve button deciding
 * the request. The approver is alice, a member of the group the rule names; the requester a CI token whose
 * `exec` created the request through the proxy (so the process is known).
 */
const SECRET = 'e2e-approvals-browser-secret-0123'
const hasChromium = chromiumAvailable()
let world: TargetWorld
let tickets: Receiver
let browser: Browser
const home = cliHome()

beforeAll(async () => {
  if (!hasChromium) return
  tickets = await startReceiver(SECRET)
  world = await setUpTargetWorld({
    rules: `        - name: web-reviewed-deletes
          when: {kinds: [delete]}
          action: review
          approval: {groups: [eng]}`,
    extra: `approvals:
  notify:
    - {name: tickets, kind: webhook, url: '${tickets.url}', secret: '${SECRET}'}`,
  })
  browser = await launchBrowser()
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await world?.teardown()
  await tickets?.close()
  home.remove()
})

const requester = async (args: string[]) => {
  const r = await runCli(args, {...home.env, ...world.ciEnv})
  return {...r, stderr: flat(r.stderr)}
}

describe.skipIf(!hasChromium)(
  `the approval page in a real browser${hasChromium ? '' : ` (skipped: no chromium at ${CHROMIUM_PATH}; apt-get install -y chromium)`}`,
  {timeout: 180_000},
  () => {
    it('an approver follows the notification link, signs in, sees the request and approves it', async () => {
      const sql = 'delete from items where id = 2'
      const asked = await requester(['exec', 'prod-pg', '--sql', sql])
      expect(asked.code).toBe(4)
      const id = /request (apr_\S+) was created/.exec(asked.stderr)?.[1]
      expect(id, asked.stderr).toBeDefined()
      await tickets.waitFor(1)
      const payload = tickets.accepted[0]!.body as {approval: {id: string; url: string; process: string}}
      expect(payload.approval.id).toBe(id)
      expect(payload.approval.url).toBe(`${world.server.url}/approvals/${id}`)

      const page = await browser.newPage()
      await page.goto(payload.approval.url)
      // No page session yet: the identity provider's login first, then back to the page.
      await signInOnDevIdp(page, 'alice', 'alice-password')
      await page.waitForURL(payload.approval.url)
      const text = await pageText(page)
      expect(text).toContain(`Approval request ${id}`)
      expect(await page.locator('#status').innerText()).toBe('pending')
      expect(await page.locator('#statement').innerText()).toBe(sql)
      expect(await page.locator('#requester').innerText()).toBe('ci-e2e (service:ci-e2e)')
      expect(await page.locator('#rule').innerText()).toBe('web-reviewed-deletes (policy guarded)')
      const process = await page.locator('#process').innerText()
      expect(process).toBe(payload.approval.process)
      expect(process).toMatch(/\(pid \d+\)/)

      await page.locator('#comment').fill('checked in the browser')
      await Promise.all([page.waitForLoadState('load'), page.locator('#approve').click()])
      await page.waitForURL(payload.approval.url)
      expect(await page.locator('#status').innerText()).toBe('approved')
      expect(await page.locator('#votes').innerText()).toContain(
        'Alice Example: approve — checked in the browser',
      )
      await page.close()

      const shown = await requester(['approvals', 'show', id!, '--json'])
      expect(JSON.parse(shown.stdout)).toMatchObject({
        status: 'approved',
        votes: [{approver: 'alice', decision: 'approve', comment: 'checked in the browser'}],
      })
      const run = await requester(['exec', 'prod-pg', '--approval', id!, '--sql', sql, '--json'])
      expect(run.code, run.stderr).toBe(0)
      const left = await adminQuery(`SELECT count(*)::int AS n FROM items WHERE id = 2`, world.db.name)
      expect((left.rows[0] as {n: number}).n).toBe(0)
    })
  },
)
