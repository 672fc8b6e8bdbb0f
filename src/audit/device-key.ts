/**
 * The per-install Ed25519 device key that signs audit batches. The private key lives in the OS keychain
 * (service "dbgate", account "device-key:<device id>") through the token store's keychain backend, or,
 * when no keychain answers, in a 0600 file `<stateDir>/device-key.json`. `<stateDir>/device.json` holds
 * only public facts: the device id, key id, public key and which store holds the private key.
 */
import {createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject} from 'node:crypto'
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
}

const account = (deviceId: string) => `device-key:${deviceId}`
const devicePath = (stateDir: string) => join(stateDir, 'device.json')
const privatePath = (stateDir: string) => join(stateDir, 'device-key.json')

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

/** The device key, if this install has one. */
export function loadDeviceKey(ctx: DeviceKeyEnv): DeviceKey | undefined {
  const doc = readJsonFile(devicePath(ctx.stateDir)) as DeviceFile | undefined
  if (doc === undefined) return undefined
  if (
    doc.version !== 1 ||
    typeof doc.device_id !== 'string' ||
    (doc.store !== 'keychain' && doc.store !== 'file')
  )
    throw keyError(`${devicePath(ctx.stateDir)} is not a dbgate device file.`)
  const privateKey = loadPrivate(ctx, doc)
  const publicKey = createPublicKey(privateKey)
  return {
    deviceId: doc.device_id,
    keyId: doc.key_id,
    privateKey,
    publicKey,
    publicKeyRaw: doc.public_key,
    store: doc.store,
  }
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
