import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStore, StoreConflictError, type Store} from '../../src/server/store/index.js'

// One suite, two stores: the embedded SQLite file and a scratch PostgreSQL database.

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
const T0 = 1_800_000_000_000
const alice = {sub: 'alice', name: 'Alice', kind: 'user' as const, groups: ['eng']}

interface Backend {
  name: string
  open(): Promise<Store>
  cleanup(): Promise<void>
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-store-'))
  return {
    name: 'sqlite',
    open: () => openStore({kind: 'sqlite', dataDir: dir}, T0),
    cleanup: () => Promise.resolve(rmSync(dir, {recursive: true, force: true})),
  }
}

function postgresBackend(): Backend {
  const db = `dbgate_store_${process.pid}_${Date.now()}`
  let created = false
  return {
    name: 'postgres',
    open: async () => {
      if (!created) {
        const admin = new pg.Client(ADMIN_URL)
        await admin.connect()
        await admin.query(`CREATE DATABASE ${db}`)
        await admin.end()
        created = true
      }
      return openStore({kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/${db}`}, T0)
    },
    cleanup: async () => {
      const admin = new pg.Client(ADMIN_URL)
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
      await admin.end()
    },
  }
}

describe.each([
  ['sqlite', sqliteBackend],
  ['postgres', postgresBackend],
] as const)('store: %s', (_name, make) => {
  const backend = make()
  let store: Store

  beforeAll(async () => {
    store = await backend.open()
  })
  afterAll(async () => {
    await store?.close()
    await backend.cleanup()
  })

  it('migrates idempotently: reopening keeps the data', async () => {
    await store.putMetaIfAbsent('k', 'v1')
    await store.close()
    store = await backend.open()
    expect(await store.getMeta('k')).toBe('v1')
    expect(await store.putMetaIfAbsent('k', 'v2')).toBe('v1')
    expect(store.kind).toBe(_name)
  })

  it('keeps signing keys newest first', async () => {
    await store.addSigningKey({kid: 'a', alg: 'EdDSA', publicJwk: '{}', privateJwkEnc: 'x', createdAt: T0})
    await store.addSigningKey({
      kid: 'b',
      alg: 'EdDSA',
      publicJwk: '{}',
      privateJwkEnc: 'y',
      createdAt: T0 + 1,
    })
    expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(['b', 'a'])
  })

  it('takes an auth request once, and not after expiry', async () => {
    const base = {
      kind: 'cli' as const,
      cliRedirectUri: 'http://127.0.0.1:1/cb',
      cliState: 's',
      cliCodeChallenge: 'c',
      cliNonce: null,
      deviceId: null,
      idpCodeVerifier: 'v',
      idpNonce: 'n',
    }
    await store.createAuthRequest({...base, id: 'r1', expiresAt: T0 + 1000})
    await store.createAuthRequest({...base, id: 'r2', expiresAt: T0 + 1000})
    expect((await store.takeAuthRequest('r1', T0))?.cliRedirectUri).toBe('http://127.0.0.1:1/cb')
    expect(await store.takeAuthRequest('r1', T0)).toBeUndefined()
    expect(await store.takeAuthRequest('r2', T0 + 1000)).toBeUndefined()
  })

  it('consumes an auth code exactly once, even when raced', async () => {
    await store.createAuthCode({
      codeHash: 'h1',
      identity: alice,
      redirectUri: 'http://127.0.0.1:1/cb',
      codeChallenge: 'c',
      nonce: 'n',
      expiresAt: T0 + 60_000,
      usedAt: null,
    })
    const results = await Promise.all([1, 2, 3, 4].map(() => store.consumeAuthCode('h1', T0)))
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(results.find(Boolean)?.identity).toEqual(alice)
    await store.createAuthCode({
      codeHash: 'h2',
      identity: alice,
      redirectUri: 'x',
      codeChallenge: 'c',
      nonce: null,
      expiresAt: T0,
      usedAt: null,
    })
    expect(await store.consumeAuthCode('h2', T0)).toBeUndefined()
  })

  it('runs a device authorization through its states', async () => {
    const d = {
      id: 'd1',
      deviceCodeHash: 'dh1',
      userCode: 'BCDFGHJK',
      status: 'pending' as const,
      identity: null,
      intervalSeconds: 5,
      lastPolledAt: null,
      expiresAt: T0 + 600_000,
    }
    await store.createDevice(d)
    await expect(store.createDevice({...d, id: 'd2', deviceCodeHash: 'dh2'})).rejects.toBeInstanceOf(
      StoreConflictError,
    )
    expect((await store.findPendingDeviceByUserCode('BCDFGHJK', T0))?.id).toBe('d1')
    expect(await store.findPendingDeviceByUserCode('BCDFGHJK', T0 + 600_000)).toBeUndefined()
    await store.recordDevicePoll('d1', T0 + 1, 10)
    expect((await store.findDeviceByCodeHash('dh1'))?.intervalSeconds).toBe(10)
    expect(await store.consumeDevice('d1')).toBe(false)
    expect(await store.decideDevice('d1', 'approved', alice)).toBe(true)
    expect(await store.decideDevice('d1', 'denied', null)).toBe(false)
    expect((await store.getDevice('d1'))?.identity).toEqual(alice)
    expect(await store.consumeDevice('d1')).toBe(true)
    expect(await store.consumeDevice('d1')).toBe(false)
  })

  it('rotates refresh tokens and revokes the session when an old one is reused', async () => {
    await store.createSession(
      {id: 's1', identity: alice, createdAt: T0, expiresAt: T0 + 86_400_000, revokedAt: null},
      {tokenHash: 'r1', sessionId: 's1', createdAt: T0, expiresAt: T0 + 3_600_000, usedAt: null},
    )
    const next = {createdAt: T0, expiresAt: T0 + 3_600_000, usedAt: null}
    const first = await store.rotateRefreshToken('r1', {...next, tokenHash: 'r2'}, T0 + 1)
    expect(first.kind).toBe('rotated')
    expect((await store.rotateRefreshToken('r2', {...next, tokenHash: 'r3'}, T0 + 2)).kind).toBe('rotated')
    expect(await store.rotateRefreshToken('r1', {...next, tokenHash: 'r4'}, T0 + 3)).toEqual({
      kind: 'reused',
      sessionId: 's1',
    })
    expect((await store.getSession('s1'))?.revokedAt).toBe(T0 + 3)
    // The newest token of a revoked session is dead too.
    expect((await store.rotateRefreshToken('r3', {...next, tokenHash: 'r5'}, T0 + 4)).kind).toBe('invalid')
    expect((await store.rotateRefreshToken('nope', {...next, tokenHash: 'r6'}, T0)).kind).toBe('invalid')
  })

  it('refuses expired refresh tokens and revokes by refresh hash', async () => {
    await store.createSession(
      {id: 's2', identity: alice, createdAt: T0, expiresAt: T0 + 86_400_000, revokedAt: null},
      {tokenHash: 'q1', sessionId: 's2', createdAt: T0, expiresAt: T0 + 1000, usedAt: null},
    )
    const next = {tokenHash: 'q2', createdAt: T0, expiresAt: T0 + 3_600_000, usedAt: null}
    expect((await store.rotateRefreshToken('q1', next, T0 + 1000)).kind).toBe('invalid')
    await store.createSession(
      {id: 's3', identity: alice, createdAt: T0, expiresAt: T0 + 86_400_000, revokedAt: null},
      {tokenHash: 'p1', sessionId: 's3', createdAt: T0, expiresAt: T0 + 3_600_000, usedAt: null},
    )
    expect(await store.revokeSessionByRefreshHash('p1', T0 + 5)).toBe(true)
    expect(await store.revokeSessionByRefreshHash('unknown', T0 + 5)).toBe(false)
    expect((await store.getSession('s3'))?.revokedAt).toBe(T0 + 5)
  })

  it('keeps machine tokens unique by live name, revocable by id or name', async () => {
    const t = {
      id: 'mt1',
      name: 'ci',
      tokenHash: 'th1',
      groups: ['deploy'],
      createdAt: T0,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
      createdBy: 'carol',
    }
    await store.createMachineToken(t)
    await expect(store.createMachineToken({...t, id: 'mt2', tokenHash: 'th2'})).rejects.toBeInstanceOf(
      StoreConflictError,
    )
    expect((await store.findMachineTokenByHash('th1'))?.groups).toEqual(['deploy'])
    await store.touchMachineToken('mt1', T0 + 7)
    expect((await store.getMachineToken('mt1'))?.lastUsedAt).toBe(T0 + 7)
    expect((await store.revokeMachineToken('ci', T0 + 9))?.id).toBe('mt1')
    expect(await store.revokeMachineToken('ci', T0 + 10)).toBeUndefined()
    await store.createMachineToken({...t, id: 'mt3', tokenHash: 'th3', createdAt: T0 + 1})
    expect((await store.listMachineTokens()).map((x) => x.id)).toEqual(['mt3', 'mt1'])
    expect((await store.revokeMachineToken('mt3', T0 + 11))?.name).toBe('ci')
  })

  it('upserts, lists and deletes targets', async () => {
    const t = {
      name: 'db1',
      protocol: 'postgres' as const,
      host: 'h',
      port: 5432,
      database: 'd',
      tls: {mode: 'disable' as const},
      groups: ['eng'],
      roles: [{groups: ['eng'], db_role: 'app_ro'}],
      credentialTtl: 120,
      adminUser: 'u',
      adminPasswordEnc: 'sealed',
      source: 'api' as const,
      createdAt: T0,
    }
    await store.upsertTarget(t)
    await store.upsertTarget({...t, port: 5433, groups: ['eng', 'ops']})
    expect(await store.listTargets()).toEqual([{...t, port: 5433, groups: ['eng', 'ops']}])
    expect(await store.deleteTarget('db1')).toBe(true)
    expect(await store.deleteTarget('db1')).toBe(false)
    expect(await store.getTarget('db1')).toBeUndefined()
  })

  it('purges expired short-lived rows', async () => {
    expect(await store.purgeExpired(T0 + 10 * 86_400_000)).toBeGreaterThan(0)
    expect(await store.purgeExpired(T0 + 10 * 86_400_000)).toBe(0)
  })
})
