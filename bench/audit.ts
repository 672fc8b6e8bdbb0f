/**
 * What the audit trail costs the proxy: pgbench -S (simple and prepared, 8 clients) through the guarded
 * engine in this process with audit off (a null sink), with the spool in `written` durability (the
 * default: each result held until its event is written, fdatasync in the background), and in `synced`
 * durability (each result held until its event is fdatasync'd). Interleaved rounds, medians, TPS ratios
 * against audit off measured in the same run, and this process's CPU time per transaction (the proxy's:
 * pgbench runs in a child). Then events per second through the spool alone (bench/audit-spool.ts).
 * Run: `npm run bench -- audit` or `npx tsx bench/audit.ts [rounds] [seconds]`.
 */
import {execFileSync, spawn} from 'node:child_process'
import {pathToFileURL} from 'node:url'

import {startBenchEngine, type AuditMode, type BenchEngine} from './_engine.js'
import spoolBench from './audit-spool.js'

const DB = `dbgate_bench_audit_${Date.now().toString(36)}`

function psql(sql: string): void {
  execFileSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', sql])
}

/** pgbench in a child process (asynchronously: the proxy runs in this process's event loop). */
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

/** Runs the benchmark and prints its table. */
export default async function main(rounds = 3, seconds = 8): Promise<void> {
  psql(`create database ${DB}`)
  execFileSync('pgbench', ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-U', 'postgres', DB], {
    stdio: 'ignore',
  })
  const modes: AuditMode[] = ['off', 'written', 'synced']
  const variants: (BenchEngine & {name: AuditMode})[] = []
  for (const name of modes) variants.push({name, ...(await startBenchEngine(name, DB))})
  const loads = [
    {name: 'simple   -c 8', args: ['-S', '-c', '8', '-j', '2', '-T', String(seconds)]},
    {name: 'prepared -c 8', args: ['-S', '-M', 'prepared', '-c', '8', '-j', '2', '-T', String(seconds)]},
  ]
  const tps = new Map<string, number[]>()
  const cpu = new Map<string, number[]>()
  const add = (m: Map<string, number[]>, key: string, v: number): void => {
    m.set(key, [...(m.get(key) ?? []), v])
  }
  try {
    for (let round = 1; round <= rounds; round++)
      for (const load of loads)
        for (const v of variants) {
          const before = process.cpuUsage()
          const r = await pgbench(v.port, load.args)
          const used = process.cpuUsage(before)
          const us = (used.user + used.system) / r.tx
          add(tps, `${load.name}|${v.name}`, r.tps)
          add(cpu, `${load.name}|${v.name}`, us)
          console.log(
            `round ${round} ${load.name} audit ${v.name.padEnd(8)} ${r.tps.toFixed(0)} tps ${us.toFixed(1)} µs/tx`,
          )
        }
  } finally {
    for (const v of variants) await v.close()
    psql(`drop database if exists ${DB} with (force)`)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  console.log('\nmode            audit      median TPS   vs audit off   proxy CPU µs/tx (median, min)')
  for (const load of loads) {
    const off = median(tps.get(`${load.name}|off`) ?? [])
    for (const v of variants) {
      const t = median(tps.get(`${load.name}|${v.name}`) ?? [])
      const c = cpu.get(`${load.name}|${v.name}`) ?? []
      console.log(
        `${load.name.padEnd(15)} ${v.name.padEnd(8)} ${t.toFixed(0).padStart(12)} ${(t / off).toFixed(3).padStart(14)} ${median(c).toFixed(1).padStart(12)}, ${Math.min(...c).toFixed(1)}`,
      )
    }
  }
  console.log('\nevents per second through the spool alone:')
  await spoolBench()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 8))
}
