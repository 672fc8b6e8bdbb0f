import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import type {KeychainBackend} from '../../src/auth/keychain.js'
import {
  listParkedDevices,
  loadDeviceKey,
  loadOrCreateDeviceKey,
  parkDeviceKey,
  recordDeviceOwner,
  removeDeviceKey,
  restoreDeviceKey,
} from '../../src/audit/device-key.js'
import {signBatch, verifyBatchSignature} from '../../src/audit/signing.js'
import {HashChain} from '../../src/audit/chain.js'
import {body} from './audit-helpers.js'

/** An in-memory keychain (the substitution point the token store offers tests). */
function memoryKeychain(): KeychainBackend & {entries: Map<string, string>} {
  const entries = new Map<string, string>()
  return {
    entries,
    get: (a) => entries.get(a) ?? null,
    set: (a, s) => void entries.set(a, s),
    delete: (a) => entries.delete(a),
  }
}
const noKeychain: KeychainBackend = {
  get: () => {
    throw new Error('no secret service')
  },
  set: () => {
    throw new Error('no secret service')
  },
  delete: () => {
    throw new Error('no secret service')
  },
}

const dirs: string[] = []
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dbgate-devkey-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

describe('device key', () => {
  it('keeps the private key in the keychain and only public facts on disk', () => {
    const dir = stateDir()
    const keychain = memoryKeychain()
    const key = loadOrCreateDeviceKey({stateDir: dir, keychain})
    expect(key.store).toBe('keychain')
    expect(keychain.entries.has(`device-key:${key.deviceId}`)).toBe(true)
    const device = readFileSync(join(dir, 'device.json'), 'utf8')
    expect(device).toContain(key.publicKeyRaw)
    expect(device).not.toContain(keychain.entries.get(`device-key:${key.deviceId}`))
    const again = loadOrCreateDeviceKey({stateDir: dir, keychain})
    expect(again.keyId).toBe(key.keyId)
    const batch = signBatch(again, [new HashChain().append(body(1)).event])
    expect(verifyBatchSignature(batch, key.publicKey)).toBe(true)
  })

  it('falls back to a 0600 file when no keychain answers', () => {
    const dir = stateDir()
    const key = loadOrCreateDeviceKey({stateDir: dir, keychain: noKeychain})
    expect(key.store).toBe('file')
    expect(statSync(join(dir, 'device-key.json')).mode & 0o777).toBe(0o600)
    expect(loadDeviceKey({stateDir: dir, keychain: noKeychain})?.keyId).toBe(key.keyId)
    removeDeviceKey({stateDir: dir, keychain: noKeychain})
    expect(loadDeviceKey({stateDir: dir, keychain: noKeychain})).toBeUndefined()
  })

  it('uses the file when DBGATE_TOKEN_STORE=file, and refuses when keychain is forced but absent', () => {
    const keychain = memoryKeychain()
    const key = loadOrCreateDeviceKey({stateDir: stateDir(), keychain, env: {DBGATE_TOKEN_STORE: 'file'}})
    expect(key.store).toBe('file')
    expect(keychain.entries.size).toBe(0)
    expect(() =>
      loadOrCreateDeviceKey({
        stateDir: stateDir(),
        keychain: noKeychain,
        env: {DBGATE_TOKEN_STORE: 'keychain'},
      }),
    ).toThrow(expect.objectContaining({code: 'E_DEVICE_KEY'}))
  })

  it('refuses a private key that does not match the recorded key id, or a missing one', () => {
    const dir = stateDir()
    const keychain = memoryKeychain()
    const key = loadOrCreateDeviceKey({stateDir: dir, keychain})
    const other = loadOrCreateDeviceKey({stateDir: stateDir(), keychain})
    keychain.entries.set(`device-key:${key.deviceId}`, keychain.entries.get(`device-key:${other.deviceId}`)!)
    expect(() => loadDeviceKey({stateDir: dir, keychain})).toThrow(/does not match/)
    keychain.entries.clear()
    expect(() => loadDeviceKey({stateDir: dir, keychain})).toThrow(/missing/)
    writeFileSync(join(dir, 'device.json'), '{"version":2}')
    expect(() => loadDeviceKey({stateDir: dir, keychain})).toThrow(/not a dbgate device file/)
  })

  it.each([
    ['keychain', {}],
    ['file', {env: {DBGATE_TOKEN_STORE: 'file'}}],
  ] as const)('parks a device (%s) and restores it with the same key', (_store, extra) => {
    const dir = stateDir()
    const ctx = {stateDir: dir, keychain: memoryKeychain(), ...extra}
    const alice = loadOrCreateDeviceKey(ctx)
    recordDeviceOwner(ctx, {sub: 'sub-alice', email: 'alice@example.com'})
    parkDeviceKey(ctx)
    expect(loadDeviceKey(ctx)).toBeUndefined()
    const bob = loadOrCreateDeviceKey(ctx)
    expect(bob.deviceId).not.toBe(alice.deviceId)
    expect(listParkedDevices(ctx)).toEqual([
      {deviceId: alice.deviceId, owner: {sub: 'sub-alice', email: 'alice@example.com'}},
    ])
    parkDeviceKey(ctx)
    const back = restoreDeviceKey(ctx, alice.deviceId)
    expect(back?.keyId).toBe(alice.keyId)
    expect(back?.owner?.sub).toBe('sub-alice')
    const batch = signBatch(back!, [new HashChain().append(body(1)).event])
    expect(verifyBatchSignature(batch, alice.publicKey)).toBe(true)
    expect(listParkedDevices(ctx).map((d) => d.deviceId)).toEqual([bob.deviceId])
  })

  it('ignores parked files that are not device files, and refuses a device id that is not one', () => {
    const dir = stateDir()
    const ctx = {stateDir: dir, keychain: memoryKeychain()}
    loadOrCreateDeviceKey(ctx)
    parkDeviceKey(ctx)
    writeFileSync(
      join(dir, 'devices', 'junk.json'),
      '{"version": 1, "device_id": "../../etc", "store": "file"}',
    )
    writeFileSync(join(dir, 'devices', 'broken.json'), 'not json')
    expect(listParkedDevices(ctx)).toHaveLength(1)
    writeFileSync(join(dir, 'device.json'), '{"version": 1, "device_id": "../x", "store": "file"}')
    expect(() => loadDeviceKey(ctx)).toThrow(/not a dbgate device file/)
  })
})
