/**
 * Spools of this install that wait for an identity: when another identity logs in, the previous identity's
 * device is parked (src/audit/device-key.ts) and its lanes' unacknowledged events stay on disk. They are
 * counted (read-only, a proxy may still be writing) so login can say how many wait, and uploaded with that
 * device's own key when its identity logs in again; never under another identity.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {listParkedDevices, type DeviceKey, type DeviceKeyEnv, type DeviceOwner} from './device-key.js'
import {DurableSpool} from './durable-spool.js'
import {takeLane} from './lane.js'
import type {SignedBatch} from './signing.js'
import {parseSegmentName, scanFrames} from './spool-frame.js'
import {laneDeviceId, laneSpoolDir} from './trail.js'
import {Uploader} from './uploader.js'

/** A device's lane spools on disk: lane 0 is `device-<id>`, lane n `device-<id>.<n>`. */
export function deviceLanes(stateDir: string, deviceId: string): number[] {
  let names: string[]
  try {
    names = readdirSync(join(stateDir, 'audit'))
  } catch {
    return []
  }
  const lanes: number[] = []
  for (const name of names) {
    if (name === `device-${deviceId}`) lanes.push(0)
    const m = name.startsWith(`device-${deviceId}.`) ? /\.(\d{1,2})$/.exec(name) : null
    if (m && name === `device-${deviceId}.${m[1]}`) lanes.push(Number(m[1]))
  }
  return lanes.sort((a, b) => a - b)
}

/** Events of a spool directory the control plane has not acknowledged; read-only. */
export function pendingEvents(dir: string): number {
  let acked = 0
  try {
    acked = Number((JSON.parse(readFileSync(join(dir, 'acked.json'), 'utf8')) as {seq?: unknown}).seq) || 0
  } catch {
    // No acknowledgement yet.
  }
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return 0
  }
  let count = 0
  for (const name of names) {
    if (parseSegmentName(name) === undefined) continue
    try {
      for (const {event} of scanFrames(readFileSync(join(dir, name))).records) if (event.seq > acked) count++
    } catch {
      // A segment removed meanwhile (acknowledged by its uploader).
    }
  }
  return count
}

/** Unuploaded events of a device, over all its lanes. */
export function deviceWaiting(stateDir: string, deviceId: string): number {
  return deviceLanes(stateDir, deviceId).reduce(
    (n, lane) => n + pendingEvents(laneSpoolDir(stateDir, lane, deviceId)),
    0,
  )
}

/** A parked device of another identity whose events wait on this install. */
export interface WaitingDevice {
  readonly deviceId: string
  readonly owner: DeviceOwner | undefined
  readonly events: number
}

/** Parked devices with events that wait for their identity to log in again. */
export function waitingDevices(ctx: DeviceKeyEnv): WaitingDevice[] {
  return listParkedDevices(ctx)
    .map((d) => ({...d, events: deviceWaiting(ctx.stateDir, d.deviceId)}))
    .filter((d) => d.events > 0)
}

/** How a device's waiting lanes reach the control plane (TrailUpload's calls). */
export interface LaneUpload {
  readonly send: (batch: SignedBatch) => Promise<{acked_seq: number}>
  readonly register: (deviceId: string) => Promise<void>
}

/**
 * Uploads the waiting events of `key`'s device, lane by lane, signed by that device's key; lanes a running
 * process holds are left to it. Resolves with how many events were uploaded and how many still wait.
 */
export async function uploadWaitingLanes(
  stateDir: string,
  key: DeviceKey,
  upload: LaneUpload,
): Promise<{uploaded: number; waiting: number}> {
  let uploaded = 0
  let waiting = 0
  for (const index of deviceLanes(stateDir, key.deviceId)) {
    const dir = laneSpoolDir(stateDir, index, key.deviceId)
    const before = pendingEvents(dir)
    if (before === 0) continue
    const lane = takeLane(join(stateDir, 'audit', 'device-lanes'), index)
    if (lane === undefined) {
      waiting += before
      continue
    }
    try {
      const deviceId = laneDeviceId(key.deviceId, index)
      await upload.register(deviceId)
      const spool = DurableSpool.open(stateDir, {dir})
      try {
        await new Uploader({source: spool, key: {...key, deviceId}, send: upload.send}).flush()
      } finally {
        await spool.close()
      }
      const after = pendingEvents(dir)
      uploaded += before - after
      waiting += after
    } catch {
      waiting += pendingEvents(dir)
    } finally {
      lane.release()
    }
  }
  return {uploaded, waiting}
}
