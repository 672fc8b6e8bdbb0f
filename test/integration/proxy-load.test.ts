/**
 * Load through `dbgate connect` as a separate process: a 2-million-row result streams to a slow reader
 * with the proxy's memory bounded (backpressure), and pgbench runs through the proxy.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {readFileSync, mkdtempSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startupMessage, query} from '../../src/proxy/postgres/wire.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const dir = mkdtempSync(join(tmpdir(), 'dbgate-load-'))
const policyFile = join(dir, 'policy.yaml')
writeFileSync(
  policyFile,
  'version: 1\ndefaults: {action: allow, unparseable: deny}\nrules:\n  - {name: no-grant, when: {kinds: [grant, revoke]}, action: deny}\n',
)
let db: ScratchDb
let proxy: ChildProcess
let port = 0

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0)
}

beforeAll(async () => {
  db = await createScratchDb('dbgate_load')
  proxy = spawn('node', ['bin/run.js', 'connect', '--url', db.url, '--policy', policyFile], {
    env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state')},
  })
  let stderr = ''
  proxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  for (let i = 0; i < 300 && !/port=(\d+)/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100))
  port = Number(/port=(\d+)/.exec(stderr)?.[1])
  expect(port).toBeGreaterThan(0)
}, 60_000)
afterAll(async () => {
  proxy?.kill('SIGINT')
  await new Promise((r) => proxy?.once('close', r))
  await db?.drop()
})

describe('under load', () => {
  it('streams 2 million rows to a slow reader with the proxy memory bounded', async () => {
    const pid = proxy.pid!
    const socket = connect({host: '127.0.0.1', port})
    await new Promise((r) => socket.once('connect', r))
    let phase: 'startup' | 'rows' = 'startup'
    let received = 0
    let sinceStall = 0
    let peak = 0
    let baseline = 0
    const done = new Promise<void>((resolve, reject) => {
      socket.on('error', reject)
      socket.on('data', (chunk: Buffer) => {
        if (phase === 'startup') {
          if (chunk.at(-6) === 0x5a) {
            phase = 'rows'
            baseline = rssKb(pid)
            socket.write(query('select g, md5(g::text) from generate_series(1, 2000000) g'))
          }
          return
        }
        received += chunk.length
        sinceStall += chunk.length
        // The last message is ReadyForQuery ('Z', length 5, status 'I').
        if (chunk.length >= 6 && chunk.at(-6) === 0x5a && chunk.at(-1) === 0x49) resolve()
        if (sinceStall > 4 * 1024 * 1024) {
          sinceStall = 0
          peak = Math.max(peak, rssKb(pid))
          socket.pause()
          setTimeout(() => socket.resume(), 30)
        }
      })
    })
    socket.write(
      startupMessage(
        new Map([
          ['user', 'postgres'],
          ['database', db.name],
        ]),
      ),
    )
    await done
    socket.end()
    expect(received).toBeGreaterThan(2_000_000 * 40)
    expect(baseline).toBeGreaterThan(0)
    // A bound, not a timing: without backpressure the proxy would buffer >100 MB of rows.
    expect(peak - baseline).toBeLessThan(100 * 1024)
  }, 180_000)

  it('runs pgbench -i and pgbench -S through the proxy', async () => {
    const env = {
      ...process.env,
      PGHOST: '127.0.0.1',
      PGPORT: String(port),
      PGUSER: 'postgres',
      PGDATABASE: db.name,
    }
    const run = (args: string[]): Promise<{code: number | null; out: string}> =>
      new Promise((resolve) => {
        const c = spawn('pgbench', args, {env})
        let out = ''
        c.stdout.on('data', (d: Buffer) => (out += d.toString()))
        c.stderr.on('data', (d: Buffer) => (out += d.toString()))
        c.on('close', (code) => resolve({code, out}))
      })
    const init = await run(['-i', '-s', '1', '-q'])
    expect(init.code, init.out).toBe(0)
    const bench = await run(['-S', '-t', '200', '-c', '4'])
    expect(bench.code, bench.out).toBe(0)
    expect(bench.out).toContain('number of transactions actually processed: 800/800')
    const prepared = await run(['-S', '-t', '100', '-c', '2', '-M', 'prepared'])
    expect(prepared.code, prepared.out).toBe(0)
  }, 180_000)
})
