/**
 * The MySQL engine's JavaScript cost per query, without sockets: a point select and its result set
 * (column count, one column definition, EOF, one row, EOF) fed through the client and server
 * dispatchers of one session, with the bench policy and audit off, into sockets that only count
 * writes. Deterministic enough for A/B work on the hot path, where mysqlslap's figures drown in
 * the machine's noise. Prints process CPU µs per query (min and median of the rounds).
 * Run: `npx tsx bench/_mysql-hotpath.ts [rounds] [queries]`.
 */
import type {Socket} from 'node:net'

import {nullAuditSink} from '../src/audit/types.js'
import {Guard, loadParsers} from '../src/policy/index.js'
import {ReadGate} from '../src/proxy/flow.js'
import {RunWriter} from '../src/proxy/run-writer.js'
import {SessionAudit} from '../src/proxy/session-audit.js'
import {ClientDispatcher} from '../src/proxy/mysql/client-dispatch.js'
import {encodePacket} from '../src/proxy/mysql/framing.js'
import {Cap, Command} from '../src/proxy/mysql/protocol.js'
import {ServerDispatcher} from '../src/proxy/mysql/server-dispatch.js'
import {MysqlSessionState} from '../src/proxy/mysql/session-state.js'
import {lenencInt} from '../src/proxy/mysql/wire.js'
import {MYSQL_BENCH_POLICY} from './_mysql-engine.js'

const lenencStr = (s: string): Buffer => Buffer.concat([lenencInt(Buffer.byteLength(s)), Buffer.from(s)])

/** The server's answer to `SELECT c FROM t WHERE id = N`: one CHAR(60) column, one row. */
function resultSet(): Buffer {
  const columnDef = Buffer.concat([
    ...['def', 'bench', 't', 't', 'c', 'c'].map(lenencStr),
    Buffer.from([0x0c, 0x21, 0x00, 0xb4, 0x00, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00]),
  ])
  const eof = Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00])
  return Buffer.concat([
    encodePacket(1, Buffer.from([1])),
    encodePacket(2, columnDef),
    encodePacket(3, eof),
    encodePacket(4, lenencStr('0123456789abcdef0123456789abcdef')),
    encodePacket(5, eof),
  ])
}

function countingSocket(): {socket: Socket; writes: () => number} {
  let n = 0
  const socket = {
    destroyed: false,
    write: () => {
      n++
      return true
    },
  } as unknown as Socket
  return {socket, writes: () => n}
}

await loadParsers()
const [roundsArg, queriesArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 7)
const queries = Number(queriesArg ?? 200_000)
const audit = new SessionAudit(nullAuditSink, {
  session_id: 'bench',
  identity: 'bench',
  actor: 'human',
  target: 'bench',
  protocol: 'mysql',
  database: 'bench',
  db_user: 'root',
  client_version: 'bench',
  application_name: undefined,
  groups: [],
  agent: null,
  policy_version: null,
})
const state = new MysqlSessionState('bench', Cap.protocol41 | Cap.multiStatements, audit)
const toClient = countingSocket()
const toServer = countingSocket()
const clientWriter = new RunWriter(toClient.socket)
audit.bind(clientWriter, () => undefined)
const guard = new Guard(MYSQL_BENCH_POLICY, 'mysql')
const evalContext = {actor: 'human' as const, identity: 'bench', target: 'bench'}
const fatal = (err: unknown): never => {
  throw err
}
const clientD = new ClientDispatcher({
  state,
  guarding: {guard, evalContext, policy: MYSQL_BENCH_POLICY},
  toServer: new RunWriter(toServer.socket),
  toClient: clientWriter,
  maxPacketBytes: 1 << 24,
  allowLocalInfile: false,
  onQuit: () => undefined,
  onFatal: fatal,
  // No review hook: nothing is ever held, so the client socket is never paused.
  clientGate: new ReadGate(toClient.socket),
})
const serverD = new ServerDispatcher({
  state,
  toClient: clientWriter,
  maxPacketBytes: 1 << 30,
  allowInfile: () => false,
  onInfile: () => undefined,
  onFatal: fatal,
})
const response = resultSet()
const requests = Array.from({length: 2000}, (_, i) =>
  encodePacket(
    0,
    Buffer.from(`${String.fromCharCode(Command.query)}SELECT c FROM t WHERE id = ${(i * 7919) % 10_000}`),
  ),
)
const costs: number[] = []
for (let r = 0; r < rounds; r++) {
  const before = process.cpuUsage()
  for (let q = 0; q < queries; q++) {
    // Fresh chunks, as sockets give: the framer hands out ranges of them.
    clientD.push(Buffer.from(requests[q % requests.length] as Buffer))
    serverD.push(Buffer.from(response))
  }
  const used = process.cpuUsage(before)
  costs.push((used.user + used.system) / queries)
}
if (
  state.queue.length !== 0 ||
  toServer.writes() !== rounds * queries ||
  toClient.writes() !== rounds * queries
)
  throw new Error(
    `unexpected: ${state.queue.length} owed, ${toServer.writes()} and ${toClient.writes()} writes`,
  )
const sorted = [...costs].sort((a, b) => a - b)
console.log(
  `rounds ${costs.map((c) => c.toFixed(2)).join(' ')} µs/query; min ${(sorted[0] ?? 0).toFixed(2)} median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(2)}; guard ${JSON.stringify(guard.stats)}`,
)
