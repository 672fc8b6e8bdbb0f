/**
 * Database sessions, CLI side: `openSession()` asks the control plane for a short-lived database user and
 * the signed policy bundle for one target, verifies the bundle against the keys pinned at login, and hands
 * back everything the proxy needs. Credentials live in this process's memory only: nothing here writes a
 * file, and they print as `***` if anything tries to log or serialise them.
 *
 *     const auth = await getAuthenticatedClient(settings)
 *     const session = await openSession(auth, {target: 'prod-pg', actor: 'agent', agent: 'claude'})
 *     session.renewLoop.start({onFailed: (err) => stopProxy(err)})
 *     // connect upstream as session.credentials.user / .password; guard with session.policy
 *     await session.end()                       // revokes the user now
 */
import {inspect} from 'node:util'

import type {Identity, RenewSessionResponse, SessionResponse, SessionTarget} from './api-types.js'
import {fetchBundleKeys, verifyBundle, type BundleKeyRing, type VerifiedBundle} from './bundle.js'
import type {ControlClient} from './client.js'
import {ControlPlaneError} from './errors.js'
import {DbgateError, UnreachableError, messageOf} from '../errors.js'
import type {Policy} from '../policy/index.js'

/** What openSession needs from the auth layer (src/auth/session.ts's AuthenticatedClient has it all). */
export interface SessionAuth {
  readonly client: ControlClient
  readonly identity: Identity
  /** Keys pinned at login; undefined for DBGATE_TOKEN (fetched once per process, see below). */
  readonly bundleKeys?: BundleKeyRing | undefined
  readonly source?: {readonly kind: string} | undefined
}

/** Options of openSession. */
export interface OpenSessionOptions {
  readonly target: string
  /** `agent` when an AI agent acts for the user (ignored for machine tokens, which are always `ci`). */
  readonly actor?: 'human' | 'agent' | undefined
  /** The agent's name. */
  readonly agent?: string | undefined
  /**
   * Returns a client with a fresh access token for renewals; access tokens live ~10 minutes, a session
   * much longer. Pass `() => getAuthenticatedClient(settings)`. Default: the first client, forever.
   */
  readonly reauthenticate?: (() => Promise<SessionAuth>) | undefined
  /** The clock, ms since the epoch (tests). */
  readonly now?: (() => number) | undefined
}

/** The database login of a session. Never written anywhere; redacted when logged or serialised. */
export class SessionCredentials {
  readonly #password: string
  /** ms since the epoch; moves forward on every renewal. */
  expiresAt: number

  /** Wraps what the control plane returned. */
  constructor(
    readonly user: string,
    password: string,
    expiresAt: number,
  ) {
    this.#password = password
    this.expiresAt = expiresAt
  }

  /** The password, for the proxy's upstream login only. */
  get password(): string {
    return this.#password
  }

  /** What JSON.stringify shows: never the password. */
  toJSON(): {user: string; password: string; expires_at: string} {
    return {user: this.user, password: '***', expires_at: new Date(this.expiresAt).toISOString()}
  }

  /** What console.log / util.inspect shows. */
  [inspect.custom](): string {
    return `SessionCredentials { user: '${this.user}', password: '***' }`
  }
}

/** Handlers of the renewal loop. */
export interface RenewHandlers {
  /** After each successful renewal. */
  readonly onRenewed?: ((expiresAt: number) => void) | undefined
  /** Once, when a renewal failed and the loop stopped: the credentials expire at `expiresAt` unless reopened. */
  readonly onFailed?: ((error: DbgateError) => void) | undefined
}

/** The renewal loop of a session: renews at renew_after_seconds, in the background. */
export interface RenewLoop {
  /** Starts renewing (no-op when running). */
  start(handlers?: RenewHandlers): void
  /** Stops renewing. */
  stop(): void
  /** Renews once now (also what the loop does). */
  renewNow(): Promise<void>
  /** Whether the loop runs. */
  readonly running: boolean
  /** Why the loop stopped on its own, if it did. */
  readonly failure: DbgateError | undefined
}

/** An open session on a target. */
export interface DbSession {
  readonly sessionId: string
  readonly target: SessionTarget
  readonly credentials: SessionCredentials
  /** The verified policy of the current bundle (replaced when a renewal brings a new one). */
  readonly policy: Policy
  /** The current verified bundle. */
  readonly bundle: VerifiedBundle
  /** The bundle for a reconnect: the one kept in memory while it has not expired, else E_BUNDLE_INVALID. */
  currentBundle(): VerifiedBundle
  readonly renewLoop: RenewLoop
  /** Stops renewing and revokes the user now; idempotent. Resolves `revoked: false` if the server could not. */
  end(): Promise<{revoked: boolean}>
}

const envKeys = new Map<string, Promise<BundleKeyRing>>()

/** The keys to verify with: pinned at login, or for DBGATE_TOKEN fetched once per process and API URL. */
export async function bundleKeysFor(auth: SessionAuth): Promise<BundleKeyRing> {
  if (auth.bundleKeys !== undefined) return auth.bundleKeys
  if (auth.source?.kind !== 'env')
    throw new DbgateError(
      'E_BUNDLE_INVALID',
      'This login has no pinned policy-bundle key (it predates bundle signing).',
      {suggestions: ['Run `dbgate login` again.']},
    )
  let pending = envKeys.get(auth.client.baseUrl)
  if (pending === undefined) {
    pending = fetchBundleKeys(auth.client)
    envKeys.set(auth.client.baseUrl, pending)
    pending.catch(() => envKeys.delete(auth.client.baseUrl))
  }
  return pending
}

/** A control plane that could not reach the target answers 503 `unavailable`: exit 6, like any unreachable. */
function mapTargetError(target: string, err: unknown): unknown {
  if (err instanceof ControlPlaneError && err.apiCode === 'unavailable')
    return new UnreachableError(`target "${target}" (through the control plane)`, err.message, err)
  return err
}

/** Opens a session: mints the database user, verifies the bundle. Throws DbgateErrors only. */
export async function openSession(auth: SessionAuth, options: OpenSessionOptions): Promise<DbSession> {
  const now = options.now ?? Date.now
  const keys = await bundleKeysFor(auth)
  let res: SessionResponse
  try {
    res = await auth.client.post<SessionResponse>('/api/v1/sessions', {
      json: {
        target: options.target,
        ...(options.actor === undefined ? {} : {actor: options.actor}),
        ...(options.agent === undefined ? {} : {agent: options.agent}),
      },
    })
  } catch (err) {
    throw mapTargetError(options.target, err)
  }
  const expect = {keys, target: res.target.name, identity: auth.identity.sub}
  let bundle: VerifiedBundle
  try {
    bundle = verifyBundle(res.bundle, {...expect, now: now()})
  } catch (err) {
    // Never leave a user behind for a session we refuse to use.
    await auth.client
      .send('DELETE', `/api/v1/sessions/${encodeURIComponent(res.session_id)}`, undefined)
      .catch(() => undefined)
    throw err
  }
  const credentials = new SessionCredentials(
    res.credentials.user,
    res.credentials.password,
    Date.parse(res.credentials.expires_at),
  )
  return new OpenSession(auth, options, res, credentials, bundle, expect, now)
}

class OpenSession implements DbSession {
  readonly sessionId: string
  readonly target: SessionTarget
  readonly renewLoop: RenewLoop
  #bundle: VerifiedBundle
  #ended: Promise<{revoked: boolean}> | undefined

  constructor(
    private auth: SessionAuth,
    private readonly options: OpenSessionOptions,
    res: SessionResponse,
    readonly credentials: SessionCredentials,
    bundle: VerifiedBundle,
    private readonly expect: {keys: BundleKeyRing; target: string; identity: string},
    private readonly now: () => number,
  ) {
    this.sessionId = res.session_id
    this.target = res.target
    this.#bundle = bundle
    this.renewLoop = new Renewer(() => this.renew(), res.renew_after_seconds)
  }

  get bundle(): VerifiedBundle {
    return this.#bundle
  }

  get policy(): Policy {
    return this.#bundle.policy
  }

  currentBundle(): VerifiedBundle {
    if (this.#bundle.expiresAt <= this.now())
      throw new DbgateError(
        'E_BUNDLE_INVALID',
        `The policy bundle for ${this.target.name} expired at ${this.#bundle.payload.expires_at} and was not renewed.`,
        {suggestions: ['Reconnect: `dbgate connect` opens a new session.']},
      )
    return this.#bundle
  }

  /** One renewal: new expiry, fresh bundle (verified before it replaces the old one). */
  async renew(): Promise<{afterSeconds: number; expiresAt: number}> {
    if (this.options.reauthenticate) this.auth = await this.options.reauthenticate()
    const path = `/api/v1/sessions/${encodeURIComponent(this.sessionId)}/renew`
    let res: RenewSessionResponse
    try {
      res = await this.auth.client.post<RenewSessionResponse>(path, {json: {}})
    } catch (err) {
      throw mapTargetError(this.target.name, err)
    }
    this.#bundle = verifyBundle(res.bundle, {...this.expect, now: this.now()})
    this.credentials.expiresAt = Date.parse(res.expires_at)
    return {afterSeconds: res.renew_after_seconds, expiresAt: this.credentials.expiresAt}
  }

  end(): Promise<{revoked: boolean}> {
    this.renewLoop.stop()
    this.#ended ??= this.auth.client
      .send<{revoked?: boolean}>(
        'DELETE',
        `/api/v1/sessions/${encodeURIComponent(this.sessionId)}`,
        undefined,
      )
      .then((r) => ({revoked: r.revoked === true}))
    return this.#ended
  }
}

class Renewer implements RenewLoop {
  #timer: NodeJS.Timeout | undefined
  #handlers: RenewHandlers = {}
  #failure: DbgateError | undefined
  #running = false
  #lastExpiry = 0

  constructor(
    private readonly renewOnce: () => Promise<{afterSeconds: number; expiresAt: number}>,
    private afterSeconds: number,
  ) {}

  get running(): boolean {
    return this.#running
  }

  get failure(): DbgateError | undefined {
    return this.#failure
  }

  start(handlers: RenewHandlers = {}): void {
    if (this.#running) return
    this.#handlers = handlers
    this.#running = true
    this.schedule()
  }

  stop(): void {
    this.#running = false
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async renewNow(): Promise<void> {
    const {afterSeconds, expiresAt} = await this.renewOnce()
    this.afterSeconds = afterSeconds
    this.#lastExpiry = expiresAt
  }

  private schedule(): void {
    this.#timer = setTimeout(() => void this.tick(), this.afterSeconds * 1000)
    // The loop alone never keeps the process alive; the proxy's sockets do.
    this.#timer.unref()
  }

  private async tick(): Promise<void> {
    if (!this.#running) return
    try {
      await this.renewNow()
    } catch (err) {
      if (!this.#running) return
      this.stop()
      this.#failure =
        err instanceof DbgateError
          ? err
          : new DbgateError('E_RENEW_FAILED', `Renewing the session failed: ${messageOf(err)}`)
      this.#handlers.onFailed?.(this.#failure)
      return
    }
    if (!this.#running) return
    this.#handlers.onRenewed?.(this.#lastExpiry)
    this.schedule()
  }
}
