/**
 * Masking cost on a large result: 2M rows of (id, md5 text, email) read with one simple query,
 * interleaved over rounds, through: direct, a bare Node byte pipe, the proxy with no masking rule,
 * and the proxy with the email column masked (partial). Prints wall time per path, ratios against
 * direct, and each proxy process's peak RSS (VmHWM). The client only frames and counts the rows.
 * Run: `npm run bench -- mask` or `npx tsx bench/mask.ts [rounds] [rows]`.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {connect} from 'node:net'
import {pathToFileURL} from 'node:url'

import {Framer} from '../src/proxy/postgres/framing.js'
import {query, startupMessage} from '../src/proxy/postgres/wire.js'

const DB = `dbgate_bench_mask_${Date.now().toString(36)}`
const URL = `postgres://postgres@127.0.0.1:5432/${DB}?sslmode=disable`

interface Path {
  readonly name: string
  readonly port: number
  readonly pid: number | undefined
  stop(): void
}

function psql(sql: string, db = 'postgres'): void {
  execFileSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', sql])
}

async function spawnPath(name: string, args: string[]): Promise<Path> {
  const child: ChildProcess = spawn('node', args, {stdio: ['ignore', 'pipe', 'pipe']})
  let text = ''
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()))
  for (let i = 0; i < 600; i++) {
    const m = /port=(\d+)/.exec(text)
    if (m) return {name, port: Number(m[1]), pid: child.pid, stop: () => child.kill()}
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill()
  throw new Error(`${name} did not start: ${text}`)
}

const PIPE = `
const net = require('net')
const s = net.createServer({noDelay: true}, (c) => {
  const u = net.connect({host: '127.0.0.1', port: 5432})
  c.setNoDelay(true); u.setNoDelay(true)
  c.pipe(u); u.pipe(c)
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy())
})
s.listen(0, '127.0.0.1', () => console.log('port=' + s.address().port))
`

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

function peakRss(pid: number | undefined): string {
  if (pid === undefined) return '-'
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? `${Math.round(Number(m[1]) / 1024)} MB` : '-'
}

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
      await spawnPath('node pipe', ['-e', PIPE]),
      await spawnPath('proxy, no masking', ['--import', 'tsx', 'bench/_mask-proxy.ts', URL, 'plain']),
      await spawnPath('proxy, email masked', ['--import', 'tsx', 'bench/_mask-proxy.ts', URL, 'masked']),
    )
    const times = new Map<string, number[]>(paths.map((p) => [p.name, []]))
    for (let round = 0; round < rounds; round++)
      for (const p of paths) {
        const r = await run(p.port, 'select id, h, email from t')
        if (r.rows !== rows) throw new Error(`${p.name}: ${r.rows} rows`)
        if (r.masked !== (p.name === 'proxy, email masked')) throw new Error(`${p.name}: masking is wrong`)
        times.get(p.name)?.push(r.seconds)
      }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
    const direct = median(times.get('direct') ?? [])
    console.log(`${rows} rows of (id, md5 text, email), ${rounds} interleaved rounds, median wall time`)
    console.log('path                  seconds  vs direct  peak RSS')
    for (const p of paths) {
      const s = median(times.get(p.name) ?? [])
      console.log(
        `${p.name.padEnd(21)} ${s.toFixed(2).padStart(7)}  ${(s / direct).toFixed(2).padStart(8)}x  ${peakRss(p.pid)}`,
      )
    }
  } finally {
    for (const p of paths) p.stop()
    psql(`drop database if exists ${DB} with (force)`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [rounds, rows] = process.argv.slice(2).map(Number)
  await main(rounds || undefined, rows || undefined)
}
