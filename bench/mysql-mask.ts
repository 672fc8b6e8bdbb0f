/**
 * MySQL masking cost on a large result: rows of (id, md5 text, email) read with one query by the
 * `mysql` client (batch, quick, output discarded), interleaved over rounds, through: direct, the
 * proxy with no masking rule, and the proxy with the email column masked (partial). Prints wall time
 * per path, ratios against direct, and the proxy process's CPU time per row (from /proc), the figure
 * that matters on a loaded machine.
 * Run: `npm run bench -- mysql-mask` or `npx tsx bench/mysql-mask.ts [rounds] [rows]`.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {pathToFileURL} from 'node:url'

const DB = `dbg_bench_mmask_${Date.now().toString(36)}`

interface Path {
  readonly name: string
  readonly port: number
  readonly pid: number | undefined
  stop(): void
}

function sql(text: string, port = 3306, db?: string): void {
  execFileSync('mysql', ['-h127.0.0.1', `-P${port}`, '-uroot', '--ssl=0', ...(db ? [db] : []), '-e', text])
}

async function proxy(name: string, mode: 'plain' | 'masked'): Promise<Path> {
  const url = `mysql://root@127.0.0.1:3306/${DB}`
  const child: ChildProcess = spawn('node', ['--import', 'tsx', 'bench/_mysql-mask-proxy.ts', url, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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

/** utime + stime of a process, in seconds. */
function cpu(pid: number | undefined): number {
  if (pid === undefined) return 0
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function read(port: number): number {
  const t = performance.now()
  execFileSync(
    'mysql',
    [
      '-h127.0.0.1',
      `-P${port}`,
      '-uroot',
      '--ssl=0',
      '--batch',
      '--quick',
      DB,
      '-e',
      'SELECT id, h, email FROM t',
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      maxBuffer: 1 << 30,
    },
  )
  return (performance.now() - t) / 1000
}

/** Runs the benchmark. */
export default async function main(rounds = 3, rows = 500_000): Promise<void> {
  sql(`CREATE DATABASE ${DB}`)
  sql(
    `CREATE TABLE t (id INT PRIMARY KEY, h CHAR(32), email VARCHAR(100));
     INSERT INTO t SELECT seq, MD5(seq), CONCAT('user', seq, '@example.com') FROM seq_1_to_${rows};`,
    3306,
    DB,
  )
  const paths: Path[] = [
    {name: 'direct', port: 3306, pid: undefined, stop: () => undefined},
    await proxy('proxy, no masking', 'plain'),
    await proxy('proxy, email masked', 'masked'),
  ]
  const times = new Map<string, number[]>()
  const cpus = new Map<string, number[]>()
  try {
    for (let r = 0; r < rounds; r++)
      for (const p of paths) {
        const before = cpu(p.pid)
        times.set(p.name, [...(times.get(p.name) ?? []), read(p.port)])
        cpus.set(p.name, [...(cpus.get(p.name) ?? []), cpu(p.pid) - before])
      }
  } finally {
    for (const p of paths) p.stop()
    sql(`DROP DATABASE ${DB}`)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const direct = median(times.get('direct') ?? [])
  console.log(`${rows} rows, ${rounds} interleaved rounds (medians)`)
  for (const p of paths) {
    const t = median(times.get(p.name) ?? [])
    const c = median(cpus.get(p.name) ?? [])
    const perRow =
      p.pid === undefined ? '' : `  proxy CPU ${c.toFixed(2)} s (${((c / rows) * 1e6).toFixed(2)} µs/row)`
    console.log(`${p.name.padEnd(22)} ${t.toFixed(2)} s  ${(t / direct).toFixed(2)}× direct${perRow}`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await main(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 500_000))
