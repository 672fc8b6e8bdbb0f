/**
 * The proxy's audit sink: a durable spool on this process's lane and, in TARGET mode, the background
 * uploader that signs its batches with the device key and sends them to the control plane.
 *
 * Layout under `<stateDir>/audit/`: `spool/` (standalone, lane 0), `spool-<n>/` (standalone, lane n),
 * `device-<device id>[.<n>]/` (TARGET mode: one chain per device lane, each registered with the control
 * plane under that id with the same public key). Standalone spools are never uploaded; `audit verify`
 * checks their chains.
 */
import {join} from 'node:path'

import {DurableSpool, type AuditDurability} from './durable-spool.js'
import {acquireLane, type Lane} from './lane.js'
import type {SignedBatch, SigningKey} from './signing.js'
import type {AuditEvent, AuditSessionFacts, AuditSessionRecorder, AuditSink} from './types.js'
import {Uploader} from './uploader.js'

/** How a TARGET-mode trail reaches the control plane. */
export interface TrailUpload {
  /** The device key; its device id is this install's lane 0. */
  readonly key: SigningKey
  /** Registers `deviceId` (a lane's id) with the key's public key; idempotent. */
  readonly register: (deviceId: string) => Promise<void>
  /** Sends one batch; resolves with the acknowledged seq. */
  readonly send: (batch: SignedBatch) => Promise<{acked_seq: number}>
  /** Told about each failed upload attempt (a status line). */
  readonly onError?: ((err: unknown, attempt: number) => void) | undefined
  /** How often the uploader looks for new events (ms). */
  readonly intervalMs?: number | undefined
}

/** Options of a trail. */
export interface AuditTrailOptions {
  readonly stateDir: string
  /** TARGET mode: upload to the control plane. Standalone when absent. */
  readonly upload?: TrailUpload | undefined
  /** The spool's size bound (bytes of events not yet acknowledged). */
  readonly maxBytes?: number | undefined
  /** Standalone only: at the size bound, drop the oldest events instead of refusing writes. */
  readonly retain?: boolean | undefined
  /** false skips fsync (benchmarks only). */
  readonly fsync?: boolean | undefined
  /** When an event counts as recorded (held results are released): `written` (default) or `synced`. */
  readonly durability?: AuditDurability | undefined
  /** `written` durability: the least time between two background syncs (ms; DurableSpool's default). */
  readonly syncIntervalMs?: number | undefined
  /** How long close() waits for a last upload before leaving the rest for the next run (ms). */
  readonly closeUploadMs?: number | undefined
}

/** The lane's device id: the device id itself for lane 0, `<device id>.<n>` for lane n. */
export function laneDeviceId(deviceId: string, lane: number): string {
  return lane === 0 ? deviceId : `${deviceId}.${lane}`
}

/** The spool directory of a lane. */
export function laneSpoolDir(stateDir: string, lane: number, deviceId?: string): string {
  const audit = join(stateDir, 'audit')
  if (deviceId !== undefined) return join(audit, `device-${laneDeviceId(deviceId, lane)}`)
  return join(audit, lane === 0 ? 'spool' : `spool-${lane}`)
}

/** A spool (and, in TARGET mode, an uploader) owned by this process; implements the proxy's AuditSink. */
export class AuditTrail implements AuditSink {
  readonly spool: DurableSpool
  readonly deviceId: string | undefined
  private readonly uploader: Uploader | undefined
  private readonly lane: Lane

  private constructor(lane: Lane, spool: DurableSpool, deviceId?: string, uploader?: Uploader) {
    this.lane = lane
    this.spool = spool
    this.deviceId = deviceId
    this.uploader = uploader
  }

  /** Takes a lane, opens its spool and, in TARGET mode, registers the lane and starts uploading. */
  static async open(o: AuditTrailOptions): Promise<AuditTrail> {
    const u = o.upload
    const lane = acquireLane(join(o.stateDir, 'audit', u === undefined ? 'lanes' : 'device-lanes'))
    try {
      const deviceId = u === undefined ? undefined : laneDeviceId(u.key.deviceId, lane.index)
      const dir = laneSpoolDir(o.stateDir, lane.index, u?.key.deviceId)
      // Standalone spools are never uploaded: their bound is a retention limit (oldest segments go).
      const keepNewest = u === undefined && o.retain === true
      const spool = DurableSpool.open(o.stateDir, {
        dir,
        maxBytes: o.maxBytes,
        fsync: o.fsync,
        durability: o.durability,
        syncIntervalMs: o.syncIntervalMs,
        keepNewest,
      })
      if (u === undefined || deviceId === undefined) return new AuditTrail(lane, spool)
      await u.register(deviceId)
      const uploader = new Uploader({
        source: spool,
        key: {...u.key, deviceId},
        send: u.send,
        onError: u.onError,
        intervalMs: u.intervalMs ?? 500,
      })
      uploader.start()
      return new AuditTrail(lane, spool, deviceId, uploader)
    } catch (err) {
      lane.release()
      throw err
    }
  }

  /** Records one event; resolves once it is written (or synced, per the trail's durability). */
  write(event: AuditEvent): Promise<void> {
    return this.spool.write(event)
  }

  /** The callback form of write() (see AuditSink.record). */
  record(event: AuditEvent, done: (err: Error | undefined) => void): void {
    this.spool.record(event, done)
  }

  /** A recorder for one session's events (see AuditSink.session). */
  session(facts: AuditSessionFacts): AuditSessionRecorder | undefined {
    return this.spool.session(facts)
  }

  /** Why statements that write must be refused now; undefined when events can be recorded. */
  refusal(): Error | undefined {
    return this.spool.refusal()
  }

  /** Uploads what is left (bounded by closeUploadMs), stops the uploader, closes the spool, frees the lane. */
  async close(closeUploadMs = 5000): Promise<void> {
    try {
      await this.spool.close()
      const up = this.uploader
      if (up !== undefined) {
        await up.stop()
        let timer: NodeJS.Timeout | undefined
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, closeUploadMs)))
        // What is not uploaded now stays in the spool: the next process on this lane uploads it.
        await Promise.race([up.flush(), timeout])
        clearTimeout(timer)
      }
    } finally {
      this.lane.release()
    }
  }
}
