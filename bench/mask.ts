/**
 * Masking cost on a large result: 2M rows of (id, md5 text, email) read with one simple query,
 * interleaved over rounds, through: direct, a bare Node byte pipe, `dbgate connect` (compiled, from
 * dist/, in its own process) with no masking rule, and the same with the email column masked
 * (partial). Prints median wall time per path and its ratio to direct, each process's CPU time per
 * row (the steadier figure on a loaded machine) and peak RSS (VmHWM). The client only frames and
 * counts the rows, reading as fast as it can.
 * Run: `npm run bench -- mask` or `npm run build && npx tsx bench/mask.ts [rounds] [rows]`.
 */
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {Framer} from '../src/proxy/postgres/framing.js'
import {query, startupMessage} from '../src/proxy/postgres/wire.js'
import {nodePipe, waitForPort} from './_paths.js'

const DB = `dbgate_bench_mask_${Date.now().toString(36)}`
const work = mkdtempSync(join(tmpdir(), 'dbgate-bench-mask-'))

interface Path {
  readonly name: string
  readonly port: number
  readonly pid: number | undefined
  stop(): void
}

function psql(sql: string, db = 'postgres'): void {
  execFileSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', sql])
}

/** `dbgate connect` from bin/run.js (dist/), with the email column masked or no masking rule. */
async function dbgate(name: string, masked: boolean): Promise<Path> {
  const policy = join(work, `${masked ? 'masked' : 'plain'}.yaml`)
  writeFileSync(
    policy,
    `version: 1\ndefaults: {action: allow, unparseable: deny}\nrules: []\n` +
      (masked ? `masking:\n  - {name: email, columns: ["public.*.email"], style: partial}\n` : ''),
  )
  const child = spawn(
    'node',
    [
      'bin/run.js',
      'connect',
      '--url',
      `postgres://postgres@127.0.0.1:5432/${DB}?sslmode=disable`,
      '--policy',
      policy,
    ],
    {env: {...process.env, DBGATE_STATE_DIR: join(work, `state-${masked ? 'masked' : 'plain'}`)}},
  )
  const port = await waitForPort(child, /port=(\d+)/)
  return {name, port, pid: child.pid, stop: () => child.kill('SIGINT')}
}

/** Connects, runs the query, counts DataRows until ReadyForQuery; returns seconds and rows. */
async function run(port: number, sql: string): Promise<{seconds: number; rows: number; masked: boolean}> {
  const socket = connect({host: '127.0.0.1', port})
  socket.setNoDelay(true)
  let rows = 0
  let ready = 0
  let masked = false
  let started = 0
  return new Promise((resolve, reject) => {
    const framer = new Framer({maxMessageBytes: 1 << 30}, (type, frame) => {
      if (type === 0x44) {
        if (rows++ === 0) masked = frame.includes('***')
      } else if (type === 0x45) reject(new Error(frame.toString('utf8', 5)))
      else if (type === 0x5a && ++ready === 1) {
        started = performance.now()
        socket.write(query(sql))
      } else if (type === 0x5a) {
        const seconds = (performance.now() - started) / 1000
        socket.end()
        resolve({seconds, rows, masked})
      }
    })
    socket.on('data', (c: Buffer) => framer.push(c))
    socket.on('error', reject)
    socket.on('connect', () =>
      socket.write(
        startupMessage(
          new Map([
            ['user', 'postgres'],
            ['database', DB],
          ]),
        ),
      ),
    )
  })
}

/** Clock ticks (10 ms) of user + system CPU a process has used. */
function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return 0
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return Number(fields[11]) + Number(fields[12])
}

function peakRss(pid: number | undefined): string {
  if (pid === undefined) return '-'
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? `${Math.round(Number(m[1]) / 1024)} MB` : '-'
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

/** Runs the benchmark and prints its table. */
export default async function main(rounds = 3, rows = 2_000_000): Promise<void> {
  psql(`create database ${DB}`)
  const paths: Path[] = []
  try {
    psql(
      `create table t(id int, h text, email text); insert into t select i, md5(i::text), 'user' || i || '@example.com' from generate_series(1, ${rows}) i; analyze t`,
      DB,
    )
    paths.push(
      {name: 'direct', port: 5432, pid: undefined, stop: () => undefined},
      {name: 'node pipe', ...(await nodePipe(5432))},
      await dbgate('proxy, no masking', false),
      await dbgate('proxy, email masked', true),
    )
    const times = new Map<string, number[]>(paths.map((p) => [p.name, []]))
    const cpu = new Map<string, number[]>(paths.map((p) => [p.name, []]))
    for (let round = 0; round < rounds; round++)
      for (const p of paths) {
        const before = cpuTicks(p.pid)
        const r = await run(p.port, 'select id, h, email from t')
        const ticks = cpuTicks(p.pid) - before
        if (r.rows !== rows) throw new Error(`${p.name}: ${r.rows} rows`)
        if (r.masked !== (p.name === 'proxy, email masked')) throw new Error(`${p.name}: masking is wrong`)
        times.get(p.name)?.push(r.seconds)
        cpu.get(p.name)?.push((ticks * 10_000) / rows)
      }
    const direct = median(times.get('direct') ?? [])
    console.log(`${rows} rows of (id, md5 text, email), ${rounds} interleaved rounds, medians`)
    console.log('path                  seconds  vs direct  CPU µs/row  peak RSS')
    for (const p of paths) {
      const s = median(times.get(p.name) ?? [])
      const us = p.pid === undefined ? '-' : median(cpu.get(p.name) ?? []).toFixed(3)
      console.log(
        `${p.name.padEnd(21)} ${s.toFixed(2).padStart(7)}  ${(s / direct).toFixed(2).padStart(8)}x  ${us.padStart(10)}  ${peakRss(p.pid)}`,
      )
    }
  } finally {
    for (const p of paths) p.stop()
    await new Promise((r) => setTimeout(r, 500))
    psql(`drop database if exists ${DB} with (force)`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [rounds, rows] = process.argv.slice(2).map(Number)
  await main(rounds || undefined, rows || undefined)
}
