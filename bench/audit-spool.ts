/**
 * Events per second through the durable audit spool: 1, 8 and 64 concurrent writers each awaiting its
 * write (as the proxy awaits a statement's event), with group commit and fdatasync, against the same
 * spool without the sync. Also the CPU cost of chaining one event (canonical JSON + SHA-256): a body built
 * by hand (the general canonical JSON, as uploads and verification see it) and the proxy's path (a body from
 * fromAuditEvent, serialised by the unrolled writer, framed and hashed in a group buffer), then the proxy's
 * statements as SessionAudit records them (a session's prepared SessionText and each statement's members).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {HashChain} from '../src/audit/chain.js'
import {DurableSpool, type AuditDurability} from '../src/audit/durable-spool.js'
import {canonicalChainedJson, fromAuditEvent, SessionText} from '../src/audit/event.js'
import {FrameBuilder} from '../src/audit/spool-frame.js'
import type {AuditEvent} from '../src/audit/types.js'
import {body} from '../test/unit/audit-helpers.js'

const DURATION_MS = 1500

async function rate(writers: number, durability: AuditDurability | 'no sync'): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-bench-spool-'))
  const spool = new DurableSpool(dir, {
    fsync: durability !== 'no sync',
    durability: durability === 'synced' ? 'synced' : 'written',
    maxBytes: 4 * 1024 * 1024 * 1024,
  })
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

/** A proxy event of a pgbench -S statement, with the shared values a session and cached decision give it. */
function proxyEvent(
  n: number,
  shared: Pick<AuditEvent, 'kinds' | 'tables' | 'groups' | 'process'>,
): AuditEvent {
  return {
    id: `sess-1.${n}`,
    type: 'statement',
    time: '2026-01-01T00:00:00.123Z',
    session_id: 'sess-1',
    identity: 'alice@example.com',
    actor: 'human',
    target: 'prod-pg',
    protocol: 'postgres',
    database: 'app',
    db_user: 'alice_tmp',
    statement: `SELECT abalance FROM pgbench_accounts WHERE aid = ${n};`,
    decision: 'allow',
    rule: null,
    rows: 1,
    duration_ms: 0.4,
    error: null,
    client_version: '0.1.0',
    application_name: 'pgbench',
    agent: null,
    policy_version: null,
    ...shared,
  }
}

function micros(t0: bigint, n: number): string {
  return (Number(process.hrtime.bigint() - t0) / 1000 / n).toFixed(1)
}

/** Prints the figures. */
export default async function run(): Promise<void> {
  const chain = new HashChain()
  const n = 20_000
  for (let i = 0; i < 2000; i++) chain.append(body(i))
  let t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) chain.append(body(i))
  console.log(`chain one hand-built event (general canonical JSON + SHA-256): ${micros(t0, n)} µs`)
  const shared = {
    kinds: ['select'],
    tables: ['pgbench_accounts'],
    groups: ['dev'],
    process: {found: true, pid: 4242, exe: '/usr/bin/pgbench', cmdline: ['pgbench', '-S'], parents: []},
  } as const
  const frames = new FrameBuilder()
  let prev = '0'.repeat(64)
  for (const count of [2000, n]) {
    t0 = process.hrtime.bigint()
    for (let i = 0; i < count; i++) {
      if (i % 8 === 0) frames.reset()
      prev = frames.add(canonicalChainedJson(fromAuditEvent(proxyEvent(i, shared)), i + 1, prev))
    }
  }
  console.log(`chain one proxy event (build, canonical JSON, frame, CRC32, SHA-256): ${micros(t0, n)} µs`)
  // The facts a session shares, as the proxy event carries them (SessionText reads only those).
  const session = new SessionText(proxyEvent(0, shared))

  for (const count of [2000, n]) {
    t0 = process.hrtime.bigint()
    for (let i = 0; i < count; i++) {
      if (i % 8 === 0) frames.reset()
      const members = {
        id: `sess-1.${i}`,
        type: 'statement' as const,
        time: '2026-01-01T00:00:00.123Z',
        statement: `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};`,
        kinds: shared.kinds,
        tables: shared.tables,
        decision: 'allow' as const,
        rule: null,
        rows: 1,
        masked_columns: [],
        duration_ms: 0.4,
        error: null,
        policy_version: null,
      }
      prev = frames.add(session.chained(members, i + 1, prev))
    }
  }
  console.log(`the same through its session's prepared text (SessionText): ${micros(t0, n)} µs`)
  console.log('writers   written (background sync)   synced (group commit)   no sync')
  for (const writers of [1, 8, 64]) {
    const written = await rate(writers, 'written')
    const synced = await rate(writers, 'synced')
    const unsynced = await rate(writers, 'no sync')
    console.log(
      `${String(writers).padStart(7)}   ${written.toFixed(0).padStart(17)} ev/s   ${synced.toFixed(0).padStart(16)} ev/s   ${unsynced.toFixed(0).padStart(8)} ev/s`,
    )
  }
}
