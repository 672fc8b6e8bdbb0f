/**
 * The guarded Postgres engine in this process, with the audit sink chosen by name, for benchmarks that
 * measure the proxy's own CPU (process.cpuUsage) while pgbench runs in a child process.
 * As a script (`tsx bench/_engine.ts MODE DB`) it serves one engine and prints `port=N`: the bench's way
 * to run dbgate with audit off, which the CLI does not offer.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {hashCanonical} from '../src/audit/chain.js'
import {SessionText} from '../src/audit/event.js'
import {AuditTrail} from '../src/audit/trail.js'
import {nullAuditSink, type AuditSink} from '../src/audit/types.js'
import {Guard, loadParsers, type Policy} from '../src/policy/index.js'
import {PostgresEngine, parsePgUrl, startListener} from '../src/proxy/index.js'

/**
 * How the engine's audit trail is kept. Besides the real ones, two that split the audit's cost (never a
 * trail): `hold` holds each statement's output for one event-loop turn as the spool's group commit does,
 * and records nothing; `text` also writes each event's canonical text and chains its SHA-256, in memory.
 * `written` against `text` is then the spool's own part (framing, CRC, the append, its bookkeeping).
 */
export type AuditMode = 'off' | 'written' | 'synced' | 'nosync' | 'hold' | 'text'

/** The bench policy: several rules, as pg-proxy.ts gives `dbgate connect`. */
export const BENCH_POLICY: Policy = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {name: 'no-ddl', when: {kinds: ['create', 'alter', 'drop', 'truncate']}, action: 'deny'},
    {name: 'unbounded-writes', when: {kinds: ['update', 'delete'], where: 'absent'}, action: 'deny'},
    {name: 'file-functions', when: {functions: ['pg_read_file', 'lo_*', 'dblink*']}, action: 'deny'},
    {name: 'secrets', when: {tables: ['*.secrets']}, action: 'review'},
  ],
  masking: [],
}

/** The audit sink of `mode`: none, or a trail spooled under a fresh temporary directory. */
export async function benchAuditSink(mode: AuditMode): Promise<AuditSink> {
  if (mode === 'off') return nullAuditSink
  if (mode === 'hold' || mode === 'text') return turnSink(mode === 'text')
  return AuditTrail.open({
    stateDir: mkdtempSync(join(tmpdir(), 'dbgate-bench-engine-')),
    maxBytes: 4 * 1024 * 1024 * 1024,
    durability: mode === 'nosync' ? 'written' : mode,
    fsync: mode !== 'nosync',
  })
}

/** A sink that confirms each event one event-loop turn later (`hold`), chaining its text first (`text`). */
function turnSink(text: boolean): AuditSink {
  let waiting: (() => void)[] = []
  let seq = 0
  let last = '0'.repeat(64)
  const confirm = (): void => {
    const group = waiting
    waiting = []
    for (const done of group) done()
  }
  return {
    write: () => undefined,
    close: () => Promise.resolve(),
    session: (facts) => {
      const session = new SessionText(facts)
      return {
        record(members, done) {
          if (text) last = hashCanonical(session.chained(members, ++seq, last))
          if (waiting.length === 0) setImmediate(confirm)
          waiting.push(() => done(undefined, members))
        },
      }
    },
  }
}

/** A listening engine. */
export interface BenchEngine {
  readonly port: number
  close(): Promise<void>
}

/** Starts the engine on a free port, auditing as `mode` says (spool under a fresh temporary directory). */
export async function startBenchEngine(mode: AuditMode, db: string): Promise<BenchEngine> {
  await loadParsers()
  const sink = await benchAuditSink(mode)
  const engine = new PostgresEngine({
    target: parsePgUrl(`postgres://postgres@127.0.0.1:5432/${db}?sslmode=disable`),
    policy: BENCH_POLICY,
    guard: new Guard(BENCH_POLICY, 'postgres'),
    evalContext: {actor: 'human', identity: 'bench', target: 'bench'},
    audit: sink,
    identity: 'bench',
    clientVersion: 'bench',
    maxMessageBytes: 64 * 1024 * 1024,
  })
  const listener = await startListener({engine, port: 0})
  return {
    port: listener.port,
    close: async () => {
      await listener.close()
      await sink.close()
    },
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, db] = process.argv.slice(2)
  const e = await startBenchEngine((mode ?? 'off') as AuditMode, db ?? 'postgres')
  console.log(`port=${e.port}`)
  process.on('SIGINT', () => void e.close().then(() => process.exit(0)))
  process.on('SIGTERM', () => void e.close().then(() => process.exit(0)))
}
