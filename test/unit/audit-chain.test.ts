import {generateKeyPairSync, type KeyObject} from 'node:crypto'
import fc from 'fast-check'

import {describe, expect, it} from 'vitest'

import {EMPTY_CHAIN, eventHash, GENESIS_HASH, HashChain} from '../../src/audit/chain.js'
import {
  canonicalChainedJson,
  canonicalEventJson,
  canonicalJson,
  fromAuditEvent,
  parseChainedEvent,
  SessionText,
  type ChainedEvent,
} from '../../src/audit/event.js'
import {keyIdOf, signBatch, type SignedBatch, type SigningKey} from '../../src/audit/signing.js'
import {verifyBatches, verifyChain} from '../../src/audit/verify.js'
import {body} from './audit-helpers.js'

function deviceKey(deviceId = 'dev-1'): {key: SigningKey; publicKey: KeyObject} {
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  return {key: {deviceId, keyId: keyIdOf(publicKey), privateKey}, publicKey}
}

function chainOf(count: number): ChainedEvent[] {
  const chain = new HashChain()
  return Array.from({length: count}, (_, i) => chain.append(body(i + 1)).event)
}

/** Signs events in batches of `size`. */
function batchesOf(key: SigningKey, events: ChainedEvent[], size: number): SignedBatch[] {
  const out: SignedBatch[] = []
  for (let i = 0; i < events.length; i += size) out.push(signBatch(key, events.slice(i, i + size)))
  return out
}

describe('canonical JSON', () => {
  it.each([
    [{b: 1, a: [true, null, 'x']}, '{"a":[true,null,"x"],"b":1}'],
    [{z: {y: 2, x: 'é\n'}, u: undefined}, '{"z":{"x":"é\\n","y":2}}'],
    [[], '[]'],
    [{}, '{}'],
  ])('%j → %s', (value, text) => {
    expect(canonicalJson(value)).toBe(text)
  })

  it('refuses NaN and bigint', () => {
    expect(() => canonicalJson({n: Number.NaN})).toThrow(TypeError)
    expect(() => canonicalJson({n: 1n})).toThrow(TypeError)
  })

  it('maps the proxy event into the full one', () => {
    const full = fromAuditEvent(
      {
        id: 'e1',
        type: 'statement',
        time: '2025-01-01T00:00:00.000Z',
        session_id: 's',
        identity: 'bob',
        actor: 'agent',
        target: 'h:5432/db',
        protocol: 'postgres',
        database: 'db',
        db_user: 'u',
        statement: 'select 1',
        kinds: ['select'],
        decision: 'allow',
        client_version: '0.1.0',
      },
      {agent: 'cursor', groups: ['dev']},
    )
    expect(full).toMatchObject({agent: 'cursor', groups: ['dev'], tables: [], rows: null, process: null})
  })

  it.each(['', '[]', '{"seq":0}', '{"seq":1,"prev_hash":"zz"}', 'nope'])(
    'rejects a malformed record %j',
    (t) => {
      expect(() => parseChainedEvent(t)).toThrow()
    },
  )
})

describe('hash chain', () => {
  it('links each event to the previous one from the genesis hash', () => {
    const events = chainOf(3)
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3])
    expect(events[0]!.prev_hash).toBe(GENESIS_HASH)
    expect(events[1]!.prev_hash).toBe(eventHash(events[0]!))
    expect(events[2]!.prev_hash).toBe(eventHash(events[1]!))
    expect(verifyChain(events).ok).toBe(true)
  })

  it('continues from a recovered state', () => {
    const events = chainOf(2)
    const chain = new HashChain({lastSeq: 2, lastHash: eventHash(events[1]!)})
    const third = chain.append(body(3)).event
    expect(verifyChain([...events, third]).ok).toBe(true)
    expect(new HashChain(EMPTY_CHAIN).append(body(1)).event).toEqual(events[0])
  })

  it.each<[string, (e: ChainedEvent[]) => ChainedEvent[], string[]]>([
    [
      'an edited field',
      (e) => e.map((x) => (x.seq === 4 ? {...x, statement: 'drop table t'} : x)),
      ['altered seq 4 (hash mismatch)'],
    ],
    ['a deleted event', (e) => e.filter((x) => x.seq !== 5), ['missing seq 5']],
    [
      'two swapped events',
      (e) => [...e.slice(0, 6), e[7]!, e[6]!, ...e.slice(8)],
      ['out of order: seq 7 after 8'],
    ],
    ['a repeated event', (e) => [...e, e[2]!], ['replayed batch 3']],
  ])('names %s in the local chain', (_, tamper, messages) => {
    expect(verifyChain(tamper(chainOf(10))).messages).toEqual(messages)
  })
})

describe('signed batches', () => {
  const {key, publicKey} = deviceKey()
  const keys = new Map([[key.keyId, publicKey]])

  it('accepts an untouched trail', () => {
    const r = verifyBatches(batchesOf(key, chainOf(30), 10), keys)
    expect(r).toMatchObject({ok: true, verified: 30, messages: []})
  })

  it('names an edited event', () => {
    const batches = batchesOf(key, chainOf(30), 10)
    const b = batches[1]!
    batches[1] = {...b, events: b.events.map((e) => (e.seq === 12 ? {...e, rows: 9999} : e))}
    expect(verifyBatches(batches, keys).messages).toEqual(['altered seq 12 (hash mismatch)'])
  })

  it('names deleted events inside a batch and a whole deleted batch', () => {
    const batches = batchesOf(key, chainOf(40), 10)
    const b = batches[1]!
    batches[1] = {...b, events: b.events.filter((e) => e.seq < 13 || e.seq > 15)}
    batches.splice(2, 1)
    expect(verifyBatches(batches, keys).messages).toEqual(['missing seq 13-15', 'missing seq 21-30'])
  })

  it('names swapped events and swapped batches', () => {
    const events = chainOf(30)
    const batches = batchesOf(key, events, 10)
    const b = batches[1]!
    const swapped = [...b.events]
    ;[swapped[6], swapped[7]] = [swapped[7]!, swapped[6]!]
    batches[1] = {...b, events: swapped}
    expect(verifyBatches(batches, keys).messages).toEqual(['out of order: seq 17 after 18'])
    expect(verifyBatches([batches[0]!, batches[2]!, batches[1]], keys).messages).toContain(
      'out of order: seq 11 after 30',
    )
  })

  it('names a replayed batch', () => {
    const batches = batchesOf(key, chainOf(9), 3)
    expect(verifyBatches([...batches, batches[0]!], keys).messages).toEqual(['replayed batch 1-3'])
    expect(verifyBatches([batches[0]!, batches[1]!, batches[1]!, batches[2]!], keys).messages).toEqual([
      'replayed batch 4-6',
    ])
  })

  it('names a batch forged with another key, and one whose signature was altered', () => {
    const events = chainOf(30)
    const batches = batchesOf(key, events, 10)
    const forger = deviceKey('dev-1')
    const forged = events.slice(19, 30).map((e) => ({...e, statement: 'select harmless'}))
    batches[2] = signBatch(forger.key, forged.slice(0, 10))
    expect(verifyBatches(batches, keys).messages).toEqual([
      `bad signature on batch 20-29 (key ${forger.key.keyId})`,
    ])
    const sneaky = {...batches[1]!, key_id: key.keyId, hashes: batches[2].hashes.slice(0, 10)}
    expect(verifyBatches([batches[0]!, sneaky], keys).messages[0]).toBe(
      `bad signature on batch 11-20 (key ${key.keyId})`,
    )
  })

  it('names a conflicting batch signed by the device for seqs it already signed', () => {
    const events = chainOf(6)
    const batches = batchesOf(key, events, 3)
    const fork = new HashChain({lastSeq: 3, lastHash: eventHash(events[2]!)})
    const other = signBatch(key, [fork.append(body(99)).event])
    expect(verifyBatches([...batches, other], keys).messages).toEqual([
      'conflicting batch 4 (other events already hold these seqs)',
    ])
  })

  it('reports a trail shorter than the last seq the server acknowledged', () => {
    const batches = batchesOf(key, chainOf(10), 5)
    expect(verifyBatches(batches, keys, {lastSeq: 12}).messages).toEqual(['missing seq 11-12'])
    expect(verifyBatches(batches.slice(1), keys, {firstSeq: 6}).ok).toBe(true)
  })
})

describe('canonical event fast path', () => {
  it('writes exactly what the general canonical JSON writes', () => {
    const text = fc.string({unit: 'binary'})
    const opt = fc.option(text, {nil: null})
    fc.assert(
      fc.property(
        text,
        opt,
        fc.array(text, {maxLength: 3}),
        fc.option(fc.double({noNaN: true, noDefaultInfinity: true}), {nil: null}),
        (s, o, list, n) => {
          const e = {
            ...body(1, {statement: s, agent: o, tables: list, rows: n, error: s}),
            seq: 1,
            prev_hash: GENESIS_HASH,
          }
          expect(canonicalEventJson(e)).toBe(canonicalJson(e))
        },
      ),
    )
    const extra = {...body(2), seq: 2, prev_hash: GENESIS_HASH, extra: 'x'} as ChainedEvent
    expect(canonicalEventJson(extra)).toBe(canonicalJson(extra))
  })

  it("writes the proxy's events (chained without building the chained object) as the general function does", () => {
    const text = fc.string({unit: 'binary'})
    fc.assert(
      fc.property(
        text,
        fc.array(text, {maxLength: 3}),
        fc.option(fc.double({noNaN: true, noDefaultInfinity: true}), {nil: undefined}),
        fc.integer({min: 1, max: Number.MAX_SAFE_INTEGER}),
        fc.option(text, {nil: undefined}),
        (s, list, n, seq, o) => {
          const proxyEvent = {
            id: 's.1',
            type: 'statement' as const,
            time: '2026-01-01T00:00:00.000Z',
            session_id: s,
            identity: s,
            actor: 'human' as const,
            target: 't',
            protocol: 'postgres' as const,
            database: 'd',
            db_user: 'u',
            statement: s,
            kinds: list,
            tables: list,
            rows: n,
            duration_ms: n,
            client_version: 'v',
            process: {found: true as const, pid: 7, exe: s, cmdline: list, parents: []},
            groups: list,
            agent: o,
            rule: o,
            error: o,
            application_name: o,
            policy_version: o,
            decision: o === undefined ? undefined : ('deny' as const),
          }
          const b = fromAuditEvent(proxyEvent, {fingerprint: o, approval_id: o, masked_columns: list})
          expect(canonicalChainedJson(b, seq, GENESIS_HASH)).toBe(
            canonicalJson({...b, seq, prev_hash: GENESIS_HASH}),
          )
        },
      ),
    )
  })

  it("writes a session's events from its prepared text as the general function writes the proxy event", () => {
    const text = fc.string({unit: 'binary'})
    const list = fc.array(text, {maxLength: 3})
    const num = fc.option(fc.double({noNaN: true, noDefaultInfinity: true}), {nil: null})
    const facts = fc.record({
      session_id: text,
      identity: text,
      actor: fc.constantFrom('human' as const, 'agent' as const, 'ci' as const),
      target: text,
      protocol: fc.constantFrom('postgres' as const, 'mysql' as const),
      database: text,
      db_user: text,
      client_version: text,
      application_name: fc.option(text, {nil: undefined}),
      groups: fc.option(list, {nil: undefined}),
      agent: fc.option(text, {nil: null}),
      process: fc.option(
        fc.oneof(
          fc.record({
            found: fc.constant(true as const),
            pid: fc.nat(),
            exe: fc.option(text, {nil: null}),
            cmdline: list,
            parents: fc.array(fc.record({pid: fc.nat(), exe: fc.option(text, {nil: null}), cmdline: list}), {
              maxLength: 2,
            }),
          }),
          fc.record({found: fc.constant(false as const), reason: text}),
        ),
        {nil: null},
      ),
    })
    const members = fc.record({
      id: text,
      type: fc.constantFrom('statement' as const, 'session_start' as const, 'session_end' as const),
      time: text,
      statement: fc.option(text, {nil: null}),
      kinds: list,
      tables: list,
      decision: fc.option(fc.constantFrom('allow' as const, 'deny' as const, 'review' as const), {nil: null}),
      rule: fc.option(text, {nil: null}),
      rows: num,
      masked_columns: list,
      duration_ms: num,
      error: fc.option(text, {nil: null}),
      policy_version: fc.option(text, {nil: null}),
    })
    fc.assert(
      fc.property(
        facts,
        fc.array(members, {minLength: 1, maxLength: 3}),
        fc.integer({min: 1, max: Number.MAX_SAFE_INTEGER}),
        (f, ms, seq) => {
          const session = new SessionText(f)
          for (const m of ms) {
            const b = fromAuditEvent(session.event(m))
            expect(session.chained(m, seq, GENESIS_HASH)).toBe(
              canonicalJson({...b, seq, prev_hash: GENESIS_HASH}),
            )
          }
        },
      ),
    )
    // Values the prepared text does not expect (a sink given other than its types say) take the general path.
    const session = new SessionText({
      session_id: 's',
      identity: 'i',
      actor: 'human',
      target: 't',
      protocol: 'postgres',
      database: 'd',
      db_user: 'u',
      client_version: 'v',
    })
    const odd = {
      id: 'x',
      type: 'statement',
      time: 't',
      statement: null,
      kinds: [1],
      tables: undefined,
      decision: null,
      rule: null,
      rows: Number.NaN,
      masked_columns: [],
      duration_ms: null,
      error: null,
      policy_version: null,
    } as unknown as Parameters<SessionText['chained']>[0]
    expect(() => session.chained(odd, 1, GENESIS_HASH)).toThrow(TypeError)
    const oddKinds = {...odd, rows: 1}
    expect(session.chained(oddKinds, 1, GENESIS_HASH)).toBe(
      canonicalJson({...fromAuditEvent(session.event(oddKinds)), seq: 1, prev_hash: GENESIS_HASH}),
    )
  })
})
