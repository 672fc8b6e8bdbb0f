/**
 * Proxy cost, interleaved in one run: pgbench -S (simple and prepared, 8 clients) and -c 1 latency,
 * direct, through a bare Node byte pipe (the floor for any Node proxy), through pgbouncer if
 * installed, and through `dbgate connect` with a policy of several rules: audit `written` (the
 * default), audit `synced` (DBGATE_AUDIT_DURABILITY=synced), and the same engine with audit off (a
 * child serving the engine with a null sink, bench/_engine.ts: the CLI has no way to turn audit off).
 * Prints TPS, ratios vs direct, vs the Node pipe and vs audit off, and the proxy process's CPU time per
 * transaction, also as a ratio to the pipe's (the steadier figure when other work shares the cores):
 * in the steady state (between pgbench's first and last progress reports, so the relay alone) and over
 * the whole run (with each connection's setup: dbgate looks up the client's process and logs in upstream).
 * Run: `npm run bench -- pg-proxy` or `npx tsx bench/pg-proxy.ts [rounds] [seconds]`.
 * DBGATE_BENCH_BASELINE=/path/to/other/checkout/bin/run.js adds that build as a path ("dbgate base"),
 * so a change is measured against the code before it in the same interleaved run.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {nodePipe, waitForPort} from './_paths.js'

const PG = {host: '127.0.0.1', port: 5432, user: 'postgres'}
const DB = `dbgate_bench_${Date.now().toString(36)}`
const work = mkdtempSync(join(tmpdir(), 'dbgate-bench-'))

interface Path {
  readonly name: string
  readonly port: number
  readonly pid: number | undefined
  stop(): void
}

function psql(sql: string, db = 'postgres'): void {
  execFileSync('psql', ['-X', '-q', '-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', db, '-c', sql])
}

function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return 0
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

async function nodePipePath(): Promise<Path> {
  const pipe = await nodePipe(5432)
  return {name: 'node pipe', ...pipe}
}

async function dbgate(name = 'dbgate', bin = 'bin/run.js', env: Record<string, string> = {}): Promise<Path> {
  const policy = join(work, 'policy.yaml')
  writeFileSync(
    policy,
    `version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: no-ddl, when: {kinds: [create, alter, drop, truncate]}, action: deny}
  - {name: unbounded-writes, when: {kinds: [update, delete], where: absent}, action: deny}
  - {name: file-functions, when: {functions: ["pg_read_file", "lo_*", "dblink*"]}, action: deny}
  - {name: secrets, when: {tables: ["*.secrets"]}, action: review}
`,
  )
  const child = spawn(
    'node',
    [bin, 'connect', '--url', `postgres://postgres@127.0.0.1:5432/${DB}?sslmode=disable`, '--policy', policy],
    {
      env: {...process.env, ...env, DBGATE_STATE_DIR: join(work, `state-${name.replace(/\W/g, '')}`)},
    },
  )
  const port = await waitForPort(child, /port=(\d+)/)
  return {name, port, pid: child.pid, stop: () => child.kill('SIGINT')}
}

/** The engine with audit off, in a child process (tsx, from src/). */
async function auditOff(): Promise<Path> {
  const child = spawn(process.execPath, [
    '--import',
    'tsx',
    join(import.meta.dirname, '_engine.ts'),
    'off',
    DB,
  ])
  const port = await waitForPort(child, /port=(\d+)/)
  return {name: 'dbgate off', port, pid: child.pid, stop: () => child.kill('SIGINT')}
}

async function pgbouncer(): Promise<Path | undefined> {
  const bin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find(
    (p) => spawnSync('test', ['-x', p]).status === 0,
  )
  if (bin === undefined) return undefined
  const port = 6400 + Math.floor(Math.random() * 500)
  const ini = join(work, 'pgbouncer.ini')
  writeFileSync(join(work, 'users.txt'), '"postgres" ""\n')
  writeFileSync(
    ini,
    `[databases]\n${DB} = host=127.0.0.1 port=5432 dbname=${DB}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nauth_type = trust\nauth_file = ${join(work, 'users.txt')}\npool_mode = session\nmax_client_conn = 100\ndefault_pool_size = 20\nlogfile = ${join(work, 'pgbouncer.log')}\npidfile = ${join(work, 'pgbouncer.pid')}\nunix_socket_dir =\n`,
  )
  // pgbouncer refuses to run as root: run it as the postgres user, with files it can write.
  chmodSync(work, 0o777)
  const child = spawn(bin, [ini], {uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim())})
  await new Promise((r) => setTimeout(r, 800))
  if (child.pid === undefined || !existsSync(`/proc/${child.pid}`) || child.exitCode !== null) {
    console.log('pgbouncer did not start; skipping it')
    return undefined
  }
  return {name: 'pgbouncer', port, pid: child.pid, stop: () => child.kill()}
}

interface PgbenchRun {
  readonly tps: number
  readonly transactions: number
  /** Proxy CPU µs per transaction over the whole run, session setup and teardown included. */
  readonly wholeUsPerTx: number
  /**
   * Proxy CPU µs per transaction from pgbench's first progress report to its last one a second or more
   * before the end: the relay alone, without the sessions' setup (a peer-process lookup and an upstream
   * login per connection) and without the teardown.
   */
  readonly steadyUsPerTx: number
}

/** Runs pgbench with one progress report a second, sampling the proxy's CPU at each report. */
async function pgbench(port: number, args: string[], pid: number | undefined): Promise<PgbenchRun> {
  const seconds = Number(args[args.indexOf('-T') + 1])
  const target = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres']
  const child = spawn('pgbench', [...target, '-n', '-P', '1', ...args, DB])
  const start = cpuTicks(pid)
  let out = ''
  let err = ''
  let pending = ''
  /** Each progress report: its time, the proxy's CPU ticks when it arrived, and the TPS it reports. */
  const reports: {at: number; ticks: number; tps: number}[] = []
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
    pending += d.toString()
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      // "progress: 3.0 s, 8123.4 tps, lat ...": the interval since the previous report ends at 3.0 s.
      const m = PROGRESS.exec(line)
      if (m !== null) reports.push({at: Number(m[1]), ticks: cpuTicks(pid), tps: Number(m[2])})
    }
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const end = cpuTicks(pid)
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out)
  const n = /number of transactions actually processed: (\d+)/.exec(out)
  if (code !== 0 || !m || !n) throw new Error(`pgbench failed on port ${port}: ${out}${err}`)
  const transactions = Number(n[1])
  // The window: from the first report to the last one at least a second before the end.
  const inWindow = reports.filter((r) => r.at <= seconds - 1)
  let windowTx = 0
  for (let i = 1; i < inWindow.length; i++)
    windowTx += inWindow[i]!.tps * (inWindow[i]!.at - inWindow[i - 1]!.at)
  const first = inWindow[0]
  const last = inWindow[inWindow.length - 1]
  return {
    tps: Number(m[1]),
    transactions,
    wholeUsPerTx: ((end - start) * 10_000) / transactions,
    steadyUsPerTx:
      first === undefined || last === undefined || windowTx === 0
        ? Number.NaN
        : ((last.ticks - first.ticks) * 10_000) / windowTx,
  }
}

const PROGRESS = /^progress: (\d+\.\d) s, ([\d.]+) tps/

interface Sample {
  tps: number[]
  cpuUsPerTx: number[]
  wholeUsPerTx: number[]
}

/** Runs the benchmark and prints its table. */
export default async function main(rounds = 3, seconds = 10): Promise<void> {
  psql(`create database ${DB}`)
  execFileSync('pgbench', ['-i', '-s', '10', '-q', '-h', PG.host, '-U', PG.user, DB], {stdio: 'ignore'})
  const direct: Path = {name: 'direct', port: PG.port, pid: undefined, stop: () => undefined}
  const baseline = process.env.DBGATE_BENCH_BASELINE
  const paths = [
    direct,
    await nodePipePath(),
    await pgbouncer(),
    await dbgate(),
    await dbgate('dbgate sync', 'bin/run.js', {DBGATE_AUDIT_DURABILITY: 'synced'}),
    await auditOff(),
    baseline === undefined ? undefined : await dbgate('dbgate base', baseline),
  ].filter((p): p is Path => p !== undefined)
  const modes = [
    {name: 'simple  -c 8', args: ['-S', '-c', '8', '-j', '2', '-T', String(seconds)]},
    {name: 'prepared -c 8', args: ['-S', '-M', 'prepared', '-c', '8', '-j', '2', '-T', String(seconds)]},
    {name: 'simple  -c 1', args: ['-S', '-c', '1', '-T', String(Math.max(3, seconds / 2))]},
    {
      name: 'prepared -c 1',
      args: ['-S', '-M', 'prepared', '-c', '1', '-T', String(Math.max(3, seconds / 2))],
    },
  ]
  const results = new Map<string, Sample>()
  try {
    // Unmeasured: the first sessions of a fresh process compile the engine's hot paths (a warm-up that
    // gets no transaction through under heavy load is no reason to stop).
    for (const path of paths)
      await pgbench(path.port, ['-S', '-c', '8', '-j', '2', '-T', '3'], path.pid).catch(() => undefined)
    for (let round = 1; round <= rounds; round++) {
      for (const mode of modes)
        for (const path of paths) {
          const run = await pgbench(path.port, mode.args, path.pid)
          const key = `${mode.name}|${path.name}`
          const s = results.get(key) ?? {tps: [], cpuUsPerTx: [], wholeUsPerTx: []}
          const tps = run.tps
          s.tps.push(tps)
          s.cpuUsPerTx.push(path.pid === undefined ? 0 : run.steadyUsPerTx)
          s.wholeUsPerTx.push(path.pid === undefined ? 0 : run.wholeUsPerTx)
          results.set(key, s)
          console.log(`round ${round} ${mode.name} ${path.name.padEnd(11)} ${tps.toFixed(0)} tps`)
        }
    }
  } finally {
    for (const p of paths) p.stop()
    await new Promise((r) => setTimeout(r, 500))
    psql(`drop database if exists ${DB} with (force)`)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  console.log(
    '\nmode           path         median TPS   vs direct   vs node pipe   vs audit off   proxy CPU µs/tx   CPU vs pipe   whole run µs/tx   latency ms',
  )
  for (const mode of modes) {
    const d = median(results.get(`${mode.name}|direct`)!.tps)
    const pipe = median(results.get(`${mode.name}|node pipe`)!.tps)
    const pipeCpu = median(results.get(`${mode.name}|node pipe`)!.cpuUsPerTx)
    const off = median(results.get(`${mode.name}|dbgate off`)!.tps)
    for (const path of paths) {
      const s = results.get(`${mode.name}|${path.name}`)!
      const tps = median(s.tps)
      const clients = mode.name.endsWith('-c 1') ? 1 : 8
      console.log(
        `${mode.name.padEnd(14)} ${path.name.padEnd(11)} ${tps.toFixed(0).padStart(11)} ${(tps / d).toFixed(2).padStart(10)} ${(tps / pipe).toFixed(2).padStart(14)} ${(tps / off).toFixed(2).padStart(14)} ${median(s.cpuUsPerTx).toFixed(1).padStart(17)} ${(path.pid === undefined ? '' : (median(s.cpuUsPerTx) / pipeCpu).toFixed(2)).padStart(13)} ${median(s.wholeUsPerTx).toFixed(1).padStart(17)} ${((1000 * clients) / tps).toFixed(3).padStart(12)}`,
      )
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 10))
}
