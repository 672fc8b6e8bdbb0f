import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  openStore,
  StoreConflictError,
  type DbSessionRecord,
  type Store,
} from '../../src/server/store/index.js'
import {pgAdmin, suffix} from './credentials-support.js'

// The db_sessions table on both stores: the record every minted user gets before it exists.

const T0 = 1_800_000_000_000

function session(over: Partial<DbSessionRecord> = {}): DbSessionRecord {
  return {
    id: `dbs_${suffix()}`,
    ownerSub: 'alice',
    identity: {sub: 'alice', name: 'Alice', kind: 'user', groups: ['eng']},
    actor: 'agent',
    agent: 'claude',
    target: 'prod-pg',
    protocol: 'postgres',
    dbUser: `dbg_alice_${suffix()}`,
    dbRole: 'app_readonly',
    status: 'minting',
    createdAt: T0,
    expiresAt: T0 + 900_000,
    endedAt: null,
    revokedAt: null,
    ...over,
  }
}

const db = `dbg_store_${suffix()}`
const dir = mkdtempSync(join(tmpdir(), 'dbgate-cred-store-'))

describe.each(['sqlite', 'postgres'] as const)('db sessions in the %s store', (kind) => {
  let store: Store

  beforeAll(async () => {
    if (kind === 'postgres') {
      await pgAdmin(`CREATE DATABASE ${db}`)
      store = await openStore({kind, url: `postgres://postgres@127.0.0.1:5432/${db}`}, T0)
    } else store = await openStore({kind, dataDir: dir}, T0)
  })
  afterAll(async () => {
    await store?.close()
    if (kind === 'postgres') await pgAdmin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
    else rmSync(dir, {recursive: true, force: true})
  })

  it('records, activates, extends, ends and revokes', async () => {
    const s = session()
    await store.recordDbSession(s)
    await expect(store.recordDbSession({...session(), dbUser: s.dbUser})).rejects.toBeInstanceOf(
      StoreConflictError,
    )
    expect(await store.extendDbSession(s.id, T0 + 2_000_000, T0)).toBeUndefined() // still minting
    expect(await store.activateDbSession(s.id)).toBe(true)
    expect(await store.activateDbSession(s.id)).toBe(false)
    expect((await store.extendDbSession(s.id, T0 + 2_000_000, T0 + 1000))?.expiresAt).toBe(T0 + 2_000_000)
    expect(await store.extendDbSession(s.id, T0 + 9_000_000, T0 + 2_000_000)).toBeUndefined() // expired
    expect(await store.findDbSessionByUser('prod-pg', s.dbUser)).toMatchObject({id: s.id, agent: 'claude'})
    expect(await store.listDueDbSessions(T0 + 1000)).not.toContainEqual(expect.objectContaining({id: s.id}))
    const ended = await store.endDbSession(s.id, T0 + 5000)
    expect(ended?.endedAt).toBe(T0 + 5000)
    expect((await store.endDbSession(s.id, T0 + 9000))?.endedAt).toBe(T0 + 5000)
    expect(await store.listDueDbSessions(T0 + 6000)).toContainEqual(expect.objectContaining({id: s.id}))
    expect(await store.listDbSessionTargets(T0)).toEqual(['prod-pg'])
    await store.markDbSessionRevoked(s.id, T0 + 7000)
    expect(await store.getDbSession(s.id)).toMatchObject({status: 'revoked', revokedAt: T0 + 7000})
    expect(await store.listDueDbSessions(T0 + 8000)).toEqual([])
    expect(await store.purgeDbSessions(T0 + 7001)).toBe(1)
    expect(await store.getDbSession(s.id)).toBeUndefined()
  })

  it('lists sessions past their expiry as due, even never activated ones', async () => {
    const s = session({expiresAt: T0 + 10})
    await store.recordDbSession(s)
    expect((await store.listDueDbSessions(T0 + 10)).map((x) => x.id)).toContain(s.id)
  })
})
