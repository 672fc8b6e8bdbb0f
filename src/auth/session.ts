/**
 * `getAuthenticatedClient()`: what every command that talks to the control plane calls first. It finds the
 * session (a machine token from DBGATE_TOKEN, or the stored login), refreshes it silently when it is about
 * to expire, and returns a client that sends a valid access token.
 */
import type {Identity} from '../control/api-types.js'
import type {BundleKeyRing} from '../control/bundle.js'
import {ControlClient, normalizeApiUrl} from '../control/client.js'
import {NotLoggedInError, UsageError} from '../errors.js'
import type {KeychainBackend} from './keychain.js'
import {withLock} from './lock.js'
import {
  pinnedBundleKeys,
  readLoginIndex,
  storeOfLogin,
  type StoreLocation,
  type TokenStore,
} from './token-store.js'
import {exchangeMachineToken, needsRefresh, refreshSession, type StoredSession} from './tokens.js'

/** What the auth layer needs from the resolved settings (src/config's Settings satisfies it). */
export interface AuthContext {
  /** --api > DBGATE_API > config file; undefined falls back to the API URL of the last login. */
  readonly apiUrl: string | undefined
  readonly configDir: string
  /** Where the device key's public record lives (login creates and registers the key when given). */
  readonly stateDir?: string | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
  /** Substituted by tests; the OS keychain otherwise. */
  readonly keychain?: KeychainBackend | undefined
  readonly now?: (() => number) | undefined
}

/** Where the session's access token came from. */
export type TokenSource = {readonly kind: 'env'; readonly variable: 'DBGATE_TOKEN'} | StoreLocation

/** A client of the control plane with a valid access token, and who it speaks for. */
export interface AuthenticatedClient {
  readonly client: ControlClient
  readonly apiUrl: string
  readonly identity: Identity
  /** ms since the epoch. */
  readonly accessTokenExpiresAt: number
  readonly source: TokenSource
  /**
   * The keys policy bundles must be signed with, pinned at login. Undefined with DBGATE_TOKEN (there is no
   * login: src/control/sessions.ts fetches them once per process) and for a login made before pinning.
   */
  readonly bundleKeys?: BundleKeyRing | undefined
}

/** The control plane to talk to: the configured one, else the one the user last logged in to. */
export function resolveApiUrl(ctx: Pick<AuthContext, 'apiUrl' | 'configDir' | 'env'>): string {
  if (ctx.apiUrl !== undefined && ctx.apiUrl !== '') return normalizeApiUrl(ctx.apiUrl)
  const current = readLoginIndex(ctx.configDir).current
  if (current !== undefined) return current
  const where = 'use --api URL, DBGATE_API, or `api:` in config.yaml'
  if (machineTokenFromEnv(ctx.env) !== undefined) {
    throw new UsageError(`DBGATE_TOKEN is set, but which control plane is it for? (${where})`)
  }
  throw new NotLoggedInError(`You are not logged in, and no control plane is configured (${where}).`)
}

/** The machine token from the environment, if one is set. */
export function machineTokenFromEnv(env: NodeJS.ProcessEnv | undefined): string | undefined {
  const token = (env ?? process.env).DBGATE_TOKEN
  return token === undefined || token.trim() === '' ? undefined : token.trim()
}

/**
 * Refreshes a stored session and keeps the result, under a lock: another dbgate process may be refreshing
 * the same session, and a rotated refresh token used twice ends it. Inside the lock, re-read the store
 * first; the other process may already have done the work.
 */
async function refreshStored(
  ctx: AuthContext,
  store: TokenStore,
  session: StoredSession,
  now: () => number,
): Promise<StoredSession> {
  return withLock(ctx.configDir, 'refresh', async () => {
    const latest = store.load(session.apiUrl) ?? session
    if (!needsRefresh(latest.accessTokenExpiresAt, now())) return latest
    const next = await refreshSession(new ControlClient({baseUrl: session.apiUrl}), latest, now())
    store.save(next)
    return next
  })
}

/** A client with a valid access token, from DBGATE_TOKEN or the stored login (refreshed if needed). */
export async function getAuthenticatedClient(ctx: AuthContext): Promise<AuthenticatedClient> {
  const now = ctx.now ?? Date.now
  const apiUrl = resolveApiUrl(ctx)
  const machineToken = machineTokenFromEnv(ctx.env)
  if (machineToken !== undefined) {
    const anonymous = new ControlClient({baseUrl: apiUrl})
    const tokens = await exchangeMachineToken(anonymous, await anonymous.discover(), machineToken)
    return {
      client: anonymous.withAccessToken(tokens.access_token),
      apiUrl,
      identity: tokens.identity,
      accessTokenExpiresAt: now() + tokens.expires_in * 1000,
      source: {kind: 'env', variable: 'DBGATE_TOKEN'},
    }
  }
  const store = storeOfLogin(ctx, apiUrl)
  let session = store?.load(apiUrl)
  if (store === undefined || session === undefined) {
    throw new NotLoggedInError(`You are not logged in to ${apiUrl}.`)
  }
  if (needsRefresh(session.accessTokenExpiresAt, now()))
    session = await refreshStored(ctx, store, session, now)
  return {
    client: new ControlClient({baseUrl: apiUrl, accessToken: session.accessToken}),
    apiUrl,
    identity: session.identity,
    accessTokenExpiresAt: session.accessTokenExpiresAt,
    source: store.location,
    bundleKeys: pinnedBundleKeys(ctx.configDir, apiUrl),
  }
}
