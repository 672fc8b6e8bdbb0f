import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {auditSearchSql} from '../../src/server/store/audit-sql.js'
import {openStore, type AuditSearchQuery, type Store} from '../../src/server/store/index.js'

// `audit search` on a large trail: with 20 000 events stored, every filter is served by an index (the
// query plan names it) in both stores, full-text search on the statement included. Plans, not timings.

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
const T0 = Date.parse('2030-01-01T00:00:00Z')
const N = 20_000

/** 20 000 events over 100 identities, 50 targets, 200 tables; 1 % denied, 1 % by agents. */
const SEED = (series: string) => [
  `INSERT INTO audit_events (device_id, seq, batch_first_seq, batch_last_seq, owner_sub, time_ms, identity, actor,
     target, decision, statement, tables_json, event_json, hash, server_seq, server_prev_hash, server_hash)
   SELECT 'dev-' || (i % 20), i, i, i, 'sub-' || (i % 100), ${T0} + i * 1000, 'sub-' || (i % 100),
     CASE WHEN i % 100 = 0 THEN 'agent' ELSE 'human' END, 'target-' || (i % 50),
     CASE WHEN i % 100 = 0 THEN 'deny' ELSE 'allow' END,
     'select col' || (i % 500) || ' from t' || (i % 200), '["public.t' || (i % 200) || '"]', '{}', 'h', i, 'p', 'h'
   FROM ${series}`,
  `INSERT INTO audit_event_tables (table_name, time_ms, server_seq)
     SELECT 'public.t' || (server_seq % 200), time_ms, server_seq FROM audit_events`,
]

const queries: [string, Partial<AuditSearchQuery>, RegExp][] = [
  ['no filter (newest first)', {}, /audit_events_time/],
  ['--user', {identity: 'sub-7'}, /audit_events_identity/],
  ['a user (own events only)', {ownerSub: 'sub-7'}, /audit_events_owner/],
  ['--target', {target: 'target-3'}, /audit_events_target/],
  ['--decision', {decision: 'deny'}, /audit_events_decision/],
  ['--actor', {actor: 'agent'}, /audit_events_actor/],
  ['--since', {since: T0 + (N - 100) * 1000}, /audit_events_time/],
  ['--table', {table: 'public.t7'}, /audit_event_tables_pkey|sqlite_autoindex_audit_event_tables_1/],
  ['--text', {text: 'col7 t7'}, /audit_events_fts/],
]

interface Backend {
  open(): Promise<Store>
  seed(): Promise<void>
  /** Every index the plan of `sql` uses, as text. */
  plan(sql: string, params: unknown[]): Promise<string>
  cleanup(): Promise<void>
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-plan-'))
  const db = () => new Database(join(dir, 'control-plane.db'))
  return {
    open: () => openStore({kind: 'sqlite', dataDir: dir}, T0),
    seed: () => {
      const d = db()
      try {
        const series = `(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N}) SELECT i FROM n)`
        for (const sql of SEED(series)) d.exec(sql)
        d.exec(
          `INSERT INTO audit_events_fts (rowid, statement) SELECT server_seq, statement FROM audit_events`,
        )
        d.exec('ANALYZE')
      } finally {
        d.close()
      }
      return Promise.resolve()
    },
    plan: (sql, params) => {
      const d = db()
      try {
        const rows = d.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as never[])) as {detail: string}[]
        return Promise.resolve(rows.map((r) => r.detail).join('\n'))
      } finally {
        d.close()
      }
    },
    cleanup: () => Promise.resolve(rmSync(dir, {recursive: true, force: true})),
  }
}

function postgresBackend(): Backend {
  const name = `dbgate_audit_plan_${process.pid}_${Date.now()}`
  const url = `postgres://postgres@127.0.0.1:5432/${name}`
  const run = async <T>(target: string, sql: string, params: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client(target)
    await c.connect()
    try {
      return (await c.query(sql, params)).rows as T[]
    } finally {
      await c.end()
    }
  }
  return {
    open: async () => {
      await run(ADMIN_URL, `CREATE DATABASE ${name}`)
      return openStore({kind: 'postgres', url}, T0)
    },
    seed: async () => {
      for (const sql of SEED(`generate_series(1, ${N}) AS s(i)`)) await run(url, sql)
      await run(url, 'ANALYZE')
    },
    plan: async (sql, params) => {
      let n = 0
      const text = sql.replace(/\?/g, () => `$${++n}`)
      const rows = await run<{'QUERY PLAN': unknown}>(url, `EXPLAIN (FORMAT JSON) ${text}`, params)
      return JSON.stringify(rows[0]?.['QUERY PLAN'])
    },
    cleanup: () => run(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined),
  }
}

describe.each([
  ['sqlite', sqliteBackend, 'sqlite'],
  ['postgres', postgresBackend, 'postgres'],
] as const)('audit search plans on %s', {timeout: 120_000}, (_name, make, dialect) => {
  const backend = make()
  let store: Store

  beforeAll(async () => {
    store = await backend.open()
    await backend.seed()
  }, 120_000)
  afterAll(async () => {
    await store?.close()
    await backend.cleanup()
  })

  it.each(queries)('%s uses its index', async (_label, filter, index) => {
    const {sql, params} = auditSearchSql(dialect, {limit: 50, ...filter})
    const plan = await backend.plan(sql, params)
    expect(plan).toMatch(index)
    // No pass over the whole table.
    expect(plan).not.toMatch(dialect === 'sqlite' ? /SCAN audit_events(?!_fts)(?! USING)/ : /Seq Scan/)
    // And the search finds what the filter asks for.
    const found = await store.searchAuditEvents({limit: 50, ...filter})
    expect(found.length).toBeGreaterThan(0)
  })
})
