/**
 * Verification of a device's trail: signed batches (what the control plane stores) or the bare chain of
 * the local spool. Every problem is named precisely, by seq or batch range, rather than "invalid".
 */
import type {KeyObject} from 'node:crypto'

import {eventHash, GENESIS_HASH} from './chain.js'
import type {ChainedEvent} from './event.js'
import {verifyBatchSignature, type SignedBatch} from './signing.js'

/** One thing wrong with a trail. */
export type AuditProblem =
  | {readonly kind: 'altered'; readonly seq: number}
  | {readonly kind: 'missing'; readonly from: number; readonly to: number}
  | {readonly kind: 'out_of_order'; readonly seq: number; readonly after: number}
  | {readonly kind: 'replayed'; readonly first: number; readonly last: number}
  | {readonly kind: 'conflict'; readonly first: number; readonly last: number}
  | {readonly kind: 'bad_signature'; readonly first: number; readonly last: number; readonly key: string}
  | {readonly kind: 'chain_break'; readonly seq: number}
  | {readonly kind: 'malformed_batch'; readonly first: number; readonly last: number}

/** What a verification found. */
export interface VerifyReport {
  readonly ok: boolean
  /** Events that passed every check. */
  readonly verified: number
  readonly problems: readonly AuditProblem[]
  /** One line per problem, as `audit verify` prints them. */
  readonly messages: readonly string[]
}

/** Options of a verification. */
export interface VerifyOptions {
  /** The first seq the trail should hold (1 for a whole trail; later after acknowledged segments went). */
  readonly firstSeq?: number | undefined
  /** The last seq the trail should hold, when known from elsewhere: seqs after the end are then missing. */
  readonly lastSeq?: number | undefined
}

/** The line `audit verify` prints for a problem. */
export function describeProblem(p: AuditProblem): string {
  const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`)
  switch (p.kind) {
    case 'altered':
      return `altered seq ${p.seq} (hash mismatch)`
    case 'missing':
      return `missing seq ${range(p.from, p.to)}`
    case 'out_of_order':
      return `out of order: seq ${p.seq} after ${p.after}`
    case 'replayed':
      return `replayed batch ${range(p.first, p.last)}`
    case 'conflict':
      return `conflicting batch ${range(p.first, p.last)} (other events already hold these seqs)`
    case 'bad_signature':
      return `bad signature on batch ${range(p.first, p.last)} (key ${p.key})`
    case 'chain_break':
      return `chain break at seq ${p.seq} (prev_hash is not the hash of seq ${p.seq - 1})`
    case 'malformed_batch':
      return `malformed batch ${range(p.first, p.last)} (its header does not match its range)`
  }
}

/** Tracks arrival order: reports the first event of each run that arrives after a higher seq. */
class OrderTracker {
  private highest = 0
  private lastReported = -1

  /** Notes one event's arrival; pushes a problem when it comes after a higher seq. */
  see(seq: number, problems: AuditProblem[]): void {
    if (seq < this.highest) {
      if (seq !== this.lastReported + 1) problems.push({kind: 'out_of_order', seq, after: this.highest})
      this.lastReported = seq
    } else {
      this.highest = seq
      this.lastReported = -1
    }
  }
}

/** Pushes one `missing` problem per run of seqs in [from, to] that are in neither set. */
function pushMissing(
  from: number,
  to: number,
  has: (seq: number) => boolean,
  problems: AuditProblem[],
): void {
  let start = -1
  for (let s = from; s <= to + 1; s++) {
    const gap = s <= to && !has(s)
    if (gap && start < 0) start = s
    if (!gap && start >= 0) {
      problems.push({kind: 'missing', from: start, to: s - 1})
      start = -1
    }
  }
}

function report(problems: AuditProblem[], verified: number): VerifyReport {
  return {ok: problems.length === 0, verified, problems, messages: problems.map(describeProblem)}
}

/** Verification state over signed batches. */
interface BatchState {
  /** seq → hash, from headers whose signature is good: what the device signed. */
  readonly signed: Map<number, string>
  /** seqs already explained by another problem (bad signature, altered), so not also "missing". */
  readonly accounted: Set<number>
  readonly present: Set<number>
  readonly order: OrderTracker
  readonly problems: AuditProblem[]
}

/** Checks a batch's header against what earlier batches signed; false when its events must be skipped. */
function acceptHeader(b: SignedBatch, st: BatchState): boolean {
  const seqs = b.hashes.map((_, j) => b.first_seq + j)
  const seen = seqs.filter((s) => st.signed.has(s))
  if (seen.length > 0) {
    const same = seen.every((s) => st.signed.get(s) === b.hashes[s - b.first_seq])
    if (seen.length === seqs.length && same) {
      st.problems.push({kind: 'replayed', first: b.first_seq, last: b.last_seq})
      return false
    }
    if (!same) {
      st.problems.push({kind: 'conflict', first: b.first_seq, last: b.last_seq})
      return false
    }
  }
  const before = b.first_seq === 1 ? GENESIS_HASH : st.signed.get(b.first_seq - 1)
  if (before !== undefined && before !== b.prev_hash)
    st.problems.push({kind: 'chain_break', seq: b.first_seq})
  seqs.forEach((s, j) => st.signed.set(s, b.hashes[j] as string))
  return true
}

/** Checks each event of an accepted batch against the hash its header signed. */
function checkEvents(b: SignedBatch, st: BatchState): number {
  let verified = 0
  for (const e of b.events) {
    const j = e.seq - b.first_seq
    if (!Number.isSafeInteger(e.seq) || j < 0 || j >= b.hashes.length || eventHash(e) !== b.hashes[j]) {
      if (Number.isSafeInteger(e.seq)) st.accounted.add(e.seq)
      st.problems.push({kind: 'altered', seq: e.seq})
      continue
    }
    if (st.present.has(e.seq)) continue
    const prev = j === 0 ? b.prev_hash : b.hashes[j - 1]
    if (e.prev_hash !== prev) st.problems.push({kind: 'chain_break', seq: e.seq})
    st.order.see(e.seq, st.problems)
    st.present.add(e.seq)
    verified++
  }
  return verified
}

/** Where a verification of part of a trail starts: the signed hash of the seq before its first. */
export interface VerifySeed {
  readonly seq: number
  readonly hash: string
}

/**
 * Verifies a device's batches fed one at a time in the order they are stored (so a long trail can be read
 * in pages): signatures (by key id), replays, chain continuity between batches, each event against its
 * signed hash, arrival order, and gaps. It keeps one hash per seq, not the events.
 */
export class BatchVerifier {
  private readonly st: BatchState = {
    signed: new Map(),
    accounted: new Set(),
    present: new Set(),
    order: new OrderTracker(),
    problems: [],
  }
  private verified = 0
  private maxSeq = 0

  /** `seed`: the hash the device signed for the seq before the first one checked (a partial check). */
  constructor(
    private readonly keys: ReadonlyMap<string, KeyObject>,
    private readonly options: VerifyOptions & {readonly seed?: VerifySeed | undefined} = {},
  ) {
    if (options.seed !== undefined) this.st.signed.set(options.seed.seq, options.seed.hash)
  }

  /** Checks the next stored batch. */
  add(b: SignedBatch): void {
    const st = this.st
    const len = b.last_seq - b.first_seq + 1
    if (!Number.isSafeInteger(b.first_seq) || b.first_seq < 1 || len !== b.hashes.length) {
      st.problems.push({kind: 'malformed_batch', first: b.first_seq, last: b.last_seq})
      return
    }
    this.maxSeq = Math.max(this.maxSeq, b.last_seq)
    const key = this.keys.get(b.key_id)
    if (key === undefined || !verifyBatchSignature(b, key)) {
      st.problems.push({kind: 'bad_signature', first: b.first_seq, last: b.last_seq, key: b.key_id})
      for (let s = b.first_seq; s <= b.last_seq; s++) st.accounted.add(s)
      return
    }
    if (acceptHeader(b, st)) this.verified += checkEvents(b, st)
  }

  /** The report, once every batch was added. */
  finish(): VerifyReport {
    const st = this.st
    const has = (s: number) => st.present.has(s) || st.accounted.has(s)
    pushMissing(
      this.options.firstSeq ?? 1,
      Math.max(this.maxSeq, this.options.lastSeq ?? 0),
      has,
      st.problems,
    )
    return report(st.problems, this.verified)
  }
}

/** Verifies a device's batches, given in the order they are stored (see BatchVerifier). */
export function verifyBatches(
  batches: readonly SignedBatch[],
  keys: ReadonlyMap<string, KeyObject>,
  options: VerifyOptions = {},
): VerifyReport {
  const v = new BatchVerifier(keys, options)
  for (const b of batches) v.add(b)
  return v.finish()
}

/**
 * Verifies a bare chain (the local spool, which is not signed) fed one event at a time: duplicates, arrival
 * order, each event's hash against the `prev_hash` its successor recorded, and gaps. An edit is named by
 * the first event whose hash its successor does not confirm; the newest event has no successor to confirm
 * it. It keeps two hashes per seq, not the events.
 */
export class ChainVerifier {
  private readonly problems: AuditProblem[] = []
  private readonly bySeq = new Map<number, {prev: string; hash: string}>()
  private readonly order = new OrderTracker()

  /** Checks the next event in file order. */
  add(e: ChainedEvent): void {
    const hash = eventHash(e)
    const earlier = this.bySeq.get(e.seq)
    if (earlier !== undefined) {
      const kind = earlier.hash === hash ? 'replayed' : 'conflict'
      this.problems.push({kind, first: e.seq, last: e.seq})
      return
    }
    this.order.see(e.seq, this.problems)
    this.bySeq.set(e.seq, {prev: e.prev_hash, hash})
  }

  /** The report, once every event was added. */
  finish(options: VerifyOptions = {}): VerifyReport {
    const {bySeq, problems} = this
    const seqs = [...bySeq.keys()].sort((a, b) => a - b)
    const first = options.firstSeq ?? seqs[0] ?? 1
    const altered = new Set<number>()
    for (const s of seqs) {
      const cur = bySeq.get(s)
      if (cur === undefined) continue
      if (s === 1 && cur.prev !== GENESIS_HASH) altered.add(s)
      const next = bySeq.get(s + 1)
      if (next !== undefined && next.prev !== cur.hash) altered.add(s)
    }
    for (const s of [...altered].sort((a, b) => a - b)) problems.push({kind: 'altered', seq: s})
    const last = Math.max(seqs[seqs.length - 1] ?? 0, options.lastSeq ?? 0)
    pushMissing(first, last, (s) => bySeq.has(s), problems)
    return report(problems, seqs.length - altered.size)
  }
}

/** Verifies a bare chain given as a list (see ChainVerifier). */
export function verifyChain(events: readonly ChainedEvent[], options: VerifyOptions = {}): VerifyReport {
  const v = new ChainVerifier()
  for (const e of events) v.add(e)
  return v.finish(options)
}
