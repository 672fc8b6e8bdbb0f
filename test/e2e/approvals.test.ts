import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliHome, runCli, spawnCli} from '../support/login-e2e.js'
import {adminQuery} from '../support/pg-scratch.js'
import {startReceiver, type Receiver} from '../support/webhook-receiver.js'
import {flat, machineToken, setUpTargetWorld, type TargetWorld} from './exec-target-support.js'

/**
 * Approvals end to end: the CLI, a real control plane, the real PostgreSQL and psql, and local receivers
 * standing in for Slack and a ticketing webhook. The requester is a CI machine token; approvers are other
 * machine tokens (group approvers).
 */
const SECRET = 'e2e-approvals-webhook-secret-0123'
let world: TargetWorld
let slack: Receiver
let tickets: Receiver
const home = cliHome()
let approverEnv: Record<string, string>
let selfEnv: Record<string, string>

beforeAll(async () => {
  slack = await startReceiver(SECRET)
  tickets = await startReceiver(SECRET)
  world = await setUpTargetWorld({
    rules: `        - name: review-deletes
          when: {kinds: [delete]}
          action: review
        - name: hold-updates
          when: {kinds: [update]}
          action: review
          approval: {mode: hold, expires: 5s}
        - name: hold-inserts
          when: {kinds: [insert]}
          action: review
          approval: {mode: hold, expires: 60s}`,
    extra: `approvals:
  notify:
    - {name: slack, kind: slack, url: '${slack.url}', secret: '${SECRET}'}
    - {name: tickets, kind: webhook, url: '${tickets.url}', secret: '${SECRET}'}
  retries: 1
  retry_delay: 1`,
  })
  approverEnv = await machineToken(world, 'approver-e2e', 'approvers')
  selfEnv = await machineToken(world, 'self-e2e', 'deploy,approvers')
}, 120_000)
afterAll(async () => {
  await world?.teardown()
  await slack?.close()
  await tickets?.close()
  home.remove()
})

const as = async (env: Record<string, string>, args: string[]) => {
  const r = await runCli(args, {...home.env, ...env})
  return {...r, stderr: flat(r.stderr)}
}
const requester = (args: string[]) => as(world.ciEnv, args)
const approver = (args: string[]) => as(approverEnv, args)
const count = async (where: string): Promise<number> =>
  (
    (await adminQuery(`SELECT count(*)::int AS n FROM items WHERE ${where}`, world.db.name)).rows[0] as {
      n: number
    }
  ).n

async function request(sql: string, env = world.ciEnv): Promise<string> {
  const r = await as(env, [
    'request-approval',
    'prod-pg',
    '--sql',
    sql,
    '--reason',
    'fix a bad row',
    '--json',
  ])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as {id: string}).id
}

describe('approvals end to end', {timeout: 240_000}, () => {
  it('request → notification → approved by another identity → runs once → a second run is refused', async () => {
    await adminQuery(`INSERT INTO items VALUES (10, 'ten')`, world.db.name)
    const sql = 'delete from items where id = 10'
    const id = await request(sql)
    await slack.waitFor(1)
    await tickets.waitFor(1)
    const blocks = JSON.stringify(slack.accepted.at(-1)!.body)
    for (const part of [
      'service:ci-e2e',
      'prod-pg',
      sql,
      'fix a bad row',
      `${world.server.url}/approvals/${id}`,
    ])
      expect(blocks).toContain(part)
    expect(tickets.accepted.at(-1)!.body).toMatchObject({
      type: 'approval.requested',
      approval: {id, statement: sql},
    })

    const early = await requester(['exec', 'prod-pg', '--approval', id, '--sql', sql])
    expect(early.code).toBe(4)
    expect(early.stderr).toContain('still pending')

    const ok = await approver(['approvals', 'approve', id, '--comment', 'checked'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stderr).toContain(`Request ${id} is now approved`)

    const run = await requester(['exec', 'prod-pg', '--approval', id, '--sql', sql, '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({results: [{command: 'DELETE', rowCount: 1}]})
    expect(await count('id = 10')).toBe(0)

    await adminQuery(`INSERT INTO items VALUES (10, 'ten')`, world.db.name)
    const again = await requester(['exec', 'prod-pg', '--approval', id, '--sql', sql])
    expect(again.code).toBe(4)
    expect(again.stderr).toContain(`approval ${id} cannot be used`)
    expect(again.stderr).toContain('used up')
    expect(await count('id = 10')).toBe(1)

    const shown = await requester(['approvals', 'show', id, '--json'])
    const types = (JSON.parse(shown.stdout) as {events: {type: string}[]}).events.map((e) => e.type)
    expect(types).toEqual(expect.arrayContaining(['requested', 'notified', 'approved', 'used']))
  })

  it('a statement altered after approval is refused, and so is another identity', async () => {
    const id = await request('delete from items where id = 1')
    expect((await approver(['approvals', 'approve', id])).code).toBe(0)
    const altered = await requester([
      'exec',
      'prod-pg',
      '--approval',
      id,
      '--sql',
      'delete from items where id = 2',
    ])
    expect(altered.code).toBe(4)
    expect(altered.stderr).toContain('differs from the one approved')
    const other = await as(selfEnv, [
      'exec',
      'prod-pg',
      '--approval',
      id,
      '--sql',
      'delete from items where id = 1',
    ])
    expect(other.code).toBe(4)
    expect(other.stderr).toContain('another identity')
    expect(await count('id in (1, 2)')).toBe(2)
    // Without --approval (as in a connect session), the same statement finds and spends the grant.
    const rerun = await requester(['exec', 'prod-pg', '--sql', 'delete from items where id = 1', '--json'])
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(await count('id = 1')).toBe(0)
    await adminQuery(`INSERT INTO items VALUES (1, 'one')`, world.db.name)
  })

  it('request-approval --wait exits 3 when denied, naming who and why', async () => {
    const waiting = spawnCli(
      ['request-approval', 'prod-pg', '--sql', 'delete from items where id = 2', '--reason', 'r', '--wait'],
      {...home.env, ...world.ciEnv},
    )
    const [, id] = await waiting.waitForStderr(/Request (apr_\S+) created/)
    const denied = await approver(['approvals', 'deny', id!, '--comment', 'not during the freeze'])
    expect(denied.code, denied.stderr).toBe(0)
    const r = await waiting.done
    expect(r.code).toBe(3)
    expect(flat(r.stderr)).toContain('was denied by approver-e2e: not during the freeze')
  })

  it('request-approval --wait exits 1 when the request expires', async () => {
    const r = await requester([
      'request-approval',
      'prod-pg',
      '--sql',
      "update items set name = 'x' where id = 1",
      '--reason',
      'r',
      '--wait',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Request apr_\S+ expired at .* without approval/)
  })

  it('nobody approves their own request', async () => {
    const id = await request('delete from items where id = 2', selfEnv)
    const own = await as(selfEnv, ['approvals', 'approve', id])
    expect(own.code).toBe(1)
    expect(own.stderr).toContain(`you cannot approve your own request ${id}`)
    const notApprover = await requester(['approvals', 'approve', id])
    expect(notApprover.code).toBe(1)
  })

  it('exec without an approval creates the request and exits 4 naming it (reject mode)', async () => {
    const r = await requester(['exec', 'prod-pg', '--sql', 'delete from items where id = 2'])
    expect(r.code).toBe(4)
    const m = /request (apr_\S+) was created/.exec(r.stderr)
    expect(m, r.stderr).not.toBeNull()
    expect(r.stderr).toContain(`dbgate exec prod-pg --approval ${m![1]}`)
    const listed = await approver(['approvals', 'list', '--status', 'pending', '--json'])
    expect(JSON.parse(listed.stdout)).toMatchObject({
      approvals: expect.arrayContaining([expect.objectContaining({id: m![1], source: 'proxy'})]),
    })
    expect(await count('id = 2')).toBe(1)
  })

  it('hold mode with psql: the NOTICE names the request, the statement runs once another identity approves', async () => {
    const psql = spawnCli(
      [
        'connect',
        'prod-pg',
        '--',
        'psql',
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        "insert into items values (20, 'twenty')",
      ],
      {...home.env, ...world.ciEnv},
    )
    const [, id] = await psql.waitForStderr(
      /NOTICE:\s+dbgate: approval required by rule "hold-inserts": waiting for request (apr_\S+)/,
    )
    // Other sessions are not blocked by the held statement.
    const other = await requester(['exec', 'prod-pg', '--sql', 'select count(*) as n from items', '--json'])
    expect(other.code, other.stderr).toBe(0)
    expect(await count('id = 20')).toBe(0)
    const shown = await approver(['approvals', 'show', id!])
    expect(shown.stdout).toMatch(/process: +psql \(pid \d+\)/)
    expect((await approver(['approvals', 'approve', id!])).code).toBe(0)
    const r = await psql.done
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('INSERT 0 1')
    expect(await count('id = 20')).toBe(1)
  })

  it('hold mode with psql: a request nobody decides times out with an error', async () => {
    const r = await requester([
      'connect',
      'prod-pg',
      '--',
      'psql',
      '-X',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      "update items set name = 'held' where id = 1",
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /NOTICE: dbgate: approval required by rule "hold-updates": waiting for request apr_\S+/,
    )
    expect(r.stderr).toMatch(/ERROR: dbgate: request apr_\S+ expired without approval/)
    expect(await count("name = 'held'")).toBe(0)
  })
})
