import {linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {describeStorage} from '../../src/auth/account.js'
import type {KeychainBackend} from '../../src/auth/keychain.js'
import {
  chooseStore,
  forgetLogin,
  readLoginIndex,
  recordLogin,
  storeOfLogin,
} from '../../src/auth/token-store.js'
import type {StoredSession} from '../../src/auth/tokens.js'

let dir: string
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'dbgate-store-')), 'config')
})
afterEach(() => rmSync(join(dir, '..'), {recursive: true, force: true}))

function session(apiUrl: string, refreshToken = 'rt-1'): StoredSession {
  return {
    version: 1,
    apiUrl,
    issuer: apiUrl,
    tokenEndpoint: `${apiUrl}/auth/token`,
    revocationEndpoint: `${apiUrl}/auth/revoke`,
    accessToken: 'at-secret',
    accessTokenExpiresAt: 1_000_000,
    refreshToken,
    identity: {sub: 'alice', name: 'Alice', kind: 'user', groups: ['eng'], roles: ['user']},
  }
}

/** A keychain that fails like a headless Linux box: no secret service. */
const brokenKeychain: KeychainBackend = {
  get: () => {
    throw new Error("Couldn't access platform storage: AccessDenied")
  },
  set: () => {
    throw new Error('AccessDenied')
  },
  delete: () => {
    throw new Error('AccessDenied')
  },
}

/** A keychain that works, kept in memory. */
function memoryKeychain(): KeychainBackend & {entries: Map<string, string>} {
  const entries = new Map<string, string>()
  return {
    entries,
    get: (a) => entries.get(a) ?? null,
    set: (a, s) => void entries.set(a, s),
    delete: (a) => entries.delete(a),
  }
}

describe('token store selection', () => {
  it('falls back to a 0600 file in a 0700 directory when the keychain throws', () => {
    const store = chooseStore({configDir: dir, env: {}, keychain: brokenKeychain}, 'https://a.example')
    expect(store.location).toMatchObject({kind: 'file', reason: 'no OS keychain available'})
    store.save(session('https://a.example'))
    const path = join(dir, 'credentials.json')
    expect(store.location.path).toBe(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(store.load('https://a.example')).toEqual(session('https://a.example'))
  })

  it('uses the keychain when it answers, and writes no token file', () => {
    const keychain = memoryKeychain()
    const store = chooseStore({configDir: dir, env: {}, keychain}, 'https://a.example')
    expect(store.location.kind).toBe('keychain')
    store.save(session('https://a.example'))
    expect(keychain.entries.has('https://a.example')).toBe(true)
    expect(store.load('https://a.example')?.refreshToken).toBe('rt-1')
    expect(() => statSync(join(dir, 'credentials.json'))).toThrow()
  })

  it('obeys DBGATE_TOKEN_STORE=file even when a keychain works', () => {
    const store = chooseStore(
      {configDir: dir, env: {DBGATE_TOKEN_STORE: 'file'}, keychain: memoryKeychain()},
      'https://a.example',
    )
    expect(store.location).toMatchObject({kind: 'file', reason: 'DBGATE_TOKEN_STORE=file'})
  })

  it('refuses an unknown DBGATE_TOKEN_STORE', () => {
    expect(() =>
      chooseStore({configDir: dir, env: {DBGATE_TOKEN_STORE: 'vault'}}, 'https://a.example'),
    ).toThrow(/DBGATE_TOKEN_STORE must be/)
  })
})

describe('file store', () => {
  it('keeps one session per API URL and replaces the file atomically', () => {
    const store = chooseStore({configDir: dir, env: {DBGATE_TOKEN_STORE: 'file'}}, 'https://a.example')
    store.save(session('https://a.example'))
    const path = join(dir, 'credentials.json')
    // A hard link to the old file keeps its content only if saves replace the file instead of rewriting it.
    const before = readFileSync(path, 'utf8')
    linkSync(path, join(dir, 'old-link'))
    store.save(session('https://b.example'))
    store.save(session('https://a.example', 'rt-2'))
    expect(readFileSync(join(dir, 'old-link'), 'utf8')).toBe(before)
    rmSync(join(dir, 'old-link'))
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
    expect(store.load('https://a.example')?.refreshToken).toBe('rt-2')
    expect(store.load('https://b.example')?.refreshToken).toBe('rt-1')
    expect(store.remove('https://a.example')).toBe(true)
    expect(store.remove('https://a.example')).toBe(false)
    expect(store.load('https://b.example')).toBeDefined()
    store.remove('https://b.example')
    expect(() => statSync(path)).toThrow()
  })

  it('reports a corrupt token file clearly', async () => {
    const store = chooseStore({configDir: dir, env: {DBGATE_TOKEN_STORE: 'file'}}, 'https://a.example')
    store.save(session('https://a.example'))
    const {writeFileSync} = await import('node:fs')
    writeFileSync(join(dir, 'credentials.json'), '{"version": 1, "sessions": ')
    expect(() => store.load('https://a.example')).toThrow(/credentials.json is not valid JSON/)
  })
})

describe('login index', () => {
  it('remembers the current API URL and which store holds each login', () => {
    const keychain = memoryKeychain()
    recordLogin(dir, 'https://a.example', {kind: 'file', path: join(dir, 'credentials.json'), reason: 'x'})
    recordLogin(dir, 'https://b.example', {kind: 'keychain'})
    expect(readLoginIndex(dir).current).toBe('https://b.example')
    expect(storeOfLogin({configDir: dir, keychain}, 'https://a.example')?.location.kind).toBe('file')
    expect(storeOfLogin({configDir: dir, keychain}, 'https://b.example')?.location.kind).toBe('keychain')
    expect(storeOfLogin({configDir: dir, keychain}, 'https://c.example')).toBeUndefined()
    forgetLogin(dir, 'https://b.example')
    expect(readLoginIndex(dir).current).toBeUndefined()
    expect(Object.keys(readLoginIndex(dir).logins)).toEqual(['https://a.example'])
    expect(readFileSync(join(dir, 'login.json'), 'utf8')).not.toContain('at-secret')
  })
})

describe('where whoami says tokens live', () => {
  it.each([
    [{kind: 'keychain' as const}, 'stored in: OS keychain'],
    [
      {
        kind: 'file' as const,
        path: '/home/u/.config/dbgate/credentials.json',
        reason: 'no OS keychain available',
      },
      'stored in: file ~/.config/dbgate/credentials.json (no OS keychain available)',
    ],
    [{kind: 'file' as const, path: '/tmp/x/credentials.json'}, 'stored in: file /tmp/x/credentials.json'],
    [{kind: 'env' as const}, 'from DBGATE_TOKEN (machine token, kept in memory only)'],
  ])('%o', (source, text) => {
    expect(describeStorage(source, '/home/u')).toBe(text)
  })
})

describe('the real OS keychain', () => {
  const headlessLinux = process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS
  it.runIf(headlessLinux)('is unreachable on headless Linux, so logins fall back to the file', () => {
    // Without a Secret Service the library would otherwise use the kernel keyring, which forgets at reboot.
    const store = chooseStore({configDir: dir, env: {}}, 'https://headless.example')
    expect(store.location).toMatchObject({kind: 'file', reason: 'no OS keychain available'})
  })
})

describe('a keychain that goes away after login', () => {
  it('reports a clear error with a way out, not the native library error', () => {
    recordLogin(dir, 'https://a.example', {kind: 'keychain'})
    const store = storeOfLogin({configDir: dir, keychain: brokenKeychain}, 'https://a.example')!
    expect(() => store.load('https://a.example')).toThrow(
      expect.objectContaining({
        code: 'E_TOKEN_STORE',
        suggestions: [expect.stringContaining('DBGATE_TOKEN_STORE=file')],
      }),
    )
  })
})
