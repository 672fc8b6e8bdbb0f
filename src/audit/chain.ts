/**
 * The per-device hash chain: every event gets the next `seq` and the SHA-256 of the previous event's
 * canonical form, so an edit, deletion or reorder anywhere breaks the chain after it.
 */
import * as crypto from 'node:crypto'

import {canonicalChainedJson, canonicalJson, type AuditEventBody, type ChainedEvent} from './event.js'

/** The `prev_hash` of the first event of a device. */
export const GENESIS_HASH = '0'.repeat(64)

/** Where a chain stands: the last event's seq and hash (0 and the genesis hash when empty). */
export interface ChainState {
  readonly lastSeq: number
  readonly lastHash: string
}

/** The state of a chain with no events yet. */
export const EMPTY_CHAIN: ChainState = Object.freeze({lastSeq: 0, lastHash: GENESIS_HASH})

/** The one-shot hash of Node >= 20.12 (twice as fast as a Hash object per event), when this Node has it. */
const oneShot = (crypto as {hash?: (algorithm: string, data: string, encoding: 'hex') => string}).hash

/** SHA-256 (hex) of the canonical JSON text of an event (UTF-8). */
export function hashCanonical(canonical: string): string {
  if (oneShot !== undefined) return oneShot('sha256', canonical, 'hex')
  return crypto.createHash('sha256').update(canonical, 'utf8').digest('hex')
}

/** The hash of a chained event: SHA-256 of its canonical form. */
export function eventHash(event: ChainedEvent): string {
  return hashCanonical(canonicalJson(event))
}

/** One event linked into the chain, with its canonical text and hash (computed once). */
export interface Linked {
  /** The chained event (built on first use: the proxy's path only needs its text and hash). */
  readonly event: ChainedEvent
  readonly seq: number
  readonly canonical: string
  readonly hash: string
}

/** Links `body` after `state`: the event with the next seq, its canonical text and its hash. */
export function link(state: ChainState, body: AuditEventBody): Linked {
  const canonical = canonicalChainedJson(body, state.lastSeq + 1, state.lastHash)
  return linked(state, body, canonical, hashCanonical(canonical))
}

/** The link of `body` after `state` whose canonical text and hash were computed by the caller (the spool). */
export function linked(state: ChainState, body: AuditEventBody, canonical: string, hash: string): Linked {
  return new LinkedEvent(body, state.lastSeq + 1, state.lastHash, canonical, hash)
}

/** A class rather than an object literal with a getter: one per statement, so its shape is kept fast. */
class LinkedEvent implements Linked {
  private built: ChainedEvent | undefined

  constructor(
    private readonly body: AuditEventBody,
    readonly seq: number,
    private readonly prev: string,
    readonly canonical: string,
    readonly hash: string,
  ) {}

  get event(): ChainedEvent {
    return (this.built ??= {...this.body, seq: this.seq, prev_hash: this.prev})
  }
}

/** A chain that hands out seqs and hashes in call order. */
export class HashChain {
  private current: ChainState

  /** Continues the chain from `state` (recovered from a spool's tail), or starts it. */
  constructor(state: ChainState = EMPTY_CHAIN) {
    this.current = state
  }

  /** The last seq and hash. */
  get state(): ChainState {
    return this.current
  }

  /** Chains one event. */
  append(body: AuditEventBody): Linked {
    const linked = link(this.current, body)
    this.current = {lastSeq: linked.seq, lastHash: linked.hash}
    return linked
  }

  /** Moves the chain back to an earlier state (after a write that did not reach the disk). */
  rewind(state: ChainState): void {
    this.current = state
  }
}
