import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {eventHash, HashChain} from '../../src/audit/chain.js'
import type {AuditEventBody, ChainedEvent} from '../../src/audit/event.js'
import {DEFAULT_APPROVAL} from '../../src/policy/index.js'
import {parseTrailCursor, searchTrails} from '../../src/server/audit/approval-trail.js'
import {openStore, type AuditSearchQuery, type Store} from '../../src/server/store/index.js'
import {adminQuery, uniqueName} from '../support/pg-scratch.js'
import {body} from '../unit/audit-helpers.js'

// The audit search over the device trail and the approval transitions together, in both store flavours:
// one order, pages that join up through the cursor (also across ties at one millisecond), and the text
// filter on transitions with LIKE wildcards taken literally.

const T0 = Date.parse('2031-01-01T00:00:00Z')

function statement(time: number, sql: string, n: number): AuditEventBody {
  return body(n, {time: new Date(time).toISOString(), identity: 'bob', statement: sql})
}

async function ingest(store: Store, events: ChainedEvent[]): Promise<void> {
  const first = events[0]!
  await store.ingestAuditBatch(
    {
      ownerSub: 'bob',
      events,
      batch: {
        deviceId: 'dev-1',
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

async function request(store: Store, id: string, sql: string, at: number): Promise<void> {
  await store.createApproval({
    id,
    status: 'pending',
    requesterSub: 'bob',
    requesterName: 'Bob',
    actor: 'human',
    agent: null,
    target: 'pg',
    statement: sql,
    fingerprint: 'sha256:x',
    rule: 'r',
    policyName: 'p',
    reason: 'why',
    process: null,
    source: 'cli',
    settings: DEFAULT_APPROVAL,
    createdAt: at,
    expiresAt: at + 3_600_000,
    decidedAt: null,
    usesLeft: 0,
    grantExpiresAt: null,
    votes: [],
  })
}

/** Every page of a search, `limit` at a time, following next_cursor. */
async function pages(store: Store, q: Omit<AuditSearchQuery, 'limit'>, limit: number): Promise<string[]> {
  const ids: string[] = []
  let after: AuditSearchQuery['after']
  for (let i = 0; i < 50; i++) {
    const page = await searchTrails(store, {...q, limit, after})
    ids.push(...page.events.map((e) => String(e.event.id)))
    if (page.next_cursor === null) return ids
    after = parseTrailCursor(page.next_cursor)
  }
  throw new Error('the cursor never ended')
}

describe.each(['sqlite', 'postgres'] as const)('audit search with approvals: %s', (kind) => {
  let store: Store
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-approvals-search-'))
  const db = uniqueName('dbgate_approvals_search')

  beforeAll(async () => {
    if (kind === 'postgres') await adminQuery(`CREATE DATABASE ${db}`)
    store = await openStore(
      kind === 'sqlite' ? {kind, dataDir: dir} : {kind, url: `postgres://postgres@127.0.0.1:5432/${db}`},
      T0,
    )
    const chain = new HashChain()
    await ingest(
      store,
      [T0, T0 + 1000, T0 + 1000, T0 + 2000].map(
        (t, i) => chain.append(statement(t, `select ${i} from t_alpha`, i)).event,
      ),
    )
    // Transitions at the same milliseconds as trail events, and two requests at one millisecond.
    await request(store, 'apr_aaaaaaaaaaaa', 'delete from t_alpha where note = $$50%$$', T0 + 1000)
    await request(store, 'apr_bbbbbbbbbbbb', 'delete from t_beta', T0 + 1000)
    await store.voteApproval(
      'apr_aaaaaaaaaaaa',
      {approverSub: 'carol', approverName: 'Carol', decision: 'approve', comment: 'ok', at: T0 + 2000},
      T0 + 2000,
    )
  })
  afterAll(async () => {
    await store?.close()
    rmSync(dir, {recursive: true, force: true})
    if (kind === 'postgres') await adminQuery(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
  })

  it('merges both trails newest first; every page size gives the same sequence', async () => {
    const all = await searchTrails(store, {limit: 100})
    expect(all.events.map((e) => [e.event.time, e.event.approval_event ?? e.event.type])).toEqual([
      [new Date(T0 + 2000).toISOString(), 'statement'],
      [new Date(T0 + 2000).toISOString(), 'approved'],
      [new Date(T0 + 1000).toISOString(), 'statement'],
      [new Date(T0 + 1000).toISOString(), 'statement'],
      [new Date(T0 + 1000).toISOString(), 'requested'],
      [new Date(T0 + 1000).toISOString(), 'requested'],
      [new Date(T0).toISOString(), 'statement'],
    ])
    expect(all.next_cursor).toBeNull()
    const ids = all.events.map((e) => String(e.event.id))
    for (const limit of [1, 2, 3, 4, 6]) expect(await pages(store, {}, limit)).toEqual(ids)
  })

  it('filters transitions like trail events: text, decision, table and the caller limit', async () => {
    const text = async (t: string): Promise<string[]> =>
      (await searchTrails(store, {limit: 100, text: t})).events.map((e) => String(e.event.id))
    expect(await text('t_beta')).toEqual(['apr_bbbbbbbbbbbb#1'])
    expect(await text('ok')).toEqual(['apr_aaaaaaaaaaaa#2'])
    // A LIKE wildcard in the search text is a plain character.
    expect(await text('t_alph_')).toEqual([])
    const review = await searchTrails(store, {limit: 100, decision: 'review'})
    expect(review.events.every((e) => e.event.type === 'approval')).toBe(true)
    expect(review.events).toHaveLength(3)
    expect((await searchTrails(store, {limit: 100, decision: 'allow'})).events).toHaveLength(4)
    expect((await searchTrails(store, {limit: 100, table: 'public.t_alpha'})).events).toHaveLength(0)
    // Carol, limited to her own events, sees her vote and nothing of Bob's requests or sessions.
    const carol = await searchTrails(store, {limit: 100, ownerSub: 'carol'})
    expect(carol.events.map((e) => e.event.id)).toEqual(['apr_aaaaaaaaaaaa#2'])
    expect(carol.events[0]?.event).toMatchObject({identity: 'carol', requester: 'bob', detail: 'ok'})
  })

  it('refuses a cursor it did not hand out', () => {
    expect(() => parseTrailCursor(Buffer.from('1:0:1:drop table').toString('base64url'))).toThrow(
      'cursor is not one this server handed out',
    )
  })
})
