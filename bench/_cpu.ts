/**
 * Proxy CPU per transaction, in this process: pgbench -S -c 8 -j 2 (simple or prepared) through an
 * in-process bare Node pipe and the guarded engine with audit off / written / synced, interleaved;
 * prints process.cpuUsage() µs per transaction and TPS for each. For A/B work on the hot path and for
 * profiling (`node --cpu-prof --import tsx bench/_cpu.ts written 1 10`). Paths `hold` and `text` split
 * the audit's cost (bench/_engine.ts): `npx tsx bench/_cpu.ts pipe,off,hold,text,written 3 8`.
 * Run: `npx tsx bench/_cpu.ts [paths,comma,separated] [rounds] [seconds] [simple|prepared]`.
 */
import {execFileSync, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {Session} from 'node:inspector/promises'
import {Socket, createServer, connect, type Server} from 'node:net'

import {startBenchEngine, type AuditMode} from './_engine.js'

const DB = `dbgate_bench_cpu_${Date.now().toString(36)}`

function psql(sql: string): void {
  execFileSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', sql])
}

/** pgbench in a child process; resolves with its TPS and transaction count. */
function pgbench(port: number, args: string[]): Promise<{tps: number; tx: number}> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-n',
      ...args,
      DB,
    ])
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('close', () => {
      const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out)
      const n = /number of transactions actually processed: (\d+)/.exec(out)
      if (m && n) resolve({tps: Number(m[1]), tx: Number(n[1])})
      else reject(new Error(`pgbench failed: ${out}`))
    })
  })
}

/** A bare byte pipe in this process. */
function pipe(): Promise<{port: number; close: () => Promise<void>}> {
  const server: Server = createServer({noDelay: true}, (c) => {
    const u = connect({host: '127.0.0.1', port: 5432})
    c.setNoDelay(true)
    u.setNoDelay(true)
    c.pipe(u)
    u.pipe(c)
    c.on('error', () => u.destroy())
    u.on('error', () => c.destroy())
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as {port: number}).port,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  )
}

/** Socket writes per transaction (DBGATE_BENCH_COUNT=1): each costs a syscall and a wakeup. */
let socketWrites = 0
if (process.env.DBGATE_BENCH_COUNT === '1') {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with apply on the socket
  const write = Socket.prototype.write
  Socket.prototype.write = function (this: Socket, ...a: Parameters<Socket['write']>) {
    socketWrites++
    return write.apply(this, a)
  } as Socket['write']
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

const [pathsArg, roundsArg, secondsArg, modeArg] = process.argv.slice(2)
const names = (pathsArg ?? 'pipe,off,written').split(',')
const rounds = Number(roundsArg ?? 3)
const seconds = Number(secondsArg ?? 8)
const args = [
  '-S',
  '-c',
  '8',
  '-j',
  '2',
  '-T',
  String(seconds),
  ...(modeArg === 'prepared' ? ['-M', 'prepared'] : []),
]

psql(`create database ${DB}`)
execFileSync('pgbench', ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-U', 'postgres', DB], {stdio: 'ignore'})
const paths: {name: string; port: number; close: () => Promise<void>}[] = []
/** `base-MODE`: the engine of another checkout (DBGATE_BENCH_BASE, a copy of src/ and bench/), for A/B. */
async function start(name: string): Promise<{port: number; close: () => Promise<void>}> {
  if (name === 'pipe') return pipe()
  if (!name.startsWith('base-')) return startBenchEngine(name as AuditMode, DB)
  const base = process.env.DBGATE_BENCH_BASE
  if (base === undefined) throw new Error(`${name} needs DBGATE_BENCH_BASE`)
  const mod = (await import(`${base}/bench/_engine.ts`)) as {startBenchEngine: typeof startBenchEngine}
  return mod.startBenchEngine(name.slice(5) as AuditMode, DB)
}
for (const name of names) paths.push({name, ...(await start(name))})
const cpu = new Map<string, number[]>()
const tps = new Map<string, number[]>()
try {
  for (let r = 0; r < rounds; r++)
    for (const p of paths) {
      // DBGATE_BENCH_PROFILE=DIR: a V8 CPU profile of each run, the run only (no setup).
      const profileDir = process.env.DBGATE_BENCH_PROFILE
      const session = profileDir === undefined ? undefined : new Session()
      if (session !== undefined) {
        session.connect()
        await session.post('Profiler.enable')
        await session.post('Profiler.setSamplingInterval', {interval: 200})
        await session.post('Profiler.start')
      }
      const writesBefore = socketWrites
      const before = process.cpuUsage()
      const res = await pgbench(p.port, args)
      const used = process.cpuUsage(before)
      if (session !== undefined) {
        const {profile} = await session.post('Profiler.stop')
        writeFileSync(`${profileDir}/${p.name}-${r + 1}.cpuprofile`, JSON.stringify(profile))
        session.disconnect()
      }
      const us = (used.user + used.system) / res.tx
      cpu.set(p.name, [...(cpu.get(p.name) ?? []), us])
      tps.set(p.name, [...(tps.get(p.name) ?? []), res.tps])
      const writes = ((socketWrites - writesBefore) / res.tx).toFixed(2)
      console.log(
        `round ${r + 1} ${p.name.padEnd(8)} ${res.tps.toFixed(0)} tps ${us.toFixed(1)} µs/tx ${writes} writes/tx ${res.tx} tx`,
      )
    }
} finally {
  for (const p of paths) await p.close()
  psql(`drop database if exists ${DB} with (force)`)
}
const pipeTps = median(tps.get('pipe') ?? [])
const offTps = median(tps.get('off') ?? [])
for (const p of paths)
  console.log(
    `${p.name.padEnd(8)} median ${median(tps.get(p.name) ?? []).toFixed(0)} tps` +
      (pipeTps > 0 ? ` (${(median(tps.get(p.name) ?? []) / pipeTps).toFixed(2)}x pipe)` : '') +
      (offTps > 0 ? ` (${(median(tps.get(p.name) ?? []) / offTps).toFixed(2)}x audit off)` : '') +
      ` cpu ${median(cpu.get(p.name) ?? []).toFixed(1)} µs/tx (min ${Math.min(...(cpu.get(p.name) ?? [])).toFixed(1)})`,
  )
