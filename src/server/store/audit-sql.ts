import {randomUUID} from 'node:crypto'

import {GENESIS_HASH} from '../../audit/chain.js'
import type {ChainedEvent} from '../../audit/event.js'
import {SERVER_GENESIS, serverHash, type ServerLink} from '../audit/server-chain.js'
import type {SqlDriver, SqlExecutor, SqlRow, SqlValue} from './driver.js'
import type {
  AuditBatchRecord,
  AuditDeviceRecord,
  AuditIncidentRecord,
  AuditIngest,
  AuditIngestOutcome,
  AuditSearchQuery,
  StoredAuditEvent,
} from './store.js'

/**
 * The audit trail's SQL (one copy for both dialects but full-text search). Ingest runs in one transaction,
 * serialised across replicas by an advisory lock on PostgreSQL, because the server chain is one sequence.
 */

const s = (row: SqlRow, c: string): string => String(row[c])
const n = (row: SqlRow, c: string): number => Number(row[c])
const opt = (row: SqlRow, c: string): string | null =>
  row[c] === null || row[c] === undefined ? null : String(row[c])

function deviceFrom(row: SqlRow): AuditDeviceRecord {
  return {
    deviceId: s(row, 'device_id'),
    ownerSub: s(row, 'owner_sub'),
    keyId: s(row, 'key_id'),
    publicKey: s(row, 'public_key'),
    createdAt: n(row, 'created_at'),
  }
}

function batchFrom(row: SqlRow): AuditBatchRecord {
  return {
    deviceId: s(row, 'device_id'),
    firstSeq: n(row, 'first_seq'),
    lastSeq: n(row, 'last_seq'),
    prevHash: s(row, 'prev_hash'),
    hashes: JSON.parse(s(row, 'hashes_json')) as string[],
    keyId: s(row, 'key_id'),
    signature: s(row, 'signature'),
    receivedAt: n(row, 'received_at'),
  }
}

function eventFrom(row: SqlRow): StoredAuditEvent {
  return {
    deviceId: s(row, 'device_id'),
    seq: n(row, 'seq'),
    batchFirstSeq: n(row, 'batch_first_seq'),
    batchLastSeq: n(row, 'batch_last_seq'),
    ownerSub: s(row, 'owner_sub'),
    serverSeq: n(row, 'server_seq'),
    hash: s(row, 'hash'),
    event: JSON.parse(s(row, 'event_json')) as ChainedEvent,
    columns: {
      identity: s(row, 'identity'),
      target: s(row, 'target'),
      decision: opt(row, 'decision'),
      statement: opt(row, 'statement'),
      actor: s(row, 'actor'),
      timeMs: n(row, 'time_ms'),
      tables: tableSet(JSON.parse(s(row, 'tables_json')) as unknown),
      tableRows: [],
    },
  }
}

/** Distinct table names, sorted (how verify compares the table columns with the event). */
export function tableSet(tables: unknown): string[] {
  if (!Array.isArray(tables)) return []
  return [...new Set(tables.map(String))].sort()
}

function incidentFrom(row: SqlRow): AuditIncidentRecord {
  return {
    id: s(row, 'id'),
    deviceId: s(row, 'device_id'),
    ownerSub: s(row, 'owner_sub'),
    kind: s(row, 'kind') as AuditIncidentRecord['kind'],
    firstSeq: n(row, 'first_seq'),
    lastSeq: n(row, 'last_seq'),
    detail: s(row, 'detail'),
    at: n(row, 'at'),
  }
}

/** First writer wins; returns what is stored. Remembers the owner's email for `audit search --user EMAIL`. */
export async function registerAuditDevice(db: SqlDriver, d: AuditDeviceRecord): Promise<AuditDeviceRecord> {
  await db.run(
    `INSERT INTO audit_devices (device_id, owner_sub, key_id, public_key, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO NOTHING`,
    [d.deviceId, d.ownerSub, d.keyId, d.publicKey, d.createdAt],
  )
  const stored = (await getAuditDevice(db, d.deviceId)) ?? d
  if (d.ownerEmail !== undefined && d.ownerEmail !== '' && stored.ownerSub === d.ownerSub)
    await db.run(
      `INSERT INTO audit_identities (email, sub, seen_at) VALUES (?, ?, ?) ON CONFLICT (email, sub) DO NOTHING`,
      [d.ownerEmail.toLowerCase(), d.ownerSub, d.createdAt],
    )
  return stored
}

/** The identities (subs) `user` names: itself, and every sub that registered a device with it as email. */
async function identitiesNamed(db: SqlExecutor, user: string): Promise<string[]> {
  const rows = await db.query(`SELECT sub FROM audit_identities WHERE email = ?`, [user.toLowerCase()])
  return [...new Set([user, ...rows.map((r) => s(r, 'sub'))])]
}

/** By id. */
export async function getAuditDevice(db: SqlExecutor, id: string): Promise<AuditDeviceRecord | undefined> {
  const rows = await db.query(`SELECT * FROM audit_devices WHERE device_id = ?`, [id])
  return rows[0] ? deviceFrom(rows[0]) : undefined
}

/** All devices. */
export async function listAuditDevices(db: SqlExecutor): Promise<AuditDeviceRecord[]> {
  return (await db.query(`SELECT * FROM audit_devices ORDER BY device_id`)).map(deviceFrom)
}

/** Inserts an incident. */
export async function recordAuditIncident(db: SqlExecutor, i: AuditIncidentRecord): Promise<void> {
  await db.run(
    `INSERT INTO audit_incidents (id, device_id, owner_sub, kind, first_seq, last_seq, detail, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [i.id, i.deviceId, i.ownerSub, i.kind, i.firstSeq, i.lastSeq, i.detail, i.at],
  )
}

function incident(
  x: AuditIngest,
  kind: AuditIncidentRecord['kind'],
  from: number,
  to: number,
  detail: string,
  now: number,
): AuditIncidentRecord {
  return {
    id: randomUUID(),
    deviceId: x.batch.deviceId,
    ownerSub: x.ownerSub,
    kind,
    firstSeq: from,
    lastSeq: to,
    detail,
    at: now,
  }
}

/** Stores a batch atomically; see Store.ingestAuditBatch. */
export async function ingestAuditBatch(
  db: SqlDriver,
  x: AuditIngest,
  now: number,
): Promise<AuditIngestOutcome> {
  return db.transaction(async (tx) => {
    if (db.dialect === 'postgres') await tx.query(`SELECT pg_advisory_xact_lock(4242424243)`)
    const b = x.batch
    const existing = new Map<number, string>()
    const rows = await tx.query(
      `SELECT seq, hash FROM audit_events WHERE device_id = ? AND seq >= ? AND seq <= ?`,
      [b.deviceId, b.firstSeq - 1, b.lastSeq],
    )
    for (const r of rows) existing.set(n(r, 'seq'), s(r, 'hash'))
    const clash = b.hashes.findIndex((h, j) => {
      const had = existing.get(b.firstSeq + j)
      return had !== undefined && had !== h
    })
    if (clash >= 0) {
      const msg = `seq ${b.firstSeq + clash} is already stored with different content`
      await recordAuditIncident(tx, incident(x, 'conflict', b.firstSeq, b.lastSeq, msg, now))
      return {kind: 'conflict', message: msg}
    }
    const before = b.firstSeq === 1 ? GENESIS_HASH : existing.get(b.firstSeq - 1)
    if (before !== undefined && before !== b.prevHash) {
      const msg = `prev_hash of seq ${b.firstSeq} is not the stored hash of seq ${b.firstSeq - 1}`
      await recordAuditIncident(tx, incident(x, 'chain_break', b.firstSeq, b.lastSeq, msg, now))
      return {kind: 'conflict', message: msg}
    }
    const tail = await tx.query(`SELECT MAX(seq) AS m FROM audit_events WHERE device_id = ?`, [b.deviceId])
    const lastStored = Number(tail[0]?.m ?? 0)
    const fresh = x.events.filter((e) => !existing.has(e.seq))
    if (fresh.length === 0) {
      if (b.lastSeq < lastStored)
        await recordAuditIncident(
          tx,
          incident(
            x,
            'replayed',
            b.firstSeq,
            b.lastSeq,
            `batch already stored (device is at seq ${lastStored})`,
            now,
          ),
        )
      return {kind: 'accepted', ackedSeq: b.lastSeq, stored: 0, gap: null}
    }
    let gap: {from: number; to: number} | null = null
    if (before === undefined) {
      const below = await tx.query(`SELECT MAX(seq) AS m FROM audit_events WHERE device_id = ? AND seq < ?`, [
        b.deviceId,
        b.firstSeq,
      ])
      gap = {from: Number(below[0]?.m ?? 0) + 1, to: b.firstSeq - 1}
      await recordAuditIncident(
        tx,
        incident(
          x,
          'gap',
          gap.from,
          gap.to,
          `batch ${b.firstSeq}-${b.lastSeq} arrived before these seqs`,
          now,
        ),
      )
    }
    await tx.run(
      `INSERT INTO audit_batches (device_id, first_seq, last_seq, prev_hash, hashes_json, key_id, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, first_seq, last_seq) DO NOTHING`,
      [
        b.deviceId,
        b.firstSeq,
        b.lastSeq,
        b.prevHash,
        JSON.stringify(b.hashes),
        b.keyId,
        b.signature,
        b.receivedAt,
      ],
    )
    await appendEvents(db.dialect, tx, x, fresh)
    return {kind: 'accepted', ackedSeq: b.lastSeq, stored: fresh.length, gap}
  })
}

async function appendEvents(
  dialect: 'sqlite' | 'postgres',
  tx: SqlExecutor,
  x: AuditIngest,
  fresh: readonly ChainedEvent[],
): Promise<void> {
  const head = await tx.query(
    `SELECT server_seq, server_hash FROM audit_events ORDER BY server_seq DESC LIMIT 1`,
  )
  let serverSeq = head[0] ? n(head[0], 'server_seq') : 0
  let prev = head[0] ? s(head[0], 'server_hash') : SERVER_GENESIS
  const b = x.batch
  for (const e of fresh) {
    const hash = b.hashes[e.seq - b.firstSeq] as string
    const link = serverHash(prev, b.deviceId, e.seq, hash)
    serverSeq++
    const params: SqlValue[] = [
      b.deviceId,
      e.seq,
      b.firstSeq,
      b.lastSeq,
      x.ownerSub,
      Date.parse(e.time),
      e.identity,
      e.actor,
      e.target,
      e.decision,
      e.statement,
      JSON.stringify(e.tables),
      JSON.stringify(e),
      hash,
      serverSeq,
      prev,
      link,
    ]
    await tx.run(
      `INSERT INTO audit_events (device_id, seq, batch_first_seq, batch_last_seq, owner_sub, time_ms, identity, actor,
         target, decision, statement, tables_json, event_json, hash, server_seq, server_prev_hash, server_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params,
    )
    for (const table of tableSet(e.tables))
      await tx.run(`INSERT INTO audit_event_tables (table_name, time_ms, server_seq) VALUES (?, ?, ?)`, [
        table,
        Date.parse(e.time),
        serverSeq,
      ])
    if (dialect === 'sqlite' && e.statement !== null)
      await tx.run(`INSERT INTO audit_events_fts (rowid, statement) VALUES (?, ?)`, [serverSeq, e.statement])
    prev = link
  }
}

/** FTS5 query: every word must occur (each quoted, so operators in the input are plain words). */
function ftsQuery(text: string): string {
  return text
    .split(/\s+/)
    .filter((w) => w !== '')
    .map((w) => `"${w.replaceAll('"', '""')}"`)
    .join(' ')
}

/**
 * The search's SQL: newest first, with every filter that is set, each served by an index (time, identity,
 * owner, target, decision, actor, the table rows, full text). `subs` are the identities `q.identity` names.
 */
export function auditSearchSql(
  dialect: 'sqlite' | 'postgres',
  q: AuditSearchQuery,
  subs: readonly string[] = [],
): {sql: string; params: SqlValue[]} {
  const where: string[] = []
  const params: SqlValue[] = []
  const add = (sql: string, ...values: SqlValue[]): void => {
    where.push(sql)
    params.push(...values)
  }
  if (q.ownerSub !== undefined) add(`owner_sub = ?`, q.ownerSub)
  if (q.identity !== undefined) {
    const names = subs.length > 0 ? subs : [q.identity]
    add(`identity IN (${names.map(() => '?').join(', ')})`, ...names)
  }
  if (q.target !== undefined) add(`target = ?`, q.target)
  if (q.decision !== undefined) add(`decision = ?`, q.decision)
  if (q.actor !== undefined) add(`actor = ?`, q.actor)
  if (q.since !== undefined) add(`time_ms >= ?`, q.since)
  if (q.until !== undefined) add(`time_ms < ?`, q.until)
  if (q.table !== undefined)
    add(`server_seq IN (SELECT server_seq FROM audit_event_tables WHERE table_name = ?)`, q.table)
  if (q.after !== undefined)
    add(`(time_ms < ? OR (time_ms = ? AND server_seq < ?))`, q.after.time, q.after.time, q.after.serverSeq)
  if (q.text !== undefined && q.text.trim() !== '') {
    if (dialect === 'sqlite')
      add(
        `server_seq IN (SELECT rowid FROM audit_events_fts WHERE audit_events_fts MATCH ?)`,
        ftsQuery(q.text),
      )
    else add(`to_tsvector('simple', COALESCE(statement, '')) @@ plainto_tsquery('simple', ?)`, q.text)
  }
  const sql = `SELECT * FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY time_ms DESC, server_seq DESC LIMIT ?`
  return {sql, params: [...params, q.limit]}
}

/** Newest first, with every filter that is set; `identity` matches a sub or an email. */
export async function searchAuditEvents(db: SqlDriver, q: AuditSearchQuery): Promise<StoredAuditEvent[]> {
  const subs = q.identity === undefined ? [] : await identitiesNamed(db, q.identity)
  const {sql, params} = auditSearchSql(db.dialect, q, subs)
  return (await db.query(sql, params)).map(eventFrom)
}

/** A page of batch headers: those after `(first_seq, last_seq)` = `after`, in that order. */
export interface BatchPage {
  readonly after: {readonly firstSeq: number; readonly lastSeq: number}
  readonly limit: number
}

/** A device's batch headers (all, or one page). */
export async function listAuditBatches(
  db: SqlExecutor,
  deviceId: string,
  page?: BatchPage,
): Promise<AuditBatchRecord[]> {
  if (page === undefined) {
    const all = `SELECT * FROM audit_batches WHERE device_id = ? ORDER BY first_seq, last_seq`
    return (await db.query(all, [deviceId])).map(batchFrom)
  }
  const {firstSeq, lastSeq} = page.after
  const rows = await db.query(
    `SELECT * FROM audit_batches WHERE device_id = ? AND (first_seq > ? OR (first_seq = ? AND last_seq > ?))
       ORDER BY first_seq, last_seq LIMIT ?`,
    [deviceId, firstSeq, firstSeq, lastSeq, page.limit],
  )
  return rows.map(batchFrom)
}

/** The header of the batch that holds `seq` (the signed hash a partial verification starts from). */
export async function auditBatchHolding(
  db: SqlExecutor,
  deviceId: string,
  seq: number,
): Promise<AuditBatchRecord | undefined> {
  const rows = await db.query(
    `SELECT * FROM audit_batches WHERE device_id = ? AND first_seq <= ? AND last_seq >= ?
       ORDER BY first_seq, last_seq LIMIT 1`,
    [deviceId, seq, seq],
  )
  return rows.map(batchFrom)[0]
}

/** A device's events in server order (all, or those with `from <= seq <= to`), with their table rows. */
export async function listAuditEvents(
  db: SqlExecutor,
  deviceId: string,
  range?: {readonly from: number; readonly to: number},
): Promise<StoredAuditEvent[]> {
  const where = range === undefined ? `device_id = ?` : `device_id = ? AND seq >= ? AND seq <= ?`
  const params = range === undefined ? [deviceId] : [deviceId, range.from, range.to]
  const events = (
    await db.query(`SELECT * FROM audit_events WHERE ${where} ORDER BY server_seq`, params)
  ).map(eventFrom)
  const tables = await db.query(
    `SELECT t.server_seq, t.table_name FROM audit_event_tables t
       WHERE t.server_seq IN (SELECT server_seq FROM audit_events WHERE ${where})`,
    params,
  )
  const bySeq = new Map(events.map((e) => [e.serverSeq, e]))
  for (const r of tables) bySeq.get(n(r, 'server_seq'))?.columns.tableRows.push(s(r, 'table_name'))
  for (const e of events) e.columns.tableRows.sort()
  return events
}

/** Where a verification of the events since `since` (epoch ms) starts: per device and on the server chain. */
export async function auditStartSince(
  db: SqlExecutor,
  since: number,
): Promise<{serverSeq: number | null; devices: Map<string, number>}> {
  const first = await db.query(`SELECT MIN(server_seq) AS m FROM audit_events WHERE time_ms >= ?`, [since])
  const m = first[0]?.m
  const rows = await db.query(
    `SELECT device_id, MIN(batch_first_seq) AS s FROM audit_events WHERE time_ms >= ? GROUP BY device_id`,
    [since],
  )
  return {
    serverSeq: m === null || m === undefined ? null : Number(m),
    devices: new Map(rows.map((r) => [s(r, 'device_id'), Number(r.s)])),
  }
}

/** The server chain (all, or `limit` links after `after`). */
export async function listAuditServerChain(
  db: SqlExecutor,
  page?: {readonly after: number; readonly limit: number},
): Promise<ServerLink[]> {
  const cols = `SELECT server_seq, server_prev_hash, server_hash, device_id, seq, hash FROM audit_events`
  const rows =
    page === undefined
      ? await db.query(`${cols} ORDER BY server_seq`)
      : await db.query(`${cols} WHERE server_seq > ? ORDER BY server_seq LIMIT ?`, [page.after, page.limit])
  return rows.map((r) => ({
    serverSeq: n(r, 'server_seq'),
    serverPrevHash: s(r, 'server_prev_hash'),
    serverHash: s(r, 'server_hash'),
    deviceId: s(r, 'device_id'),
    seq: n(r, 'seq'),
    hash: s(r, 'hash'),
  }))
}

/** Incidents since a time. */
export async function listAuditIncidents(db: SqlExecutor, since: number): Promise<AuditIncidentRecord[]> {
  const rows = await db.query(`SELECT * FROM audit_incidents WHERE at >= ? ORDER BY at, id`, [since])
  return rows.map(incidentFrom)
}
