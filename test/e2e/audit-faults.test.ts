/**
 * Fault tests of the trail through the real CLI and control plane: `dbgate connect TARGET` killed with
 * SIGKILL in the middle of a burst of queries (uploads running), and the control plane stopped and
 * restarted under a running session. Afterwards every statement whose result a client saw is stored
 * exactly once.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  cliHome,
  restartDevServer,
  runCli,
  spawnCli,
  type DevServer,
  type RunningCli,
} from '../support/login-e2e.js'
import {setUpTargetWorld, type TargetWorld} from './exec-target-support.js'

let world: TargetWorld
let restarted: DevServer | undefined
const home = cliHome()
const state = mkdtempSync(join(tmpdir(), 'dbgate-audit-faults-'))
const pgModule = pathToFileURL(createRequire(import.meta.url).resolve('pg')).href

beforeAll(async () => {
  world = await setUpTargetWorld()
}, 120_000)
afterAll(async () => {
  await restarted?.halt()
  await world?.teardown()
  home.remove()
  rmSync(state, {recursive: true, force: true})
})

const env = (extra: Record<string, string> = {}) => ({
  ...home.env,
  ...world.ciEnv,
  ...(restarted === undefined ? {} : {DBGATE_API: restarted.url}),
  DBGATE_STATE_DIR: state,
  ...extra,
})

/** A client that runs `select 'burst-RUN-I-end'` until STOP exists, printing `ack I` after each result. */
const BURST = `import pg from '${pgModule}'
import {existsSync} from 'node:fs'
const c = new pg.Client()
await c.connect()
for (let i = 0; !existsSync(process.env.BURST_STOP); i++) {
  await c.query("select 'burst-" + process.env.BURST_RUN + "-" + i + "-end'")
  process.stdout.write('ack ' + i + '\\n')
  await new Promise((r) => setTimeout(r, 3))
}
await c.end()`

interface Burst {
  readonly cli: RunningCli
  readonly run: string
  readonly stop: string
  /** Resolves once `n` results were acknowledged to the client. */
  acked(n: number): Promise<void>
  count(): number
}

function burst(): Burst {
  const run = `r${randomBytes(4).toString('hex')}`
  const stop = join(state, `stop-${run}`)
  const cli = spawnCli(
    ['connect', 'prod-pg', '--', process.execPath, '--input-type=module', '-e', BURST],
    env({BURST_RUN: run, BURST_STOP: stop}),
  )
  let acks = 0
  const waiters: {n: number; resolve: () => void}[] = []
  cli.child.stdout?.on('data', (d: Buffer) => {
    acks += (d.toString().match(/^ack \d+$/gm) ?? []).length
    for (const w of waiters.splice(0))
      if (acks >= w.n) w.resolve()
      else waiters.push(w)
  })
  return {
    cli,
    run,
    stop,
    count: () => acks,
    acked: (n) =>
      new Promise((resolve, reject) => {
        if (acks >= n) return resolve()
        waiters.push({n, resolve})
        void cli.done.then((r) => reject(new Error(`the burst ended early:\n${r.stderr}`)))
      }),
  }
}

/** The acknowledged indexes printed by a burst. */
function ackedIndexes(stdout: string): number[] {
  return [...stdout.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]))
}

/** How many stored events carry each burst index of `run` (the CI identity sees its own events). */
async function storedCounts(run: string): Promise<Map<number, number>> {
  const r = await runCli(['audit', 'search', '--text', run, '--limit', '5000', '--json'], env())
  expect(r.code, r.stderr).toBe(0)
  const found = JSON.parse(r.stdout) as {
    events: {event: {statement: string | null; actor: string; process: {found: boolean; exe?: string}}}[]
  }
  const counts = new Map<number, number>()
  for (const e of found.events) {
    // Uploaded as the token's identity (the control plane checks it is the caller's sub), with the process.
    expect(e.event.actor).toBe('ci')
    expect(e.event.process.exe).toBe(process.execPath)
    const m = new RegExp(`burst-${run}-(\\d+)-end`).exec(e.event.statement ?? '')
    if (m) counts.set(Number(m[1]), (counts.get(Number(m[1])) ?? 0) + 1)
  }
  return counts
}

function expectEachOnce(acked: readonly number[], counts: Map<number, number>): void {
  expect(acked.length).toBeGreaterThan(0)
  const missing = acked.filter((i) => counts.get(i) !== 1)
  expect(missing, `acknowledged but not stored exactly once: ${missing.join(',')}`).toEqual([])
  expect([...counts.values()].every((n) => n === 1)).toBe(true)
}

describe('the audit trail under faults', {timeout: 180_000}, () => {
  it('SIGKILL of dbgate connect during a burst (uploads running): the next run uploads what was left', async () => {
    const b = burst()
    await b.acked(150)
    b.cli.child.kill('SIGKILL')
    const out = await b.cli.done
    const acked = ackedIndexes(out.stdout)
    // The next dbgate run on this machine takes over the killed process's spool lane and uploads it.
    const next = await runCli(['exec', 'prod-pg', '--sql', 'select 1'], env())
    expect(next.code, next.stderr).toBe(0)
    expectEachOnce(acked, await storedCounts(b.run))
  })

  it('the control plane stopped and restarted under a running session: nothing lost, nothing twice', async () => {
    const b = burst()
    await b.acked(20)
    await world.server.halt()
    // The proxy keeps working and spooling while the control plane is away.
    await b.acked(b.count() + 40)
    restarted = await restartDevServer(world.server)
    await b.acked(b.count() + 20)
    writeFileSync(b.stop, '')
    const out = await b.cli.done
    expect(out.code, out.stderr).toBe(0)
    expectEachOnce(ackedIndexes(out.stdout), await storedCounts(b.run))
    // The user heard once that uploads failed (not once per retry) and once that they work again; the
    // lines name no token and no statement.
    const failed = out.stderr.match(/^dbgate: audit upload failed: .*$/gm) ?? []
    expect(failed, out.stderr).toHaveLength(1)
    // An upload in flight while the server halts meets its 503 instead of a refused connection.
    expect(failed[0]).toMatch(
      /cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED|refused \(Service Unavailable\)/,
    )
    expect(failed[0]).toContain('The events stay in the local spool and are retried in the background')
    const recovered = out.stderr.match(/^dbgate: audit uploads to the control plane work again/gm) ?? []
    expect(recovered, out.stderr).toHaveLength(1)
    expect(out.stderr.indexOf(recovered[0] as string)).toBeGreaterThan(
      out.stderr.indexOf(failed[0] as string),
    )
    expect(out.stderr).not.toContain(world.ciEnv.DBGATE_TOKEN as string)
    expect(out.stderr).not.toContain(`burst-${b.run}`)
  })

  it('uploads that work print no audit status line', async () => {
    const r = await runCli(['exec', 'prod-pg', '--sql', "select 'quiet-upload'"], env())
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).not.toMatch(/audit upload/)
  })
})
