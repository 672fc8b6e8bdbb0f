/**
 * `GET /api/v1/audit/verify`: re-checks the stored trail. For each device, its batches are rebuilt from
 * the store (headers and events, in the order the server stored them) and checked by the same
 * verifyBatches the CLI uses; each event's indexed columns are checked against the event itself; the
 * server's own chain is re-hashed; and the incidents recorded at ingest (gaps, conflicts, replays, forged
 * batches) are listed, so nothing that was refused or missing is hidden.
 */
import type {KeyObject} from 'node:crypto'

import type {SignedBatch} from '../../audit/signing.js'
import {verifyBatches} from '../../audit/verify.js'
import type {AuditVerifyResponse} from '../../control/api-types.js'
import type {AuditIncidentRecord, Store, StoredAuditEvent} from '../store/index.js'
import {describeServerProblem, verifyServerChain} from './server-chain.js'
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

/** Events whose indexed columns (what search shows) differ from the stored event. */
function columnProblems(events: readonly StoredAuditEvent[]): string[] {
  return events
    .filter(
      (e) =>
        e.columns.statement !== e.event.statement ||
        e.columns.identity !== e.event.identity ||
        e.columns.target !== e.event.target ||
        e.columns.decision !== e.event.decision,
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

/** Verifies everything stored; incidents from `since` (epoch ms) on. */
export async function verifyStoredTrail(store: Store, since: number): Promise<AuditVerifyResponse> {
  const problems: string[] = []
  let verified = 0
  const devices = await store.listAuditDevices()
  for (const d of devices) {
    const key = publicKeyFromRaw(d.publicKey)
    const keys = new Map<string, KeyObject>(key === undefined ? [] : [[d.keyId, key]])
    const events = await store.listAuditEvents(d.deviceId)
    const report = verifyBatches(batchesOf(await store.listAuditBatches(d.deviceId), events), keys)
    verified += report.verified
    problems.push(...report.messages.map((m) => `device ${d.deviceId}: ${m}`), ...columnProblems(events))
  }
  problems.push(...verifyServerChain(await store.listAuditServerChain()).map(describeServerProblem))
  problems.push(...(await store.listAuditIncidents(since)).map(describeIncident))
  return {ok: problems.length === 0, devices: devices.length, verified, problems}
}
