/**
 * Ed25519 batch signatures. A batch covers a run of consecutive events of one device; the signature is
 * over the canonical JSON of {device_id, first_seq, last_seq, prev_hash, hashes} (the events' hashes in
 * seq order), prefixed with a domain tag, so the server and `audit verify` can pinpoint an altered or
 * deleted event inside a batch whose signature is still good.
 */
import {createHash, createPublicKey, sign, verify, type KeyObject} from 'node:crypto'

import {eventHash} from './chain.js'
import {canonicalJson, type ChainedEvent} from './event.js'

/** Separates audit-batch signatures from anything else the device key might sign. */
const DOMAIN = 'dbgate-audit-batch-v1\n'

/** The signed part of a batch. */
export interface BatchHeader {
  readonly device_id: string
  readonly first_seq: number
  readonly last_seq: number
  /** The hash of event `first_seq - 1` (the genesis hash for seq 1). */
  readonly prev_hash: string
  /** The hash of each event from first_seq to last_seq. */
  readonly hashes: readonly string[]
}

/** A batch as it is uploaded and stored: the header, the key that signed it, and the events. */
export interface SignedBatch extends BatchHeader {
  /** Identifies the signing key: the first 16 hex digits of SHA-256 of its raw public key. */
  readonly key_id: string
  /** base64 Ed25519 signature over `batchSigningInput(header)`. */
  readonly signature: string
  readonly events: readonly ChainedEvent[]
}

/** A device's signing key. */
export interface SigningKey {
  readonly deviceId: string
  readonly keyId: string
  readonly privateKey: KeyObject
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({format: 'jwk'})
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.x === undefined)
    throw new TypeError('not an Ed25519 key')
  return Buffer.from(jwk.x, 'base64url')
}

/** The key id of an Ed25519 public (or private) key. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return createHash('sha256').update(rawPublicKey(pub)).digest('hex').slice(0, 16)
}

/** The exact bytes a batch signature covers. */
export function batchSigningInput(h: BatchHeader): Buffer {
  const header = {
    device_id: h.device_id,
    first_seq: h.first_seq,
    last_seq: h.last_seq,
    prev_hash: h.prev_hash,
    hashes: h.hashes,
  }
  return Buffer.from(DOMAIN + canonicalJson(header), 'utf8')
}

/** Signs a run of consecutive events (seq order, non-empty) with the device key. */
export function signBatch(key: SigningKey, events: readonly ChainedEvent[]): SignedBatch {
  const first = events[0]
  const last = events[events.length - 1]
  if (first === undefined || last === undefined) throw new RangeError('a batch needs at least one event')
  const header: BatchHeader = {
    device_id: key.deviceId,
    first_seq: first.seq,
    last_seq: last.seq,
    prev_hash: first.prev_hash,
    hashes: events.map(eventHash),
  }
  const signature = sign(null, batchSigningInput(header), key.privateKey).toString('base64')
  return {...header, key_id: key.keyId, signature, events}
}

/** True when `batch`'s signature over its header is good under `publicKey`. */
export function verifyBatchSignature(batch: SignedBatch, publicKey: KeyObject): boolean {
  try {
    return verify(null, batchSigningInput(batch), publicKey, Buffer.from(batch.signature, 'base64'))
  } catch {
    return false
  }
}
