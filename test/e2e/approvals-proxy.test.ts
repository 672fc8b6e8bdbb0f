import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliHome, runCli, spawnCli} from '../support/login-e2e.js'
import {adminQuery} from '../support/pg-scratch.js'
import {startReceiver, type Receiver} from '../support/webhook-receiver.js'
import {flat, machineToken, setUpTargetWorld, type TargetWorld} from './exec-target-support.js'

/**
 * Approvals beyond psql's simple protocol, end to end with the CLI, a real control plane and PostgreSQL:
 * node-postgres with parameters and named prepared statements (extended protocol): refused without a request when
 * the grant must see the values, held in hold mode when the rule allows any literal values, a named statement
 * that runs only as often as approved, a cancel (Ctrl-C) of a held statement, expiry by the control plane's timer with
 * its notification, and every transition in `dbgate audit search` under its filters and role limits.
 */
const SECRET = 'e2e-approvals-proxy-secret-0123456'
const CHILD = join(import.meta.dirname, 'approvals-pg-child.ts')
let world: TargetWorld
let tickets: Receiver
const home = cliHome()
let approverEnv: Record<string, string>
let adminEnv: Record<string, string>
let otherEnv: Record<string, string>

beforeAll(async () => {
  tickets = await startReceiver(SECRET)
  world = await setUpTargetWorld({
    rules: `        - name: review-deletes
          when: {kinds: [delete]}
          action: review
        - name: hold-inserts
          when: {kinds: [insert]}
          action: review
          approval: {mode: hold, expires: 60s, any_literals: true}
        - name: quick-updates
          when: {kinds: [update]}
          action: review
          approval: {expires: 2s}
        - name: short-grant-reads
          when: {kinds: [select], tables: [public.items]}
          action: review
          approval: {window: 2s}
        - name: two-use-notes
          when: {tables: [public.notes]}
          action: review
          approval: {mode: hold, uses: 2, expires: 60s, any_literals: true}`,
    extra: `approvals:
  notify:
    - {name: tickets, kind: webhook, url: '${tickets.url}', secret: '${SECRET}'}
  retries: 1
  retry_delay: 1`,
  })
  approverEnv = await machineToken(world, 'approver-px', 'approvers')
  adminEnv = await machineToken(world, 'admin-px', 'admins')
  otherEnv = await machineToken(world, 'other-px', 'deploy')
}, 120_000)
afterAll(async () => {
  await world?.teardown()
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

/** node-postgres through `dbgate connect prod-pg`, as the CI requester. */
function pgClient(args: string[]) {
  return spawnCli(['connect', 'prod-pg', '--', process.execPath, '--import', 'tsx', CHILD, ...args], {
    ...home.env,
    ...world.ciEnv,
  })
}

async function status(id: string): Promise<string> {
  const shown = await approver(['approvals', 'show', id, '--json'])
  expect(shown.code, shown.stderr).toBe(0)
  return (JSON.parse(shown.stdout) as {status: string}).status
}

describe('approvals in the extended protocol', {timeout: 240_000}, () => {
  it('a statement with parameters whose grant binds to its text is refused without a request; its values go to exec', async () => {
    await adminQuery(`INSERT INTO items VALUES (40, 'forty')`, world.db.name)
    const first = await pgClient(['delete from items where id = $1', '40']).done
    expect(first.code).toBe(1)
    expect(first.stderr).toContain(
      'ERROR: 42501 dbgate: approval required by rule "review-deletes", and this statement needs approval with its values',
    )
    expect(first.stderr).toContain(
      "HINT: Send it with the values written in the SQL as a simple query (e.g. psql), or run: dbgate request-approval prod-pg --sql '…' --reason '…', then once approved: dbgate exec prod-pg --approval ID --sql '…'.",
    )
    expect(first.stderr).toContain('session goes on: {"alive":1}')
    expect(await count('id = 40')).toBe(1)
    const listed = await requester(['approvals', 'list', '--json'])
    expect(listed.stdout).not.toContain('delete from items where id = $1')

    // As the hint says: the statement with its value is approved and run once.
    const sql = 'delete from items where id = 40'
    const asked = await requester(['request-approval', 'prod-pg', '--sql', sql, '--reason', 'r', '--json'])
    const id = (JSON.parse(asked.stdout) as {id: string}).id
    expect((await approver(['approvals', 'approve', id])).code).toBe(0)
    const ran = await requester(['exec', 'prod-pg', '--approval', id, '--sql', sql])
    expect(ran.code, ran.stderr).toBe(0)
    expect(await count('id = 40')).toBe(0)
  })

  it('hold mode: a named prepared statement waits with a NOTICE, runs once approved, and not a second time', async () => {
    const client = pgClient([
      '--name',
      'add_item',
      '--runs',
      '2',
      'insert into items values ($1, $2)',
      '41',
      'forty-one',
    ])
    const [, id] = await client.waitForStderr(
      /NOTICE: dbgate: approval required by rule "hold-inserts": waiting for request (apr_\S+)/,
    )
    expect(await count('id = 41')).toBe(0)
    expect((await approver(['approvals', 'approve', id!])).code).toBe(0)
    const r = await client.done
    expect(JSON.parse(r.stdout)).toMatchObject({command: 'INSERT', rowCount: 1})
    // The second run is only Bind and Execute of the prepared statement: the grant (one use) is spent.
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `ERROR: 42501 dbgate: this prepared statement ran as approved, and approval ${id} cannot be used again: the grant of approval ${id} is used up (1 use)`,
    )
    expect(r.stderr).toContain('session goes on: {"alive":1}')
    expect(await count('id = 41')).toBe(1)
  })

  it('a named statement whose grant has two uses runs twice in the session, then is refused', async () => {
    await adminQuery(
      `CREATE TABLE notes (id int); INSERT INTO notes VALUES (7); GRANT SELECT ON notes TO ${world.role}`,
      world.db.name,
    )
    const client = pgClient(['--name', 'read_note', '--runs', '3', 'select id from notes where id = $1', '7'])
    const [, id] = await client.waitForStderr(/waiting for request (apr_\S+)/)
    expect((await approver(['approvals', 'approve', id!])).code).toBe(0)
    const r = await client.done
    const results = r.stdout.trim().split('\n')
    expect(results.map((line) => JSON.parse(line) as unknown)).toEqual([
      {command: 'SELECT', rowCount: 1, rows: [{id: 7}]},
      {command: 'SELECT', rowCount: 1, rows: [{id: 7}]},
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `ERROR: 42501 dbgate: this prepared statement ran as approved, and approval ${id} cannot be used again: the grant of approval ${id} is used up (2 uses)`,
    )
    expect(r.stderr).toContain('session goes on: {"alive":1}')
    // One request only: the later runs spent the same approval.
    expect((r.stderr.match(/waiting for request/g) ?? []).length).toBe(1)
  })

  it('hold mode: a denial is an error naming the request and the comment', async () => {
    const client = pgClient(['insert into items values ($1, $2)', '42', 'forty-two'])
    const [, id] = await client.waitForStderr(/waiting for request (apr_\S+)/)
    expect((await approver(['approvals', 'deny', id!, '--comment', 'not today'])).code).toBe(0)
    const r = await client.done
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`ERROR: 42501 dbgate: request ${id} was denied by approver-px: not today`)
    expect(r.stderr).toContain('session goes on: {"alive":1}')
    expect(await count('id = 42')).toBe(0)
  })

  it('a cancel (Ctrl-C) ends the wait with 57014; the request stays pending and nothing runs', async () => {
    const client = pgClient([
      '--cancel-after-notice',
      'insert into items values ($1, $2)',
      '43',
      'forty-three',
    ])
    const [, id] = await client.waitForStderr(/waiting for request (apr_\S+)/)
    const r = await client.done
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('ERROR: 57014 canceling statement due to user request')
    expect(r.stderr).toContain('session goes on: {"alive":1}')
    expect(await status(id!)).toBe('pending')
    // Approving it later lets the statement run when it is sent again, never behind the client's back.
    expect((await approver(['approvals', 'approve', id!])).code).toBe(0)
    expect(await count('id = 43')).toBe(0)
  })
})

describe('Ctrl-C in psql', {timeout: 120_000}, () => {
  it('SIGINT to a psql waiting on a held statement cancels it with 57014; the request stays pending', async () => {
    const psql = spawnCli(
      ['connect', 'prod-pg', '--', 'psql', '-X', '-c', "insert into items values (44, 'forty-four')"],
      {...home.env, ...world.ciEnv},
    )
    const [, id] = await psql.waitForStderr(/waiting for request (apr_\S+)/)
    // The process the proxy named for the approvers is psql itself: Ctrl-C is a SIGINT to it.
    const shown = JSON.parse((await approver(['approvals', 'show', id!, '--json'])).stdout) as {
      process: string
    }
    const pid = Number(/^psql \(pid (\d+)\)/.exec(shown.process)?.[1])
    expect(pid).toBeGreaterThan(0)
    process.kill(pid, 'SIGINT')
    const r = await psql.done
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('ERROR:  canceling statement due to user request')
    expect(await status(id!)).toBe('pending')
    expect(await count('id = 44')).toBe(0)
  })
})

describe('expiry by the control plane timer', {timeout: 120_000}, () => {
  it('a request nobody reads expires at its deadline: expired event and an approval.expired notification', async () => {
    const before = tickets.accepted.length
    const r = await requester([
      'request-approval',
      'prod-pg',
      '--sql',
      "update items set name = 'late' where id = 2",
      '--reason',
      'short-lived',
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    const id = (JSON.parse(r.stdout) as {id: string}).id
    // Nobody lists, shows or decides it: only the timer can expire it.
    for (let i = 0; i < 400; i++) {
      if (tickets.accepted.slice(before).some((d) => (d.body as {type?: string}).type === 'approval.expired'))
        break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const expired = tickets.accepted
      .slice(before)
      .find((d) => (d.body as {type?: string}).type === 'approval.expired')
    expect(expired?.body).toMatchObject({type: 'approval.expired', approval: {id, status: 'expired'}})
    const shown = JSON.parse((await approver(['approvals', 'show', id, '--json'])).stdout) as {
      events: {type: string; detail: string | null}[]
    }
    expect(shown.events.map((e) => e.type)).toEqual(expect.arrayContaining(['requested', 'expired']))
    expect(shown.events).toContainEqual(
      expect.objectContaining({type: 'notified', detail: 'tickets, expired (attempt 1)'}),
    )
  })

  it('an approved grant nobody uses expires at the end of its window, visible in audit search', async () => {
    // The request waits as long as it takes the approver; the grant's window (2 s) starts at approval.
    const sql = "select name from items where name <> 'unusedgrant'"
    const r = await requester(['request-approval', 'prod-pg', '--sql', sql, '--reason', 'r', '--json'])
    const id = (JSON.parse(r.stdout) as {id: string}).id
    expect((await approver(['approvals', 'approve', id])).code).toBe(0)
    // audit search does not sweep expiry itself: the event is the timer's.
    let events: {event: {approval_id: string; approval_event: string; detail: string | null}}[] = []
    for (let i = 0; i < 400; i++) {
      const found = await as(adminEnv, ['audit', 'search', '--text', 'unusedgrant', '--json'])
      events = (JSON.parse(found.stdout) as {events: typeof events}).events
      if (events.some((e) => e.event.approval_event === 'expired')) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(events.map((e) => e.event)).toContainEqual(
      expect.objectContaining({
        approval_id: id,
        approval_event: 'expired',
        detail: 'the grant expired with 1 use(s) left',
      }),
    )
    const late = await requester(['exec', 'prod-pg', '--approval', id, '--sql', sql])
    expect(late.code).toBe(4)
    expect(late.stderr).toContain(`the grant of approval ${id} has expired`)
  })
})

describe('approval transitions in dbgate audit search', {timeout: 120_000}, () => {
  type Found = {events: {device_id: string; event: Record<string, unknown>}[]}
  const search = async (env: Record<string, string>, args: string[]): Promise<Found['events']> => {
    const r = await as(env, ['audit', 'search', ...args, '--json'])
    expect(r.code, r.stderr).toBe(0)
    return (JSON.parse(r.stdout) as Found).events
  }
  const transitions = (events: Found['events'], id: string): string[] =>
    events.filter((e) => e.event.approval_id === id).map((e) => String(e.event.approval_event))

  let mine: string
  let others: string

  beforeAll(async () => {
    const ask = async (env: Record<string, string>, sql: string): Promise<string> => {
      const r = await as(env, [
        'request-approval',
        'prod-pg',
        '--sql',
        sql,
        '--reason',
        'search me',
        '--json',
      ])
      expect(r.code, r.stderr).toBe(0)
      return (JSON.parse(r.stdout) as {id: string}).id
    }
    mine = await ask(world.ciEnv, 'delete from items where name = $$findme alpha$$')
    others = await ask(otherEnv, 'delete from items where name = $$findme beta$$')
    expect((await approver(['approvals', 'approve', mine, '--comment', 'looks fine'])).code).toBe(0)
    expect((await approver(['approvals', 'deny', others])).code).toBe(0)
  })

  it('an admin sees every transition with --decision review and --text, newest first', async () => {
    const events = await search(adminEnv, ['--decision', 'review', '--text', 'findme'])
    expect(transitions(events, mine)).toEqual(expect.arrayContaining(['approved', 'requested']))
    expect(transitions(events, others)).toEqual(expect.arrayContaining(['denied', 'requested']))
    const approved = events.find((e) => e.event.approval_id === mine && e.event.approval_event === 'approved')
    expect(approved).toMatchObject({
      device_id: 'control-plane:approvals',
      event: {
        type: 'approval',
        decision: 'review',
        identity: 'service:approver-px',
        requester: 'service:ci-e2e',
        target: 'prod-pg',
        rule: 'review-deletes',
        detail: 'looks fine',
        statement: 'delete from items where name = $$findme alpha$$',
      },
    })
    const times = events.map((e) => Date.parse(String(e.event.time)))
    expect(times).toEqual([...times].sort((a, b) => b - a))
    // The table a person reads names the transition.
    const table = await as(adminEnv, ['audit', 'search', '--text', 'findme'])
    expect(table.stdout).toMatch(/service:approver-px\tci\tprod-pg\treview: approved\t/)
  })

  it('filters apply: another decision, target, actor or a time window excludes them', async () => {
    expect(transitions(await search(adminEnv, ['--decision', 'deny', '--text', 'findme']), mine)).toEqual([])
    expect(transitions(await search(adminEnv, ['--target', 'finance-pg', '--text', 'findme']), mine)).toEqual(
      [],
    )
    expect(transitions(await search(adminEnv, ['--actor', 'human', '--text', 'findme']), mine)).toEqual([])
    expect(transitions(await search(adminEnv, ['--until', '1h', '--text', 'findme']), mine)).toEqual([])
    expect(
      transitions(await search(adminEnv, ['--user', 'service:ci-e2e', '--text', 'findme']), mine),
    ).toContain('approved')
  })

  it('role limits: a requester sees their own requests; an approver only their own votes', async () => {
    const own = await search(world.ciEnv, ['--decision', 'review', '--text', 'findme'])
    expect(transitions(own, mine)).toEqual(expect.arrayContaining(['approved', 'requested']))
    expect(transitions(own, others)).toEqual([])
    const votes = await search(approverEnv, ['--decision', 'review', '--text', 'findme'])
    expect(transitions(votes, mine)).toEqual(['approved'])
    expect(transitions(votes, others)).toEqual(['denied'])
  })
})
