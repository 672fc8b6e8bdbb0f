/**
 * The services behind `dbgate login`, `logout` and `whoami`: they combine the flows, the token store and
 * the control plane client; the commands only print what these return.
 */
import {homedir} from 'node:os'

import {CLI_CLIENT_ID, type Identity, type MeResponse, type Role} from '../control/api-types.js'
import {fetchBundleKeys} from '../control/bundle.js'
import {ControlClient} from '../control/client.js'
import {UsageError, messageOf} from '../errors.js'
import {setUpAuditDevice, type LoginDevice} from './audit-device.js'
import {browserLogin} from './browser-login.js'
import {deviceLogin, type DeviceCodePrompt} from './device-flow.js'
import {
  getAuthenticatedClient,
  machineTokenFromEnv,
  resolveApiUrl,
  type AuthContext,
  type TokenSource,
} from './session.js'
import {
  chooseStore,
  forgetLogin,
  readLoginIndex,
  recordLogin,
  storeOfLogin,
  type StoreLocation,
} from './token-store.js'

/** One line saying where tokens live, e.g. "stored in: file ~/.config/dbgate/credentials.json (no OS keychain available)". */
export function describeStorage(
  source: {
    readonly kind: TokenSource['kind']
    readonly path?: string | undefined
    readonly reason?: string | undefined
  },
  home: string = homedir(),
): string {
  switch (source.kind) {
    case 'keychain':
      return 'stored in: OS keychain'
    case 'file': {
      const path = source.path ?? 'credentials.json'
      const shown = home !== '' && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path
      return `stored in: file ${shown}${source.reason === undefined ? '' : ` (${source.reason})`}`
    }
    case 'env':
      return 'from DBGATE_TOKEN (machine token, kept in memory only)'
  }
}

/** How `dbgate login` should authenticate. */
export type LoginMode = 'browser' | 'device'

/** Options of a login beyond the context. */
export interface LoginOptions {
  readonly mode: LoginMode
  /** Browser mode: show (print, open) the authorization URL. */
  readonly onAuthorizationUrl: (url: string) => void | Promise<void>
  /** Device mode: show the verification URI and user code. */
  readonly onDeviceCode: (prompt: DeviceCodePrompt) => void | Promise<void>
  readonly timeoutMs?: number | undefined
}

/** What `dbgate login` reports. */
export interface LoginResult {
  readonly apiUrl: string
  readonly identity: Identity
  /** ISO 8601. */
  readonly accessTokenExpiresAt: string
  readonly storage: StoreLocation
  /** The device key that signs this install's audit trail, registered for the identity; or why not (yet). */
  readonly device?: LoginDevice | undefined
}

/** Logs in to the control plane and stores the session; returns who logged in and where tokens went. */
export async function login(ctx: AuthContext, options: LoginOptions): Promise<LoginResult> {
  if ((ctx.apiUrl ?? '') === '' && readLoginIndex(ctx.configDir).current === undefined) {
    throw new UsageError(
      'Which control plane? Give its URL: `dbgate login --api https://dbgate.example.com`.',
      ['Or set DBGATE_API, or `api:` in config.yaml.'],
    )
  }
  const apiUrl = resolveApiUrl(ctx)
  const client = new ControlClient({baseUrl: apiUrl})
  const discovery = await client.discover()
  // Pinned now, over the channel the login itself trusts: later bundles must be signed by these keys.
  const bundleKeys = await fetchBundleKeys(client)
  const store = chooseStore(ctx, apiUrl)
  const keep = (session: Parameters<typeof store.save>[0]): void => {
    store.save(session)
    recordLogin(ctx.configDir, apiUrl, store.location, bundleKeys)
  }
  let session
  switch (options.mode) {
    case 'browser':
      session = await browserLogin({
        client,
        discovery,
        onAuthorizationUrl: options.onAuthorizationUrl,
        onSession: keep,
        timeoutMs: options.timeoutMs,
        now: ctx.now,
      })
      break
    case 'device':
      session = await deviceLogin({client, discovery, onPrompt: options.onDeviceCode, now: ctx.now})
      keep(session)
      break
  }
  return {
    apiUrl,
    identity: session.identity,
    accessTokenExpiresAt: new Date(session.accessTokenExpiresAt).toISOString(),
    storage: store.location,
    device: await setUpAuditDevice(ctx, client.withAccessToken(session.accessToken), session.identity),
  }
}

/** What `dbgate logout` reports. */
export interface LogoutResult {
  /** null when no control plane is configured and nobody logged in. */
  readonly apiUrl: string | null
  /** False when there was no stored login to end. */
  readonly wasLoggedIn: boolean
  /** Whether the control plane revoked the refresh token. */
  readonly revoked: boolean
  /** Why revocation failed (the control plane down, say); local tokens are deleted anyway. */
  readonly revokeError?: string | undefined
  /** DBGATE_TOKEN is set: it keeps working, logout does not touch it. */
  readonly machineTokenInEnv: boolean
}

/** Revokes the refresh token server-side (best effort) and deletes the local session. */
export async function logout(ctx: AuthContext): Promise<LogoutResult> {
  const machineTokenInEnv = machineTokenFromEnv(ctx.env) !== undefined
  if ((ctx.apiUrl ?? '') === '' && readLoginIndex(ctx.configDir).current === undefined) {
    return {apiUrl: null, wasLoggedIn: false, revoked: false, machineTokenInEnv}
  }
  const apiUrl = resolveApiUrl(ctx)
  const store = storeOfLogin(ctx, apiUrl)
  const session = store?.load(apiUrl)
  if (store === undefined || session === undefined) {
    forgetLogin(ctx.configDir, apiUrl)
    return {apiUrl, wasLoggedIn: false, revoked: false, machineTokenInEnv}
  }
  let revoked = false
  let revokeError: string | undefined
  if (session.refreshToken !== undefined) {
    try {
      await new ControlClient({baseUrl: apiUrl}).post(session.revocationEndpoint, {
        form: {token: session.refreshToken, token_type_hint: 'refresh_token', client_id: CLI_CLIENT_ID},
      })
      revoked = true
    } catch (err) {
      revokeError = messageOf(err)
    }
  }
  store.remove(apiUrl)
  forgetLogin(ctx.configDir, apiUrl)
  return {apiUrl, wasLoggedIn: true, revoked, revokeError, machineTokenInEnv}
}

/** What `dbgate whoami` reports. */
export interface WhoamiResult {
  readonly apiUrl: string
  readonly sub: string
  readonly name: string
  readonly email?: string | undefined
  readonly kind: Identity['kind']
  readonly groups: string[]
  readonly roles: Role[]
  /** ISO 8601: when the current access token expires (it refreshes silently). */
  readonly tokenExpiresAt: string
  /** `keychain`, `file` or `env` (DBGATE_TOKEN). */
  readonly storage: TokenSource['kind']
  /** The token file, for file storage. */
  readonly storagePath?: string | undefined
  /** Why the file is used instead of the OS keychain. */
  readonly storageReason?: string | undefined
}

/** Asks the control plane who the current session speaks for (refreshing it if needed). */
export async function whoami(ctx: AuthContext): Promise<WhoamiResult> {
  const auth = await getAuthenticatedClient(ctx)
  const me: MeResponse = await auth.client.me()
  const source = auth.source
  return {
    apiUrl: auth.apiUrl,
    sub: me.sub,
    name: me.name,
    email: me.email,
    kind: me.kind,
    groups: me.groups,
    roles: me.roles,
    tokenExpiresAt: me.token_expires_at,
    storage: source.kind,
    storagePath: source.kind === 'file' ? source.path : undefined,
    storageReason: source.kind === 'file' ? source.reason : undefined,
  }
}
