import {randomUUID} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {eventHash, HashChain} from '../../src/audit/chain.js'
import type {AuditEventBody, ChainedEvent} from '../../src/audit/event.js'
import {verifyServerChain} from '../../src/server/audit/server-chain.js'
import {openStore, type Store} from '../../src/server/store/index.js'

// The audit part of the store, one suite against the embedded SQLite file and a scratch PostgreSQL database:
// ingest (idempotent, conflicts, gaps, the server chain) and every search filter, full text included.

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
const T0 = Date.parse('2030-01-01T00:00:00Z')

function body(over: Partial<AuditEventBody>): AuditEventBody {
  return {
    id: randomUUID(),
    type: 'statement',
    time: new Date(T0).toISOString(),
    session_id: 's',
    identity: 'alice',
    groups: [],
    actor: 'human',
    agent: null,
    process: null,
    target: 'pg-a',
    protocol: 'postgres',
    database: 'd',
    db_user: 'u',
    statement: 'select 1',
    fingerprint: null,
    kinds: ['select'],
    tables: [],
    decision: 'allow',
    rule: null,
    approval_id: null,
    masked_columns: [],
    rows: null,
    duration_ms: null,
    error: null,
    policy_version: null,
    client_version: 't',
    application_name: null,
    ...over,
  }
}

function ingest(store: Store, device: string, owner: string, events: ChainedEvent[]) {
  const first = events[0]!
  return store.ingestAuditBatch(
    {
      ownerSub: owner,
      events,
      batch: {
        deviceId: device,
        firstSeq: first.seq,
        lastSeq: events[events.length - 1]!.seq,
        prevHash: first.prev_hash,
        hashes: events.map(eventHash),
        keyId: '0'.repeat(16),
        signature: 'unchecked-here',
        receivedAt: T0,
      },
    },
    T0,
  )
}

const backends = [
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-store-'))
      return {
        open: () => openStore({kind: 'sqlite', dataDir: dir}, T0),
        cleanup: () => Promise.resolve(rmSync(dir, {recursive: true, force: true})),
      }
    },
  ],
  [
    'postgres',
    () => {
      const db = `dbgate_audit_${process.pid}_${Date.now()}`
      const admin = async (sql: string) => {
        const c = new pg.Client(ADMIN_URL)
        await c.connect()
        await c.query(sql)
        await c.end()
      }
      return {
        open: async () => {
          await admin(`CREATE DATABASE ${db}`)
          return openStore({kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/${db}`}, T0)
        },
        cleanup: () => admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`),
      }
    },
  ],
] as const

describe.each(backends)('audit store: %s', (_name, make) => {
  const backend = make()
  let store: Store
  const a = new HashChain()
  const b = new HashChain()
  const evA = [
    a.append(body({statement: 'select name from customers', tables: ['public.customers']})).event,
    a.append(
      body({
        statement: 'delete from orders where id = 1',
        tables: ['public.orders'],
        decision: 'deny',
        time: new Date(T0 + 1000).toISOString(),
      }),
    ).event,
    a.append(
      body({
        statement: 'update orders set x = 1',
        tables: ['public.orders'],
        decision: 'review',
        actor: 'agent',
        time: new Date(T0 + 2000).toISOString(),
      }),
    ).event,
  ]
  const evB = [
    b.append(
      body({
        identity: 'bob',
        target: 'pg-b',
        statement: 'select * from customers join orders using (id)',
        time: new Date(T0 + 3000).toISOString(),
      }),
    ).event,
  ]

  beforeAll(async () => {
    store = await backend.open()
    expect(await ingest(store, 'dev-a', 'alice', evA.slice(0, 2))).toEqual({
      kind: 'accepted',
      ackedSeq: 2,
      stored: 2,
      gap: null,
    })
    expect(await ingest(store, 'dev-a', 'alice', evA.slice(0, 2))).toMatchObject({stored: 0})
    expect(await ingest(store, 'dev-a', 'alice', evA.slice(2))).toMatchObject({stored: 1, gap: null})
    expect(await ingest(store, 'dev-b', 'bob', evB)).toMatchObject({stored: 1})
  })
  afterAll(async () => {
    await store.close()
    await backend.cleanup()
  })

  it('refuses a different event for a stored seq, records gaps, and keeps one server chain', async () => {
    const fork = new HashChain({lastSeq: 2, lastHash: evA[2]!.prev_hash}).append(
      body({statement: 'drop table x'}),
    ).event
    expect(await ingest(store, 'dev-a', 'alice', [fork])).toMatchObject({kind: 'conflict'})
    const late = new HashChain({lastSeq: 9, lastHash: 'f'.repeat(64)}).append(
      body({statement: 'select late', time: new Date(T0 + 10_000).toISOString()}),
    ).event
    expect(await ingest(store, 'dev-a', 'alice', [late])).toMatchObject({
      kind: 'accepted',
      gap: {from: 4, to: 9},
    })
    const kinds = (await store.listAuditIncidents(0)).map((i) => [i.kind, i.firstSeq, i.lastSeq])
    expect(kinds).toEqual(
      expect.arrayContaining([
        ['conflict', 3, 3],
        ['gap', 4, 9],
      ]),
    )
    const chain = await store.listAuditServerChain()
    expect(chain.map((l) => l.serverSeq)).toEqual([1, 2, 3, 4, 5])
    expect(verifyServerChain(chain)).toEqual([])
  })

  it('searches by every filter, newest first', async () => {
    const stmts = async (q: Partial<Parameters<Store['searchAuditEvents']>[0]>) =>
      (await store.searchAuditEvents({limit: 50, ...q})).map((e) => e.event.statement)
    expect(await stmts({until: T0 + 3500})).toEqual([
      'select * from customers join orders using (id)',
      'update orders set x = 1',
      'delete from orders where id = 1',
      'select name from customers',
    ])
    expect(await stmts({ownerSub: 'bob'})).toEqual(['select * from customers join orders using (id)'])
    expect(await stmts({identity: 'bob'})).toEqual(['select * from customers join orders using (id)'])
    expect(await stmts({target: 'pg-b'})).toHaveLength(1)
    expect(await stmts({decision: 'deny'})).toEqual(['delete from orders where id = 1'])
    expect(await stmts({actor: 'agent'})).toEqual(['update orders set x = 1'])
    expect(await stmts({table: 'public.customers'})).toEqual(['select name from customers'])
    expect(await stmts({since: T0 + 1000, until: T0 + 2500})).toEqual([
      'update orders set x = 1',
      'delete from orders where id = 1',
    ])
    expect(await stmts({text: 'orders', until: T0 + 3500})).toEqual([
      'select * from customers join orders using (id)',
      'update orders set x = 1',
      'delete from orders where id = 1',
    ])
    expect(await stmts({text: 'customers orders'})).toEqual([
      'select * from customers join orders using (id)',
    ])
    expect(await stmts({text: 'nothing-like-this'})).toEqual([])
    const page = await store.searchAuditEvents({limit: 2, until: T0 + 3500})
    const last = page[1]!
    const next = await stmts({
      limit: 2,
      until: T0 + 3500,
      after: {time: Date.parse(last.event.time), serverSeq: last.serverSeq},
    })
    expect(next).toEqual(['delete from orders where id = 1', 'select name from customers'])
  })
})
