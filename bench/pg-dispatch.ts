/**
 * The Postgres engine's own CPU per transaction, without sockets: pgbench -S's bytes (simple: one
 * Query; prepared: Bind, Execute, Sync of a statement parsed once) pushed through the client and
 * server dispatchers of one session, with the bench policy and a null audit sink. Inputs are built
 * once and reused, so the figure is framing, deciding (a decision-cache hit), the pipeline and the
 * audit event, and none of Node's stream layer or the kernel that `pg-proxy` also counts.
 * Run: `npm run bench -- pg-dispatch` or `npx tsx bench/pg-dispatch.ts [transactions] [rounds]`.
 */
import {pathToFileURL} from 'node:url'

import {loadParsers} from '../src/policy/index.js'
import {typed} from '../src/proxy/postgres/wire.js'
import {pgDispatchers, type PgDispatchers} from '../test/support/pg-dispatchers.js'
import {F} from '../test/support/pg-raw.js'
import {BENCH_POLICY} from './_engine.js'

/** One session's two dispatchers; a framing error would end the bench. */
function session(): PgDispatchers {
  return pgDispatchers({
    policy: BENCH_POLICY,
    maxMessageBytes: 1 << 30,
    onFatal: (err) => {
      throw err
    },
  })
}

const SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = '
const frame = (type: string, body: readonly number[] | string): Buffer =>
  typed(type.charCodeAt(0), typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body))
/** RowDescription of one int4 column, DataRow '1234', CommandComplete, ReadyForQuery (idle). */
const ROW_DESCRIPTION = frame('T', '\0\x01abalance\0\0\0\x40\x10\0\x03\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0')
const RESULT = Buffer.concat([frame('D', '\0\x01\0\0\0\x041234'), frame('C', 'SELECT 1\0'), frame('Z', 'I')])

/** The bytes of `count` transactions of one protocol, client and server side. */
function transactions(protocol: 'simple' | 'prepared', count: number): {client: Buffer[]; server: Buffer} {
  const aid = (i: number): string => String(((i * 7919) % 1_000_000) + 1)
  if (protocol === 'simple')
    return {
      client: Array.from({length: count}, (_, i) => F.query(`${SQL}${aid(i)};`)),
      server: Buffer.concat([ROW_DESCRIPTION, RESULT]),
    }
  return {
    client: Array.from({length: count}, (_, i) =>
      Buffer.concat([F.bind('', 'P0_1', [aid(i)]), F.execute(''), F.sync()]),
    ),
    server: Buffer.concat([frame('2', []), RESULT]),
  }
}

/** ns of CPU per transaction of one protocol: median and minimum of `rounds` runs of `count`. */
function measure(
  protocol: 'simple' | 'prepared',
  count: number,
  rounds: number,
): {median: number; min: number} {
  const {client, server, state, guard} = session()
  if (protocol === 'prepared') {
    client.push(Buffer.concat([F.parse('P0_1', `${SQL}$1;`), F.sync()]))
    server.push(Buffer.concat([frame('1', []), frame('Z', 'I')]))
  }
  const input = transactions(protocol, 4096)
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      client.push(input.client[i & 4095] as Buffer)
      server.push(input.server)
    }
  }
  run(50_000)
  const figures: number[] = []
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage()
    run(count)
    const used = process.cpuUsage(before)
    figures.push(((used.user + used.system) * 1000) / count)
  }
  // Every transaction was allowed from the decision cache and fully answered: nothing else was measured.
  if (state.pipeline.length !== 0 || (protocol === 'simple' && guard.stats.hits < rounds * count))
    throw new Error(`the ${protocol} transactions did not take the allowed, cached path`)
  figures.sort((a, b) => a - b)
  return {median: figures[Math.floor(rounds / 2)] ?? 0, min: figures[0] ?? 0}
}

/** Prints the dispatchers' CPU per transaction for both protocols. */
export default async function main(count = 300_000, rounds = 5): Promise<void> {
  await loadParsers()
  for (const protocol of ['simple', 'prepared'] as const) {
    const {median, min} = measure(protocol, count, rounds)
    console.log(
      `${protocol.padEnd(9)} ${median.toFixed(0).padStart(6)} ns/tx median, ${min.toFixed(0)} min (${rounds} rounds of ${count})`,
    )
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(Number(process.argv[2] ?? 300_000), Number(process.argv[3] ?? 5))
}
