/**
 * Device registration and batch ingest: the signature is checked with the registered key of the caller's
 * own device, every event must be the caller's and hash to what the batch signed; then the store checks
 * chain continuity, idempotency and appends to the server chain in one transaction.
 */
import {createPublicKey, randomUUID, type KeyObject} from 'node:crypto'

import {eventHash} from '../../audit/chain.js'
import type {ChainedEvent} from '../../audit/event.js'
import {keyIdOf, verifyBatchSignature, type SignedBatch} from '../../audit/signing.js'
import type {AuditBatchRequest, AuditBatchResponse, AuditDeviceResponse} from '../../control/api-types.js'
import type {ServerContext} from '../context.js'
import {badRequest, conflict, forbidden, notFound} from '../http-errors.js'
import type {AccessClaims} from '../tokens.js'

/** The Ed25519 public key of a base64url raw key, or undefined when it is not one. */
export function publicKeyFromRaw(raw: string): KeyObject | undefined {
  try {
    const x = Buffer.from(raw, 'base64url')
    if (x.length !== 32) return undefined
    return createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url')}, format: 'jwk'})
  } catch {
    return undefined
  }
}

async function lastSeqOf(ctx: ServerContext, deviceId: string): Promise<number> {
  const events = await ctx.store.listAuditBatches(deviceId)
  return events.reduce((m, b) => Math.max(m, b.lastSeq), 0)
}

/** Registers a device key for the caller; the same key again is fine, another key for the device is 409. */
export async function registerDevice(
  ctx: ServerContext,
  caller: AccessClaims,
  deviceId: string,
  publicKey: string,
): Promise<AuditDeviceResponse> {
  const key = publicKeyFromRaw(publicKey)
  if (key === undefined) throw badRequest('public_key is not a base64url raw Ed25519 public key')
  const keyId = keyIdOf(key)
  const stored = await ctx.store.registerAuditDevice({
    deviceId,
    ownerSub: caller.sub,
    keyId,
    publicKey: Buffer.from(publicKey, 'base64url').toString('base64url'),
    createdAt: ctx.now(),
    ownerEmail: caller.email,
  })
  if (stored.ownerSub !== caller.sub) throw forbidden(`device ${deviceId} belongs to another identity`)
  if (stored.keyId !== keyId)
    throw conflict(`device ${deviceId} is registered with another key (${stored.keyId})`)
  return {device_id: deviceId, key_id: keyId, last_seq: await lastSeqOf(ctx, deviceId)}
}

async function refuse(
  ctx: ServerContext,
  caller: AccessClaims,
  body: AuditBatchRequest,
  kind: 'bad_signature' | 'foreign_device',
  detail: string,
): Promise<void> {
  await ctx.store.recordAuditIncident({
    id: randomUUID(),
    deviceId: body.device_id,
    ownerSub: caller.sub,
    kind,
    firstSeq: body.first_seq,
    lastSeq: body.last_seq,
    detail,
    at: ctx.now(),
  })
}

/** Checks a batch's shape against its header; the problem, or undefined when it is consistent. */
function shapeProblem(body: AuditBatchRequest, events: readonly ChainedEvent[]): string | undefined {
  const len = body.last_seq - body.first_seq + 1
  if (len < 1 || body.hashes.length !== len || events.length !== len)
    return 'first_seq..last_seq, hashes and events must cover the same seqs'
  for (let j = 0; j < len; j++) {
    const e = events[j] as ChainedEvent
    if (typeof e !== 'object' || e === null || !Number.isFinite(Date.parse(String(e.time))))
      return `event ${j} has no valid time`
    if (e.seq !== body.first_seq + j) return `event ${j} has seq ${e.seq}, expected ${body.first_seq + j}`
    if (eventHash(e) !== body.hashes[j]) return `event seq ${e.seq} does not hash to the signed hash`
    const prev = j === 0 ? body.prev_hash : body.hashes[j - 1]
    if (e.prev_hash !== prev) return `event seq ${e.seq}: prev_hash does not link to the previous event`
  }
  return undefined
}

/** Verifies and stores one batch; answers which seq is acknowledged. */
export async function ingestBatch(
  ctx: ServerContext,
  caller: AccessClaims,
  body: AuditBatchRequest,
): Promise<AuditBatchResponse> {
  const device = await ctx.store.getAuditDevice(body.device_id)
  if (device === undefined)
    throw notFound(`device ${body.device_id} is not registered (POST /api/v1/audit/devices)`)
  if (device.ownerSub !== caller.sub) {
    await refuse(ctx, caller, body, 'foreign_device', `uploaded by ${caller.sub}`)
    throw forbidden(`device ${body.device_id} belongs to another identity`)
  }
  const key = publicKeyFromRaw(device.publicKey)
  const events = body.events as unknown as ChainedEvent[]
  const batch: SignedBatch = {...body, events}
  if (key === undefined || body.key_id !== device.keyId || !verifyBatchSignature(batch, key)) {
    await refuse(ctx, caller, body, 'bad_signature', `signature does not verify with key ${device.keyId}`)
    throw forbidden(`the batch signature does not verify with device ${body.device_id}'s registered key`)
  }
  const shape = shapeProblem(body, events)
  if (shape !== undefined) throw badRequest(shape)
  const foreign = events.find((e) => e.identity !== caller.sub)
  if (foreign !== undefined)
    throw forbidden(`event seq ${foreign.seq} is for ${foreign.identity}, not ${caller.sub}`)
  const outcome = await ctx.store.ingestAuditBatch(
    {
      ownerSub: caller.sub,
      events,
      batch: {
        deviceId: body.device_id,
        firstSeq: body.first_seq,
        lastSeq: body.last_seq,
        prevHash: body.prev_hash,
        hashes: body.hashes,
        keyId: body.key_id,
        signature: body.signature,
        receivedAt: ctx.now(),
      },
    },
    ctx.now(),
  )
  switch (outcome.kind) {
    case 'conflict':
      throw conflict(outcome.message)
    case 'accepted':
      return {acked_seq: outcome.ackedSeq, stored: outcome.stored, gap: outcome.gap}
  }
}
