import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DEFAULT_APPROVAL} from '../../src/policy/index.js'
import Database from 'better-sqlite3'

import {approvalChainIntact} from '../../src/server/store/approval-chain.js'
import {openStore, type ApprovalRecord, type Store} from '../../src/server/store/index.js'
import {adminQuery, uniqueName} from '../support/pg-scratch.js'

// Approval requests in both store flavours: votes, expiry, and a grant spent exactly once under concurrency.

const T0 = 1_800_000_000_000

function request(id: string, over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id,
    status: 'pending',
    requesterSub: 'bob',
    requesterName: 'Bob',
    actor: 'human',
    agent: null,
    target: 'pg',
    statement: 'delete from items where id = 1',
    fingerprint: 'sha256:abc',
    rule: 'review-deletes',
    policyName: 'p',
    reason: 'cleanup',
    process: null,
    source: 'cli',
    settings: {...DEFAULT_APPROVAL, uses: 2},
    createdAt: T0,
    expiresAt: T0 + 60_000,
    decidedAt: null,
    usesLeft: 0,
    grantExpiresAt: null,
    votes: [],
    ...over,
  }
}

const vote = (sub: string, decision: 'approve' | 'deny' = 'approve') => ({
  approverSub: sub,
  approverName: sub,
  decision,
  comment: null,
  at: T0 + 1,
})

const grant = (id: string | undefined, statement = 'delete from items where id = 1') => ({
  id,
  requesterSub: 'bob',
  target: 'pg',
  fingerprint: 'sha256:abc',
  statement,
})

describe.each(['sqlite', 'postgres'] as const)('approvals store: %s', (kind) => {
  let store: Store
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-approvals-store-'))
  const db = uniqueName('dbgate_approvals_store')

  beforeAll(async () => {
    if (kind === 'postgres') await adminQuery(`CREATE DATABASE ${db}`)
    store = await openStore(
      kind === 'sqlite' ? {kind, dataDir: dir} : {kind, url: `postgres://postgres@127.0.0.1:5432/${db}`},
      T0,
    )
  })
  afterAll(async () => {
    await store?.close()
    rmSync(dir, {recursive: true, force: true})
    if (kind === 'postgres') await adminQuery(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
  })

  it('a grant of two uses is spent exactly twice by ten concurrent uses', async () => {
    await store.createApproval(request('apr_a'))
    expect(await store.useGrant(grant('apr_a'), T0 + 2)).toBeUndefined()
    const voted = await store.voteApproval('apr_a', vote('alice'), T0 + 1)
    expect(voted.kind === 'recorded' && voted.record.status).toBe('approved')
    const uses = await Promise.all(Array.from({length: 10}, () => store.useGrant(grant(undefined), T0 + 2)))
    expect(uses.filter((u) => u !== undefined)).toHaveLength(2)
    const events = await store.listApprovalEvents('apr_a')
    expect(events.map((e) => e.type)).toEqual(['requested', 'approved', 'used', 'used'])
    expect(approvalChainIntact(events)).toBe(true)
    const tamper = `UPDATE approval_events SET detail = 'nothing to see' WHERE approval_id = 'apr_a' AND n = 2`
    if (kind === 'postgres') await adminQuery(tamper, db)
    else {
      const raw = new Database(join(dir, 'control-plane.db'))
      raw.prepare(tamper).run()
      raw.close()
    }
    expect(approvalChainIntact(await store.listApprovalEvents('apr_a'))).toBe(false)
    expect(approvalChainIntact((await store.listApprovalEvents('apr_a')).slice(0, 1))).toBe(true)
  })

  it('the exact text is required unless any_literals; an expired grant is never used', async () => {
    await store.createApproval(request('apr_b', {settings: {...DEFAULT_APPROVAL, window: 10}}))
    await store.voteApproval('apr_b', vote('alice'), T0 + 1)
    expect(await store.useGrant(grant('apr_b', 'delete from items where id = 2'), T0 + 2)).toBeUndefined()
    expect(await store.useGrant(grant('apr_b'), T0 + 20_000)).toBeUndefined()
    await store.createApproval(request('apr_c', {settings: {...DEFAULT_APPROVAL, anyLiterals: true}}))
    await store.voteApproval('apr_c', vote('alice'), T0 + 1)
    expect((await store.useGrant(grant('apr_c', 'delete from items where id = 2'), T0 + 2))?.id).toBe('apr_c')
  })

  it('votes: one per approver, N distinct approvers, a deny decides, nothing after expiry', async () => {
    await store.createApproval(request('apr_d', {settings: {...DEFAULT_APPROVAL, approvers: 2}}))
    expect((await store.voteApproval('apr_d', vote('alice'), T0 + 1)).kind).toBe('recorded')
    expect((await store.voteApproval('apr_d', vote('alice'), T0 + 1)).kind).toBe('already_voted')
    expect((await store.getApproval('apr_d'))?.status).toBe('pending')
    const second = await store.voteApproval('apr_d', vote('carol'), T0 + 1)
    expect(second.kind === 'recorded' && second.record.status).toBe('approved')

    await store.createApproval(request('apr_e'))
    const denied = await store.voteApproval('apr_e', vote('alice', 'deny'), T0 + 1)
    expect(denied.kind === 'recorded' && denied.record.status).toBe('denied')

    await store.createApproval(request('apr_f'))
    expect(await store.expireApprovals(T0 + 60_000)).toEqual(['apr_f'])
    expect((await store.voteApproval('apr_f', vote('alice'), T0 + 60_001)).kind).toBe('not_pending')
    expect((await store.listApprovalEvents('apr_f')).map((e) => e.type)).toEqual(['requested', 'expired'])
    expect((await store.listApprovals({status: 'pending', limit: 10})).map((a) => a.id)).toEqual([])
  })
  it('the next deadline is the earliest pending expiry or unspent grant window; a grant past it ends with an event', async () => {
    // Left by the tests above: only apr_d's grant (1 use, window of one hour from T0 + 1) still waits.
    expect(await store.nextApprovalDeadline()).toBe(T0 + 1 + 3_600_000)
    await store.createApproval(request('apr_g', {expiresAt: T0 + 30_000}))
    expect(await store.nextApprovalDeadline()).toBe(T0 + 30_000)
    expect(await store.expireApprovals(T0 + 3_600_001)).toEqual(['apr_g'])
    const events = await store.listApprovalEvents('apr_d')
    expect(events.at(-1)).toMatchObject({type: 'expired', detail: 'the grant expired with 1 use(s) left'})
    expect(approvalChainIntact(events)).toBe(true)
    expect((await store.getApproval('apr_d'))?.usesLeft).toBe(0)
    expect(await store.useGrant(grant('apr_d'), T0 + 2)).toBeUndefined()
    expect(await store.nextApprovalDeadline()).toBeNull()
    // A second sweep finds nothing more to expire and records no second event.
    expect(await store.expireApprovals(T0 + 3_600_002)).toEqual([])
    expect(await store.listApprovalEvents('apr_d')).toHaveLength(events.length)
  })

  it('migration 7 indexes approval_events by (at, approval_id, n), also in a store made by an older version', async () => {
    const raw = async (sql: string): Promise<Record<string, unknown>[]> => {
      if (kind === 'postgres') return (await adminQuery(sql, db)).rows as Record<string, unknown>[]
      const file = new Database(join(dir, 'control-plane.db'))
      try {
        const statement = file.prepare(sql)
        if (statement.reader) return statement.all() as Record<string, unknown>[]
        statement.run()
        return []
      } finally {
        file.close()
      }
    }
    const columns = async (): Promise<string[]> =>
      kind === 'postgres'
        ? (
            await raw(
              `SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE c.relname = 'approval_events_at' ORDER BY array_position(i.indkey, a.attnum)`,
            )
          ).map((r) => String(r.attname))
        : (await raw(`PRAGMA index_info('approval_events_at')`)).map((r) => String(r.name))
    expect(await columns()).toEqual(['at', 'approval_id', 'n'])
    expect(await raw(`SELECT version FROM schema_migrations WHERE version = 7`)).toHaveLength(1)

    // The store as version 6 left it: opening it again applies migration 7, and search still answers.
    await store.close()
    await raw(`DROP INDEX approval_events_at`)
    await raw(`DELETE FROM schema_migrations WHERE version = 7`)
    expect(await columns()).toEqual([])
    store = await openStore(
      kind === 'sqlite' ? {kind, dataDir: dir} : {kind, url: `postgres://postgres@127.0.0.1:5432/${db}`},
      T0,
    )
    expect(await columns()).toEqual(['at', 'approval_id', 'n'])
    const found = await store.searchApprovalEvents({since: T0, until: T0 + 2, limit: 5})
    expect(found.length).toBeGreaterThan(0)
    expect(found.every((e) => e.at >= T0 && e.at < T0 + 2)).toBe(true)
  })
})
