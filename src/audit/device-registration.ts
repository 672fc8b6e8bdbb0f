/**
 * Registering this install's device key with the control plane for the caller's identity (at login, and
 * again when a TARGET-mode proxy starts, which covers machine tokens that never log in). A device belongs
 * to one identity. When another identity logs in on this install, the current device is parked with its
 * spool (its events are neither lost nor uploaded under the new identity) and the new identity gets its own
 * device back if it had one here, else a new one. The old key stays registered on the server, so the trail
 * it signed stays verifiable.
 */
import {registerAuditDevice} from '../control/audit.js'
import type {ControlClient} from '../control/client.js'
import {ControlPlaneError} from '../control/errors.js'
import {
  listParkedDevices,
  loadDeviceKey,
  loadOrCreateDeviceKey,
  parkDeviceKey,
  recordDeviceOwner,
  removeDeviceKey,
  restoreDeviceKey,
  type DeviceKey,
  type DeviceKeyEnv,
  type DeviceOwner,
} from './device-key.js'

/** True for the answers that mean "this device is not yours to use": 403 (another identity's), 409 (another key). */
function notOurs(err: unknown): err is ControlPlaneError {
  return err instanceof ControlPlaneError && (err.status === 403 || err.status === 409)
}

/** The device `who` should sign with: the current one if it is theirs, else their parked one, else none. */
function deviceFor(ctx: DeviceKeyEnv, who: DeviceOwner): DeviceKey | undefined {
  const current = loadDeviceKey(ctx)
  if (current !== undefined && (current.owner === undefined || current.owner.sub === who.sub)) return current
  if (current !== undefined) parkDeviceKey(ctx)
  const parked = listParkedDevices(ctx).find((d) => d.owner?.sub === who.sub)
  return parked === undefined ? undefined : restoreDeviceKey(ctx, parked.deviceId)
}

/** The device key, created if needed and registered for the client's identity `who`. */
export async function ensureAuditDevice(
  client: ControlClient,
  ctx: DeviceKeyEnv,
  who: DeviceOwner,
): Promise<DeviceKey> {
  const key = deviceFor(ctx, who) ?? loadOrCreateDeviceKey(ctx)
  try {
    await registerAuditDevice(client, key.deviceId, key.publicKeyRaw)
    return owned(ctx, key, who)
  } catch (err) {
    if (!notOurs(err)) throw err
    // 403: registered by another identity (a device from before owners were recorded): park it with its
    // spool. 409: the control plane holds another key for this id, so nothing it signed can be uploaded.
    if (err.status === 403) parkDeviceKey(ctx)
    else removeDeviceKey(ctx)
  }
  const fresh = loadOrCreateDeviceKey(ctx)
  await registerAuditDevice(client, fresh.deviceId, fresh.publicKeyRaw)
  return owned(ctx, fresh, who)
}

/** Records `who` as the device's owner once the control plane accepted the registration. */
function owned(ctx: DeviceKeyEnv, key: DeviceKey, who: DeviceOwner): DeviceKey {
  if (key.owner?.sub === who.sub && key.owner.email === who.email) return key
  recordDeviceOwner(ctx, who)
  return {...key, owner: who}
}

/** Registers one more device id (a spool lane) with the device key's public key. */
export async function registerLane(client: ControlClient, key: DeviceKey, deviceId: string): Promise<void> {
  await registerAuditDevice(client, deviceId, key.publicKeyRaw)
}
