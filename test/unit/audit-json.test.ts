/** The hand-written audit event serialiser must write exactly what JSON.stringify writes. */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {JsonlSpool} from '../../src/audit/spool.js'
import {auditEventJson, type AuditEvent} from '../../src/audit/types.js'

const text = fc.oneof(
  fc.string(),
  fc.string({unit: 'binary'}),
  fc.constantFrom('', '"', '\\', '\n', '\u2028'),
)
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, {nil: undefined})

/** Events with keys in AuditEvent order, the way the proxy builds them. */
const event: fc.Arbitrary<AuditEvent> = fc
  .record({
    id: text,
    type: fc.constantFrom('session_start', 'session_end', 'statement'),
    time: text,
    session_id: fc.constantFrom('s1', 's2', 's3'),
    identity: fc.constantFrom('alice', 'bob'),
    actor: fc.constantFrom('human', 'agent', 'ci'),
    target: text,
    protocol: fc.constantFrom('postgres', 'mysql'),
    database: text,
    db_user: text,
    statement: maybe(text),
    kinds: maybe(fc.array(text, {maxLength: 3})),
    tables: maybe(fc.array(text, {maxLength: 3})),
    decision: maybe(fc.constantFrom('allow', 'deny', 'review')),
    rule: maybe(fc.option(text, {nil: null})),
    rows: maybe(fc.option(fc.integer(), {nil: null})),
    duration_ms: maybe(fc.oneof(fc.double(), fc.constant(0.125))),
    error: maybe(fc.option(text, {nil: null})),
    client_version: text,
    application_name: maybe(text),
  })
  .map((e) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v
    return out as unknown as AuditEvent
  })

describe('auditEventJson', () => {
  it('writes the same text as JSON.stringify, for any values (escapes, lone surrogates, NaN)', () => {
    fc.assert(
      fc.property(fc.array(event, {minLength: 1, maxLength: 6}), (events) => {
        for (const e of events) expect(auditEventJson(e)).toBe(JSON.stringify(e))
      }),
      {numRuns: 500},
    )
  })

  it('does not reuse one session’s fields for another session with the same id', () => {
    const base = {
      id: '1',
      type: 'statement',
      time: 't',
      session_id: 'same',
      identity: 'alice',
      actor: 'human',
      target: 'h:1/db',
      protocol: 'postgres',
      database: 'db',
      db_user: 'u',
      client_version: '1',
    } as const
    expect(JSON.parse(auditEventJson(base))).toMatchObject({identity: 'alice'})
    expect(JSON.parse(auditEventJson({...base, identity: 'mallory'}))).toMatchObject({identity: 'mallory'})
  })
})

describe('JsonlSpool', () => {
  it('appends one JSON line per event, non-ASCII text included, and flushes on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbgate-spool-'))
    try {
      const spool = new JsonlSpool(dir, {flushEvents: 3})
      const events = Array.from({length: 7}, (_, i) => ({
        id: String(i),
        type: 'statement' as const,
        time: 't',
        session_id: 's',
        identity: 'ü',
        actor: 'human' as const,
        target: 'h',
        protocol: 'postgres' as const,
        database: 'd',
        db_user: 'u',
        statement: `select '€${'x'.repeat(i * 400)}'`,
        client_version: '1',
      }))
      for (const e of events) spool.write(e)
      await spool.close()
      const lines = readFileSync(spool.file, 'utf8').trimEnd().split('\n')
      expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(events)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
