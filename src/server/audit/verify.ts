/**
 * `GET /api/v1/audit/verify`: re-checks the stored trail. For each device, its batches are rebuilt from
 * the store (headers and events, in the order the server stored them) and checked by the same
 * verifyBatches the CLI uses; each event's indexed columns are checked against the event itself; the
 * server's own chain is re-hashed; the incidents recorded at ingest (gaps, conflicts, replays, forged
 * batches) are listed, so nothing that was refused or missing is hidden; and every approval request's chain of
 * transitions is re-hashed (approval-chains.ts).
 */
import type {KeyObject} from 'node:crypto'

import type {SignedBatch} from '../../audit/signing.js'
import {BatchVerifier, type VerifySeed} from '../../audit/verify.js'
import type {AuditVerifyResponse} from '../../control/api-types.js'
import {tableSet} from '../store/audit-sql.js'
import type {AuditIncidentRecord, Store, StoredAuditEvent} from '../store/index.js'
import {
  describeServerProblem,
  SERVER_GENESIS,
  verifyServerChain,
  type ServerChainState,
} from './server-chain.js'
import {describeApprovalProblem, verifyApprovalChains} from './approval-chains.js'
import {publicKeyFromRaw} from './ingest.js'

/** The line `audit verify` prints for an incident recorded at ingest. */
export function describeIncident(i: AuditIncidentRecord): string {
  const range = i.firstSeq === i.lastSeq ? `${i.firstSeq}` : `${i.firstSeq}-${i.lastSeq}`
  const where = `device ${i.deviceId}`
  switch (i.kind) {
    case 'gap':
      return `${where}: gap seq ${range} (never received)`
    case 'conflict':
      return `${where}: conflicting upload ${range} refused (${i.detail})`
    case 'chain_break':
      return `${where}: chain break in upload ${range} refused (${i.detail})`
    case 'replayed':
      return `${where}: replayed batch ${range} (${i.detail})`
    case 'bad_signature':
      return `${where}: forged batch ${range} refused (${i.detail})`
    case 'foreign_device':
      return `${where}: upload ${range} by another identity refused (${i.detail})`
  }
}

/** True when `sorted` (distinct, sorted) holds exactly the tables of the event. */
function sameTables(sorted: readonly string[], tables: readonly string[]): boolean {
  const want = tableSet(tables)
  return sorted.length === want.length && sorted.every((t, i) => t === want[i])
}

/** Events whose indexed columns (what search filters on) differ from the stored event. */
function columnProblems(events: readonly StoredAuditEvent[]): string[] {
  return events
    .filter(
      (e) =>
        e.columns.statement !== e.event.statement ||
        e.columns.identity !== e.event.identity ||
        e.columns.target !== e.event.target ||
        e.columns.decision !== e.event.decision ||
        e.columns.actor !== e.event.actor ||
        e.columns.timeMs !== Date.parse(e.event.time) ||
        !sameTables(e.columns.tables, e.event.tables) ||
        !sameTables(e.columns.tableRows, e.event.tables),
    )
    .map((e) => `device ${e.deviceId}: altered seq ${e.seq} (indexed columns differ from the event)`)
}

/** Rebuilds a device's signed batches from the store, events in server order. */
function batchesOf(
  headers: Awaited<ReturnType<Store['listAuditBatches']>>,
  events: StoredAuditEvent[],
): SignedBatch[] {
  return headers.map((h) => ({
    device_id: h.deviceId,
    first_seq: h.firstSeq,
    last_seq: h.lastSeq,
    prev_hash: h.prevHash,
    hashes: h.hashes,
    key_id: h.keyId,
    signature: h.signature,
    events: events
      .filter((e) => e.batchFirstSeq === h.firstSeq && e.batchLastSeq === h.lastSeq)
      .map((e) => e.event),
  }))
}

/** Batch headers (and their events) read per page: memory stays bounded by a page, not by the trail. */
const PAGE_BATCHES = 100
const PAGE_LINKS = 5000

/** The hash the device signed for `seq`, from the batch that holds it (where a partial check starts). */
async function seedOf(store: Store, deviceId: string, seq: number): Promise<VerifySeed | undefined> {
  const b = await store.auditBatchHolding(deviceId, seq)
  const hash = b?.hashes[seq - b.firstSeq]
  return b === undefined || hash === undefined ? undefined : {seq, hash}
}

/** Verifies one device's batches from `fromSeq` on, a page of batches at a time. */
async function verifyDevice(
  store: Store,
  device: Awaited<ReturnType<Store['listAuditDevices']>>[number],
  fromSeq: number,
): Promise<{verified: number; problems: string[]}> {
  const key = publicKeyFromRaw(device.publicKey)
  const keys = new Map<string, KeyObject>(key === undefined ? [] : [[device.keyId, key]])
  const seed = fromSeq > 1 ? await seedOf(store, device.deviceId, fromSeq - 1) : undefined
  const verifier = new BatchVerifier(keys, {firstSeq: fromSeq, seed})
  const problems: string[] = []
  let after = {firstSeq: fromSeq, lastSeq: 0}
  for (;;) {
    const headers = await store.listAuditBatches(device.deviceId, {after, limit: PAGE_BATCHES})
    if (headers.length === 0) break
    const from = Math.min(...headers.map((h) => h.firstSeq))
    const to = Math.max(...headers.map((h) => h.lastSeq))
    const events = await store.listAuditEvents(device.deviceId, {from, to})
    const mine = new Set(headers.map((h) => `${h.firstSeq}-${h.lastSeq}`))
    const inPage = events.filter((e) => mine.has(`${e.batchFirstSeq}-${e.batchLastSeq}`))
    for (const b of batchesOf(headers, inPage)) verifier.add(b)
    problems.push(...columnProblems(inPage))
    const last = headers[headers.length - 1] as (typeof headers)[number]
    after = {firstSeq: last.firstSeq, lastSeq: last.lastSeq}
  }
  const report = verifier.finish()
  return {
    verified: report.verified,
    problems: [...report.messages.map((m) => `device ${device.deviceId}: ${m}`), ...problems],
  }
}

/** Re-hashes the server chain from server_seq `from` on, a page at a time. */
async function verifyServerChainFrom(store: Store, from: number): Promise<string[]> {
  const state: ServerChainState = {expectSeq: from, prev: SERVER_GENESIS}
  if (from > 1) {
    const before = await store.listAuditServerChain({after: from - 2, limit: 1})
    state.prev = before[0]?.serverSeq === from - 1 ? before[0].serverHash : SERVER_GENESIS
  }
  const problems: string[] = []
  for (let after = from - 1; ;) {
    const links = await store.listAuditServerChain({after, limit: PAGE_LINKS})
    if (links.length === 0) break
    problems.push(...verifyServerChain(links, state).map(describeServerProblem))
    after = (links[links.length - 1] as (typeof links)[number]).serverSeq
  }
  return problems
}

/**
 * Verifies the stored trail a page at a time. With `since` (epoch ms, 0 for everything), only the events
 * from then on are checked: per device from the first batch holding one (chained to the signed hash
 * before it), the server chain from the first of them, and the incidents recorded since.
 */
export async function verifyStoredTrail(store: Store, since: number): Promise<AuditVerifyResponse> {
  const problems: string[] = []
  let verified = 0
  const devices = await store.listAuditDevices()
  const start = since > 0 ? await store.auditStartSince(since) : undefined
  for (const d of devices) {
    const fromSeq = start === undefined ? 1 : start.devices.get(d.deviceId)
    if (fromSeq === undefined) continue
    const r = await verifyDevice(store, d, fromSeq)
    verified += r.verified
    problems.push(...r.problems)
  }
  const serverFrom = start === undefined ? 1 : start.serverSeq
  if (serverFrom !== null) problems.push(...(await verifyServerChainFrom(store, serverFrom)))
  problems.push(...(await store.listAuditIncidents(since)).map(describeIncident))
  const approvals = await verifyApprovalChains(store, since)
  problems.push(...approvals.problems.map(describeApprovalProblem))
  return {ok: problems.length === 0, devices: devices.length, verified, problems, approvals}
}
