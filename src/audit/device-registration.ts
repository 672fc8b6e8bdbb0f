/**
 * Registering this install's device key with the control plane for the caller's identity (at login, and
 * again when a TARGET-mode proxy starts, which covers machine tokens that never log in). A device belongs
 * to one identity: when another identity logs in on this install, the old key is replaced by a new one (the
 * old key stays registered on the server, so the trail it signed stays verifiable).
 */
import {registerAuditDevice} from '../control/audit.js'
import type {ControlClient} from '../control/client.js'
import {ControlPlaneError} from '../control/errors.js'
import {loadOrCreateDeviceKey, removeDeviceKey, type DeviceKey, type DeviceKeyEnv} from './device-key.js'

/** The device key, created if needed and registered for the client's identity. */
export async function ensureAuditDevice(client: ControlClient, ctx: DeviceKeyEnv): Promise<DeviceKey> {
  const key = loadOrCreateDeviceKey(ctx)
  try {
    await registerAuditDevice(client, key.deviceId, key.publicKeyRaw)
    return key
  } catch (err) {
    // 403: the device was registered by another identity; 409: under another key. Start a new device.
    if (!(err instanceof ControlPlaneError) || (err.status !== 403 && err.status !== 409)) throw err
  }
  removeDeviceKey(ctx)
  const fresh = loadOrCreateDeviceKey(ctx)
  await registerAuditDevice(client, fresh.deviceId, fresh.publicKeyRaw)
  return fresh
}

/** Registers one more device id (a spool lane) with the device key's public key. */
export async function registerLane(client: ControlClient, key: DeviceKey, deviceId: string): Promise<void> {
  await registerAuditDevice(client, deviceId, key.publicKeyRaw)
}
