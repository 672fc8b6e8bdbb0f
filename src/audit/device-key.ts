/**
 * The per-install Ed25519 device key that signs audit batches. The private key lives in the OS keychain
 * (service "dbgate", account "device-key:<device id>") through the token store's keychain backend, or,
 * when no keychain answers, in a 0600 file `<stateDir>/device-key.json`. `<stateDir>/device.json` holds
 * only public facts: the device id, key id, public key, which store holds the private key, and the identity
 * it is registered for. A device belongs to one identity: when another logs in on this install, the device
 * is parked (`<stateDir>/devices/<device id>.json`, its file-stored private key beside it as
 * `<device id>.key.json`) with its unuploaded spool, and restored when its identity logs in again.
 */
import {createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject} from 'node:crypto'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {osKeychain, type KeychainBackend} from '../auth/keychain.js'
import {readJsonFile, removeFile, writePrivateJsonFile} from '../auth/file-store.js'
import {DbgateError, messageOf} from '../errors.js'
import {keyIdOf, rawPublicKey, type SigningKey} from './signing.js'

/** Where the private key is kept. */
export type DeviceKeyStore = 'keychain' | 'file'

/** A loaded device key. */
export interface DeviceKey extends SigningKey {
  readonly publicKey: KeyObject
  /** The raw public key, base64url: what is registered with the control plane. */
  readonly publicKeyRaw: string
  readonly store: DeviceKeyStore
  /** The identity the control plane registered it for (recorded after the first registration). */
  readonly owner?: DeviceOwner | undefined
}

/** Who a device is registered for. */
export interface DeviceOwner {
  readonly sub: string
  readonly email?: string | undefined
}

/** A device of this install put aside while another identity is logged in. */
export interface ParkedDevice {
  readonly deviceId: string
  readonly owner: DeviceOwner | undefined
}

/** What the device key needs to know about its surroundings. */
export interface DeviceKeyEnv {
  readonly stateDir: string
  /** DBGATE_TOKEN_STORE=file|keychain|auto applies to the device key as to tokens. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /** The keychain; the OS keychain unless a test substitutes one. */
  readonly keychain?: KeychainBackend | undefined
}

interface DeviceFile {
  readonly version: 1
  readonly device_id: string
  readonly key_id: string
  readonly public_key: string
  readonly store: DeviceKeyStore
  readonly owner?: DeviceOwner | undefined
}

const account = (deviceId: string) => `device-key:${deviceId}`
const devicePath = (stateDir: string) => join(stateDir, 'device.json')
const privatePath = (stateDir: string) => join(stateDir, 'device-key.json')
const parkedDir = (stateDir: string) => join(stateDir, 'devices')
const parkedPath = (stateDir: string, id: string) => join(parkedDir(stateDir), `${id}.json`)
const parkedPrivatePath = (stateDir: string, id: string) => join(parkedDir(stateDir), `${id}.key.json`)

function keyError(message: string, cause?: unknown): DbgateError {
  return new DbgateError('E_DEVICE_KEY', message, {
    cause,
    suggestions: ['Run `dbgate login` again to create a new device key (the old trail stays verifiable).'],
  })
}

/** Stores a new private key (PKCS#8 DER, base64) where the environment allows; returns which store took it. */
function storePrivate(ctx: DeviceKeyEnv, deviceId: string, pkcs8: string): DeviceKeyStore {
  const wanted = ctx.env?.DBGATE_TOKEN_STORE ?? 'auto'
  const keychain = ctx.keychain ?? osKeychain
  if (wanted !== 'file') {
    try {
      keychain.set(account(deviceId), pkcs8)
      return 'keychain'
    } catch (err) {
      if (wanted === 'keychain') throw keyError(`The OS keychain is not available: ${messageOf(err)}`, err)
    }
  }
  writePrivateJsonFile(privatePath(ctx.stateDir), {version: 1, device_id: deviceId, private_key: pkcs8})
  return 'file'
}

function loadPrivate(ctx: DeviceKeyEnv, device: DeviceFile): KeyObject {
  let pkcs8: string | null | undefined
  try {
    if (device.store === 'keychain') pkcs8 = (ctx.keychain ?? osKeychain).get(account(device.device_id))
    else pkcs8 = (readJsonFile(privatePath(ctx.stateDir)) as {private_key?: string} | undefined)?.private_key
  } catch (err) {
    throw keyError(`The device key cannot be read from the ${device.store}: ${messageOf(err)}`, err)
  }
  if (typeof pkcs8 !== 'string') throw keyError(`The device key is missing from the ${device.store}.`)
  const key = createPrivateKey({key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8'})
  if (keyIdOf(key) !== device.key_id) throw keyError('The stored device key does not match device.json.')
  return key
}

function readDeviceFile(path: string): DeviceFile | undefined {
  const doc = readJsonFile(path) as DeviceFile | undefined
  if (doc === undefined) return undefined
  if (
    doc.version !== 1 ||
    typeof doc.device_id !== 'string' ||
    !/^[A-Za-z0-9-]+$/.test(doc.device_id) ||
    (doc.store !== 'keychain' && doc.store !== 'file')
  )
    throw keyError(`${path} is not a dbgate device file.`)
  return doc
}

/** The device key, if this install has one. */
export function loadDeviceKey(ctx: DeviceKeyEnv): DeviceKey | undefined {
  const doc = readDeviceFile(devicePath(ctx.stateDir))
  if (doc === undefined) return undefined
  const privateKey = loadPrivate(ctx, doc)
  const publicKey = createPublicKey(privateKey)
  return {
    deviceId: doc.device_id,
    keyId: doc.key_id,
    privateKey,
    publicKey,
    publicKeyRaw: doc.public_key,
    store: doc.store,
    owner: doc.owner,
  }
}

/** Records the identity the device is registered for (after the control plane accepted it). */
export function recordDeviceOwner(ctx: DeviceKeyEnv, owner: DeviceOwner): void {
  const doc = readDeviceFile(devicePath(ctx.stateDir))
  if (doc === undefined) return
  const next = {sub: owner.sub, ...(owner.email === undefined ? {} : {email: owner.email})}
  writePrivateJsonFile(devicePath(ctx.stateDir), {...doc, owner: next})
}

/** Moves the current device aside (its public facts and a file-stored private key); keychain entries stay. */
export function parkDeviceKey(ctx: DeviceKeyEnv): void {
  const doc = readDeviceFile(devicePath(ctx.stateDir))
  if (doc === undefined) return
  const id = doc.device_id
  if (doc.store === 'file') {
    const priv = readJsonFile(privatePath(ctx.stateDir))
    if (priv !== undefined) writePrivateJsonFile(parkedPrivatePath(ctx.stateDir, id), priv)
  }
  writePrivateJsonFile(parkedPath(ctx.stateDir, id), doc)
  removeFile(devicePath(ctx.stateDir))
  if (doc.store === 'file') removeFile(privatePath(ctx.stateDir))
}

/** The parked devices of this install. */
export function listParkedDevices(ctx: DeviceKeyEnv): ParkedDevice[] {
  let names: string[]
  try {
    names = readdirSync(parkedDir(ctx.stateDir))
  } catch {
    return []
  }
  const out: ParkedDevice[] = []
  for (const name of names.sort()) {
    if (!name.endsWith('.json') || name.endsWith('.key.json')) continue
    try {
      const doc = readDeviceFile(join(parkedDir(ctx.stateDir), name))
      if (doc !== undefined) out.push({deviceId: doc.device_id, owner: doc.owner})
    } catch {
      // Not a device file: ignore it rather than fail a login.
    }
  }
  return out
}

/** Makes a parked device current again (the current one must have been parked first); returns its key. */
export function restoreDeviceKey(ctx: DeviceKeyEnv, deviceId: string): DeviceKey | undefined {
  const doc = readDeviceFile(parkedPath(ctx.stateDir, deviceId))
  if (doc === undefined) return undefined
  if (doc.store === 'file') {
    const priv = readJsonFile(parkedPrivatePath(ctx.stateDir, deviceId))
    if (priv === undefined) return undefined
    writePrivateJsonFile(privatePath(ctx.stateDir), priv)
  }
  writePrivateJsonFile(devicePath(ctx.stateDir), doc)
  removeFile(parkedPath(ctx.stateDir, deviceId))
  removeFile(parkedPrivatePath(ctx.stateDir, deviceId))
  return loadDeviceKey(ctx)
}

/** The device key, generated and stored on first use (at login). */
export function loadOrCreateDeviceKey(ctx: DeviceKeyEnv): DeviceKey {
  const existing = loadDeviceKey(ctx)
  if (existing !== undefined) return existing
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  const deviceId = randomUUID()
  const pkcs8 = privateKey.export({format: 'der', type: 'pkcs8'}).toString('base64')
  const store = storePrivate(ctx, deviceId, pkcs8)
  const publicKeyRaw = rawPublicKey(publicKey).toString('base64url')
  const doc: DeviceFile = {
    version: 1,
    device_id: deviceId,
    key_id: keyIdOf(publicKey),
    public_key: publicKeyRaw,
    store,
  }
  writePrivateJsonFile(devicePath(ctx.stateDir), doc)
  return {deviceId, keyId: doc.key_id, privateKey, publicKey, publicKeyRaw, store}
}

/** Forgets the device key (both the public record and the private key). */
export function removeDeviceKey(ctx: DeviceKeyEnv): void {
  const doc = readJsonFile(devicePath(ctx.stateDir)) as DeviceFile | undefined
  if (doc?.store === 'keychain') {
    try {
      ;(ctx.keychain ?? osKeychain).delete(account(doc.device_id))
    } catch {
      // Nothing to delete if the keychain is gone.
    }
  }
  removeFile(privatePath(ctx.stateDir))
  removeFile(devicePath(ctx.stateDir))
}
