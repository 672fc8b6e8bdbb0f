/**
 * What the audit trail costs the proxy: pgbench -S (simple and prepared, 8 clients) through the guarded
 * engine with audit off (a null sink), with the durable spool but no fsync (the CPU cost of building,
 * chaining and writing events), and with the real spool (fdatasync, group commit, each result held until
 * its event is durable). Interleaved rounds, medians, ratios against audit off measured in the same run.
 * Then events per second through the spool alone (bench/audit-spool.ts).
 * Run: `npm run bench -- audit` or `npx tsx bench/audit.ts [rounds] [seconds]`.
 */
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {AuditTrail} from '../src/audit/trail.js'
import {nullAuditSink, type AuditSink} from '../src/audit/types.js'
import {Guard, loadParsers} from '../src/policy/index.js'
import {PostgresEngine, parsePgUrl, startListener} from '../src/proxy/index.js'
import {TEST_POLICY} from '../test/support/proxy.js'
import spoolBench from './audit-spool.js'

const DB = `dbgate_bench_audit_${Date.now().toString(36)}`
const work = mkdtempSync(join(tmpdir(), 'dbgate-bench-audit-'))

function psql(sql: string): void {
  execFileSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', sql])
}

/** pgbench in a child process (asynchronously: the proxy runs in this process's event loop). */
function pgbench(port: number, args: string[]): Promise<number> {
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
      if (m) resolve(Number(m[1]))
      else reject(new Error(`pgbench failed: ${out}`))
    })
  })
}

interface Variant {
  readonly name: string
  readonly port: number
  close(): Promise<void>
}

async function variant(name: string, sink: AuditSink): Promise<Variant> {
  const target = parsePgUrl(`postgres://postgres@127.0.0.1:5432/${DB}?sslmode=disable`)
  const engine = new PostgresEngine({
    target,
    policy: TEST_POLICY,
    guard: new Guard(TEST_POLICY, 'postgres'),
    evalContext: {actor: 'human', identity: 'bench', target: 'bench'},
    audit: sink,
    identity: 'bench',
    clientVersion: 'bench',
    maxMessageBytes: 64 * 1024 * 1024,
  })
  const listener = await startListener({engine, port: 0})
  return {
    name,
    port: listener.port,
    close: async () => {
      await listener.close()
      await sink.close()
    },
  }
}

/** Runs the benchmark and prints its table. */
export default async function main(rounds = 3, seconds = 8): Promise<void> {
  await loadParsers()
  psql(`create database ${DB}`)
  execFileSync('pgbench', ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-U', 'postgres', DB], {
    stdio: 'ignore',
  })
  const big = 4 * 1024 * 1024 * 1024
  const variants = [
    await variant('audit off', nullAuditSink),
    await variant(
      'spool, no fsync',
      await AuditTrail.open({stateDir: join(work, 'a'), fsync: false, maxBytes: big}),
    ),
    await variant('spool + fsync', await AuditTrail.open({stateDir: join(work, 'b'), maxBytes: big})),
  ]
  const modes = [
    {name: 'simple   -c 8', args: ['-S', '-c', '8', '-j', '2', '-T', String(seconds)]},
    {name: 'prepared -c 8', args: ['-S', '-M', 'prepared', '-c', '8', '-j', '2', '-T', String(seconds)]},
  ]
  const tps = new Map<string, number[]>()
  try {
    for (let round = 1; round <= rounds; round++)
      for (const mode of modes)
        for (const v of variants) {
          const t = await pgbench(v.port, mode.args)
          tps.set(`${mode.name}|${v.name}`, [...(tps.get(`${mode.name}|${v.name}`) ?? []), t])
          console.log(`round ${round} ${mode.name} ${v.name.padEnd(16)} ${t.toFixed(0)} tps`)
        }
  } finally {
    for (const v of variants) await v.close()
    psql(`drop database if exists ${DB} with (force)`)
    rmSync(work, {recursive: true, force: true})
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  console.log('\nmode            audit             median TPS   vs audit off')
  for (const mode of modes) {
    const off = median(tps.get(`${mode.name}|audit off`) ?? [])
    for (const v of variants) {
      const t = median(tps.get(`${mode.name}|${v.name}`) ?? [])
      console.log(
        `${mode.name.padEnd(15)} ${v.name.padEnd(16)} ${t.toFixed(0).padStart(11)} ${(t / off).toFixed(3).padStart(14)}`,
      )
    }
  }
  console.log('\nevents per second through the spool alone:')
  await spoolBench()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 8))
}
