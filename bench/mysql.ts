/**
 * MySQL proxy cost, interleaved in one run: mysqlslap point selects at 8 connections, direct to
 * MariaDB, through a bare Node byte pipe (the floor for any Node proxy) and through `dbgate connect`
 * with a policy of several rules. Prints queries per second and the ratios vs direct and vs the pipe.
 * Run: `npm run bench -- mysql` or `npx tsx bench/mysql.ts [rounds] [queries]`.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {nodePipe, waitForPort} from './_paths.js'

const DB = `dbg_bench_mysql_${Date.now().toString(36)}`
const work = mkdtempSync(join(tmpdir(), 'dbgate-bench-mysql-'))
const ROWS = 10_000

interface Path {
  readonly name: string
  readonly port: number
  stop(): void
}

function sql(text: string, db?: string): void {
  execFileSync('mysql', ['-h127.0.0.1', '-P3306', '-uroot', ...(db === undefined ? [] : [db]), '-e', text])
}

async function nodePipePath(): Promise<Path> {
  const pipe = await nodePipe(3306)
  return {name: 'node pipe', port: pipe.port, stop: pipe.stop}
}

async function dbgate(): Promise<Path> {
  const policy = join(work, 'policy.yaml')
  writeFileSync(
    policy,
    `version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: no-ddl, when: {kinds: [create, alter, drop, truncate]}, action: deny}
  - {name: unbounded-writes, when: {kinds: [update, delete], where: absent}, action: deny}
  - {name: no-files, when: {kinds: [copy]}, action: deny}
  - {name: secrets, when: {tables: ["*.secrets"]}, action: review}
`,
  )
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
  return {name: 'dbgate', port, stop: () => child.kill('SIGINT')}
}

/** Queries per second of mysqlslap's point selects at 8 connections. */
function mysqlslap(port: number, queries: number, file: string): number {
  const r = spawnSync(
    'mysqlslap',
    [
      '-h127.0.0.1',
      `-P${port}`,
      '-uroot',
      `--create-schema=${DB}`,
      '--no-drop',
      '--concurrency=8',
      '--iterations=1',
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

/** Runs the benchmark and prints its table. */
export default async function main(rounds = 2, queries = 16_000): Promise<void> {
  sql(`CREATE DATABASE ${DB}`)
  sql(
    `CREATE TABLE t (id INT PRIMARY KEY, k INT, c CHAR(60)); INSERT INTO t SELECT seq, seq * 7, MD5(seq) FROM seq_1_to_${ROWS}`,
    DB,
  )
  const file = join(work, 'queries.sql')
  const ids = Array.from({length: 2000}, (_, i) => ((i * 7919) % ROWS) + 1)
  writeFileSync(file, ids.map((id) => `SELECT c FROM t WHERE id = ${id}`).join(';'))
  const direct: Path = {name: 'direct', port: 3306, stop: () => undefined}
  const paths = [direct, await nodePipePath(), await dbgate()]
  const results = new Map<string, number[]>()
  try {
    for (let round = 1; round <= rounds; round++)
      for (const path of paths) {
        const qps = mysqlslap(path.port, queries, file)
        results.set(path.name, [...(results.get(path.name) ?? []), qps])
        console.log(`round ${round} ${path.name.padEnd(10)} ${qps.toFixed(0)} queries/s`)
      }
  } finally {
    for (const p of paths) p.stop()
    await new Promise((r) => setTimeout(r, 500))
    sql(`DROP DATABASE IF EXISTS ${DB}`)
  }
  const median = (xs: readonly number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const d = median(results.get('direct') ?? [])
  const pipe = median(results.get('node pipe') ?? [])
  console.log('\npath        median q/s   vs direct   vs node pipe')
  for (const path of paths) {
    const qps = median(results.get(path.name) ?? [])
    console.log(
      `${path.name.padEnd(10)} ${qps.toFixed(0).padStart(11)} ${(qps / d).toFixed(2).padStart(10)} ${(qps / pipe).toFixed(2).padStart(14)}`,
    )
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(Number(process.argv[2] ?? 2), Number(process.argv[3] ?? 16_000))
}
