/**
 * MySQL proxy cost, interleaved in one run: mysqlslap point selects at 8 connections, direct to
 * MariaDB, through a bare Node byte pipe (the floor for any Node proxy), through the guarded engine
 * with audit off (bench/_mysql-engine.ts) and through `dbgate connect` (audit on) with a policy of
 * several rules. Prints queries per second, the ratios vs direct and vs the pipe, and each proxy
 * process's CPU per query (utime + stime from /proc/PID/stat over the run: less noisy than q/s on a
 * shared machine). `DBGATE_BENCH_BASE=DIR` adds `base engine`, the engine of another checkout (a copy
 * with src/, bench/ and node_modules), for A/B work.
 * Run: `npm run bench -- mysql` or `npx tsx bench/mysql.ts [rounds] [queries] [paths,comma,separated]`.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {MYSQL_BENCH_POLICY} from './_mysql-engine.js'
import {nodePipe, waitForPort} from './_paths.js'

const DB = `dbg_bench_mysql_${Date.now().toString(36)}`
const work = mkdtempSync(join(tmpdir(), 'dbgate-bench-mysql-'))
const ROWS = 10_000

interface Path {
  readonly name: string
  readonly port: number
  /** The proxy's process, whose CPU time is measured. */
  readonly pid?: number | undefined
  stop(): void
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function sql(text: string, db?: string): void {
  execFileSync('mysql', ['-h127.0.0.1', '-P3306', '-uroot', ...(db === undefined ? [] : [db]), '-e', text])
}

async function nodePipePath(): Promise<Path> {
  const pipe = await nodePipe(3306)
  return {name: 'node pipe', port: pipe.port, pid: pipe.pid, stop: pipe.stop}
}

async function dbgate(): Promise<Path> {
  const policy = join(work, 'policy.yaml')
  writeFileSync(policy, JSON.stringify(MYSQL_BENCH_POLICY)) // JSON is YAML
  const child = spawn(
    'node',
    [
      'bin/run.js',
      'connect',
      '--url',
      `mysql://root@127.0.0.1:3306/${DB}?ssl-mode=disabled`,
      '--policy',
      policy,
    ],
    {env: {...process.env, DBGATE_STATE_DIR: join(work, 'state')}},
  )
  const port = await waitForPort(child, /-P (\d+)/)
  return {name: 'dbgate', port, pid: child.pid, stop: () => child.kill('SIGINT')}
}

/** The guarded engine with audit off, from this checkout or another (`dir`). */
async function engine(name: string, dir: string): Promise<Path> {
  const child = spawn('node', ['--import', 'tsx', join(dir, 'bench/_mysql-engine.ts'), 'off', DB])
  const port = await waitForPort(child, /port=(\d+)/)
  return {name, port, pid: child.pid, stop: () => child.kill('SIGINT')}
}

/** Queries per second of mysqlslap's point selects at 8 connections (`iterations` times over). */
function mysqlslap(port: number, queries: number, file: string, iterations = 1): number {
  const r = spawnSync(
    'mysqlslap',
    [
      '-h127.0.0.1',
      `-P${port}`,
      '-uroot',
      `--create-schema=${DB}`,
      '--no-drop',
      '--concurrency=8',
      `--iterations=${iterations}`,
      `--number-of-queries=${queries}`,
      `--query=${file}`,
      '--delimiter=;',
    ],
    {encoding: 'utf8'},
  )
  const m = /Average number of seconds to run all queries: ([\d.]+) seconds/.exec(r.stdout)
  if (!m) throw new Error(`mysqlslap failed on port ${port}: ${r.stdout}${r.stderr}`)
  return queries / Number(m[1])
}

const PATHS = ['direct', 'node pipe', 'engine', 'dbgate'] as const

async function startPath(name: string): Promise<Path> {
  switch (name) {
    case 'direct':
      return {name, port: 3306, stop: () => undefined}
    case 'node pipe':
      return nodePipePath()
    case 'engine':
      return engine('engine', '.')
    case 'dbgate':
      return dbgate()
    case 'base engine': {
      const base = process.env.DBGATE_BENCH_BASE
      if (base === undefined) throw new Error('base engine needs DBGATE_BENCH_BASE')
      return engine(name, base)
    }
    default:
      throw new Error(`unknown path ${name}; known: ${PATHS.join(', ')}, base engine`)
  }
}

const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

/** Runs the benchmark and prints its table. */
export default async function main(
  rounds = 3,
  queries = 32_000,
  names: readonly string[] = [
    ...PATHS,
    ...(process.env.DBGATE_BENCH_BASE === undefined ? [] : ['base engine']),
  ],
): Promise<void> {
  sql(`CREATE DATABASE ${DB}`)
  sql(
    `CREATE TABLE t (id INT PRIMARY KEY, k INT, c CHAR(60)); INSERT INTO t SELECT seq, seq * 7, MD5(seq) FROM seq_1_to_${ROWS}`,
    DB,
  )
  const file = join(work, 'queries.sql')
  const ids = Array.from({length: 2000}, (_, i) => ((i * 7919) % ROWS) + 1)
  writeFileSync(file, ids.map((id) => `SELECT c FROM t WHERE id = ${id}`).join(';'))
  const paths: Path[] = []
  const qpsOf = new Map<string, number[]>()
  const cpuOf = new Map<string, number[]>()
  const setupOf = new Map<string, number>()
  try {
    for (const name of names) paths.push(await startPath(name))
    for (let round = 1; round <= rounds; round++)
      for (const path of paths) {
        const before = path.pid === undefined ? 0 : cpuSeconds(path.pid)
        const qps = mysqlslap(path.port, queries, file)
        const us = path.pid === undefined ? NaN : ((cpuSeconds(path.pid) - before) * 1e6) / queries
        qpsOf.set(path.name, [...(qpsOf.get(path.name) ?? []), qps])
        cpuOf.set(path.name, [...(cpuOf.get(path.name) ?? []), us])
        console.log(
          `round ${round} ${path.name.padEnd(11)} ${qps.toFixed(0).padStart(6)} queries/s` +
            (Number.isNaN(us) ? '' : ` ${us.toFixed(1).padStart(6)} µs CPU/query`),
        )
      }
    // What a session's setup costs the proxy: mysqlslap connecting 8 clients, one query each, 5 times.
    for (const path of paths) {
      if (path.pid === undefined) continue
      const before = cpuSeconds(path.pid)
      mysqlslap(path.port, 8, file, 5)
      setupOf.set(path.name, ((cpuSeconds(path.pid) - before) * 1e3) / 40)
    }
  } finally {
    for (const p of paths) p.stop()
    await new Promise((r) => setTimeout(r, 500))
    sql(`DROP DATABASE IF EXISTS ${DB}`)
  }
  const d = median(qpsOf.get('direct') ?? [])
  const pipe = median(qpsOf.get('node pipe') ?? [])
  const ratio = (x: number, base: number): string => (base > 0 ? (x / base).toFixed(2) : '-')
  console.log('\npath         median q/s   vs direct   vs node pipe   µs CPU/query   ms CPU/connection')
  for (const path of paths) {
    const qps = median(qpsOf.get(path.name) ?? [])
    const us = median(cpuOf.get(path.name) ?? [])
    const setup = setupOf.get(path.name)
    console.log(
      `${path.name.padEnd(11)} ${qps.toFixed(0).padStart(11)} ${ratio(qps, d).padStart(11)} ${ratio(qps, pipe).padStart(14)} ${Number.isNaN(us) ? ''.padStart(14) : us.toFixed(1).padStart(14)} ${setup === undefined ? '' : setup.toFixed(2).padStart(19)}`,
    )
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [rounds, queries, names] = process.argv.slice(2)
  await main(Number(rounds ?? 3), Number(queries ?? 32_000), names?.split(','))
}
