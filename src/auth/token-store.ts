/**
 * Where sessions live between commands: the OS keychain when one is reachable, otherwise a 0600 file
 * (`credentials.json` in the config directory). `login.json` remembers which API URL the user logged in to
 * and which store holds its tokens; it holds no secret.
 */
import {join} from 'node:path'

import type {BundleKeyRing} from '../control/bundle.js'
import {DbgateError, UsageError, messageOf} from '../errors.js'
import {osKeychain, type KeychainBackend} from './keychain.js'
import {readJsonFile, removeFile, writePrivateJsonFile} from './file-store.js'
import type {StoredSession} from './tokens.js'

/** The two places tokens can live. */
export type StoreKind = 'keychain' | 'file'

/** Where a session's tokens are, as `whoami` reports it. */
export interface StoreLocation {
  readonly kind: StoreKind
  /** The file, for the file store. */
  readonly path?: string | undefined
  /** Why the file store is used (no keychain reachable, or DBGATE_TOKEN_STORE=file). */
  readonly reason?: string | undefined
}

/** A place that keeps one session per API URL. */
export interface TokenStore {
  readonly location: StoreLocation
  /** The session stored for an API URL, if any. */
  load(apiUrl: string): StoredSession | undefined
  /** Stores (atomically replaces) a session. */
  save(session: StoredSession): void
  /** Deletes the session of an API URL; false when there was none. */
  remove(apiUrl: string): boolean
}

/** What the token store needs to know about its surroundings. */
export interface StoreEnv {
  readonly configDir: string
  readonly env?: NodeJS.ProcessEnv | undefined
  /** The keychain to use; the OS keychain unless a test substitutes one. */
  readonly keychain?: KeychainBackend | undefined
}

interface CredentialsFile {
  version: 1
  sessions: Record<string, StoredSession>
}

/** The path of the token file under a config directory. */
export function credentialsPath(configDir: string): string {
  return join(configDir, 'credentials.json')
}

function readCredentials(path: string): CredentialsFile {
  const doc = readJsonFile(path) as Partial<CredentialsFile> | undefined
  if (doc === undefined) return {version: 1, sessions: {}}
  if (doc.version !== 1 || typeof doc.sessions !== 'object' || doc.sessions === null) {
    throw new DbgateError('E_TOKEN_STORE', `${path} is not a dbgate credentials file.`, {
      suggestions: [`Delete ${path} and run \`dbgate login\` again.`],
    })
  }
  return doc as CredentialsFile
}

/** The 0600 file store. */
export function fileStore(configDir: string, reason: string): TokenStore {
  const path = credentialsPath(configDir)
  return {
    location: {kind: 'file', path, reason},
    load: (apiUrl) => readCredentials(path).sessions[apiUrl],
    save(session) {
      const file = readCredentials(path)
      file.sessions[session.apiUrl] = session
      writePrivateJsonFile(path, file)
    },
    remove(apiUrl) {
      const file = readCredentials(path)
      if (file.sessions[apiUrl] === undefined) return false
      delete file.sessions[apiUrl]
      if (Object.keys(file.sessions).length === 0) removeFile(path)
      else writePrivateJsonFile(path, file)
      return true
    },
  }
}

/** The OS keychain store: service "dbgate", one account per API URL, the session as JSON. */
export function keychainStore(keychain: KeychainBackend): TokenStore {
  return {
    location: {kind: 'keychain'},
    load(apiUrl) {
      const text = keychainCall(() => keychain.get(apiUrl))
      if (text === null) return undefined
      try {
        return JSON.parse(text) as StoredSession
      } catch {
        return undefined
      }
    },
    save: (session) => keychainCall(() => keychain.set(session.apiUrl, JSON.stringify(session))),
    remove: (apiUrl) => keychainCall(() => keychain.delete(apiUrl)),
  }
}

/** Runs a keychain call, reporting a failure as a DbgateError rather than the native library's error. */
function keychainCall<T>(call: () => T): T {
  try {
    return call()
  } catch (err) {
    throw new DbgateError('E_TOKEN_STORE', `The OS keychain is not available: ${messageOf(err)}`, {
      suggestions: [
        'Set DBGATE_TOKEN_STORE=file to keep tokens in a 0600 file instead, then `dbgate login`.',
      ],
    })
  }
}

/** Opens a store of a known kind (the one login.json names). */
export function openStore(kind: StoreKind, ctx: StoreEnv, reason?: string): TokenStore {
  switch (kind) {
    case 'keychain':
      return keychainStore(ctx.keychain ?? osKeychain)
    case 'file':
      return fileStore(ctx.configDir, reason ?? 'no OS keychain available')
  }
}

/**
 * Picks where a new login's tokens go: DBGATE_TOKEN_STORE=file|keychain forces one; otherwise the keychain if
 * it answers a read, else the file.
 */
export function chooseStore(ctx: StoreEnv, apiUrl: string): TokenStore {
  const wanted = ctx.env?.DBGATE_TOKEN_STORE ?? 'auto'
  const keychain = ctx.keychain ?? osKeychain
  switch (wanted) {
    case 'file':
      return fileStore(ctx.configDir, 'DBGATE_TOKEN_STORE=file')
    case 'keychain':
      return keychainStore(keychain)
    case 'auto':
    case '':
      try {
        keychain.get(apiUrl)
        return keychainStore(keychain)
      } catch {
        return fileStore(ctx.configDir, 'no OS keychain available')
      }
    default:
      throw new UsageError(`DBGATE_TOKEN_STORE must be "auto", "keychain" or "file", got "${wanted}".`)
  }
}

/** How one API URL's login is recorded in login.json. */
export interface LoginRecord {
  readonly store: StoreKind
  readonly reason?: string | undefined
  /** The control plane's policy-bundle public keys, pinned at login (public, not secret). */
  readonly bundle_keys?: BundleKeyRing | undefined
}

/** login.json: the API URL of the current login and, for every login, the store holding its tokens. */
export interface LoginIndex {
  readonly version: 1
  readonly current: string | undefined
  readonly logins: Readonly<Record<string, LoginRecord>>
}

function indexPath(configDir: string): string {
  return join(configDir, 'login.json')
}

/** The login index; empty when nobody logged in yet. */
export function readLoginIndex(configDir: string): LoginIndex {
  const doc = readJsonFile(indexPath(configDir)) as Partial<LoginIndex> | undefined
  if (doc?.version !== 1 || typeof doc.logins !== 'object' || doc.logins === null) {
    return {version: 1, current: undefined, logins: {}}
  }
  return {version: 1, current: typeof doc.current === 'string' ? doc.current : undefined, logins: doc.logins}
}

/** Records a login to `apiUrl` (now the current one), where its tokens went, and the bundle keys it pinned. */
export function recordLogin(
  configDir: string,
  apiUrl: string,
  location: StoreLocation,
  bundleKeys?: BundleKeyRing,
): void {
  const index = readLoginIndex(configDir)
  const record: LoginRecord = {store: location.kind, reason: location.reason, bundle_keys: bundleKeys}
  const logins = {...index.logins, [apiUrl]: record}
  writePrivateJsonFile(indexPath(configDir), {version: 1, current: apiUrl, logins})
}

/** Forgets the login to `apiUrl` (after logout). */
export function forgetLogin(configDir: string, apiUrl: string): void {
  const index = readLoginIndex(configDir)
  const logins = Object.fromEntries(Object.entries(index.logins).filter(([url]) => url !== apiUrl))
  const current = index.current === apiUrl ? undefined : index.current
  if (current === undefined && Object.keys(logins).length === 0) removeFile(indexPath(configDir))
  else writePrivateJsonFile(indexPath(configDir), {version: 1, current, logins})
}

/** The bundle keys pinned when logging in to `apiUrl`, if that login pinned any. */
export function pinnedBundleKeys(configDir: string, apiUrl: string): BundleKeyRing | undefined {
  return readLoginIndex(configDir).logins[apiUrl]?.bundle_keys
}

/** The store holding the tokens of a login to `apiUrl`, or undefined when there was no such login. */
export function storeOfLogin(ctx: StoreEnv, apiUrl: string): TokenStore | undefined {
  const record = readLoginIndex(ctx.configDir).logins[apiUrl]
  return record === undefined ? undefined : openStore(record.store, ctx, record.reason)
}
