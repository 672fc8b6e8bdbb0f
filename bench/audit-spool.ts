/**
 * Events per second through the durable audit spool: 1, 8 and 64 concurrent writers each awaiting its
 * write (as the proxy awaits a statement's event), with group commit and fdatasync, against the same
 * spool without the sync. Also the CPU cost of chaining one event (canonical JSON + SHA-256).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {HashChain} from '../src/audit/chain.js'
import {DurableSpool} from '../src/audit/durable-spool.js'
import {body} from '../test/unit/audit-helpers.js'

const DURATION_MS = 1500

async function rate(writers: number, fsync: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-bench-spool-'))
  const spool = new DurableSpool(dir, {fsync, maxBytes: 4 * 1024 * 1024 * 1024})
  let count = 0
  const end = Date.now() + DURATION_MS
  const start = process.hrtime.bigint()
  await Promise.all(
    Array.from({length: writers}, async () => {
      while (Date.now() < end) {
        await spool.append(body(count))
        count++
      }
    }),
  )
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  await spool.close()
  rmSync(dir, {recursive: true, force: true})
  return count / seconds
}

/** Prints the figures. */
export default async function run(): Promise<void> {
  const chain = new HashChain()
  const n = 20_000
  for (let i = 0; i < 2000; i++) chain.append(body(i))
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) chain.append(body(i))
  console.log(
    `chain one event (canonical JSON + SHA-256): ${(Number(process.hrtime.bigint() - t0) / 1000 / n).toFixed(1)} µs`,
  )
  console.log('writers   fdatasync+group commit   no sync')
  for (const writers of [1, 8, 64]) {
    const synced = await rate(writers, true)
    const unsynced = await rate(writers, false)
    console.log(
      `${String(writers).padStart(7)}   ${synced.toFixed(0).padStart(14)} ev/s        ${unsynced.toFixed(0).padStart(8)} ev/s`,
    )
  }
}
