/**
 * Control-plane mode of `dbgate connect TARGET` and `dbgate exec TARGET`: opens a session on a named target
 * (a minted short-lived database user and a verified policy bundle) and starts the guarded proxy with it.
 * The minted password lives in memory only: the upstream login is built as an object, never as a URL
 * string that could end up in a log, and nothing here prints it.
 */
import type {AuthContext, AuthenticatedClient} from '../auth/session.js'
import type {Settings} from '../config/index.js'
import type {BundleResponse, TargetSummary, TargetTls, TargetsResponse} from '../control/api-types.js'
import type {ControlClient} from '../control/client.js'
import type {VerifiedBundle} from '../control/bundle.js'
import type {DbSession} from '../control/sessions.js'
import {DbgateError, ExitCode, UsageError, messageOf} from '../errors.js'
import type {AuditSink} from '../audit/types.js'
import type {Actor, EvalContext} from '../policy/index.js'
import type {PgTarget} from '../proxy/index.js'
import type {MysqlSslMode, MysqlTarget} from '../proxy/mysql/target.js'
import {startGuardedProxy, type GuardedProxy, type GuardedProxyOptions} from './proxy-service.js'

/** What opening a session on a target needs. */
export interface TargetSessionOptions {
  /** The target's name in the control plane (`dbgate targets` lists them). */
  readonly target: string
  /** Set when an AI agent acts for the logged-in user: the session's actor becomes `agent`. */
  readonly agent?: string | undefined
  readonly settings: Settings
  readonly env: NodeJS.ProcessEnv
}

/** The upstream login of a session (the minted user, in memory only), by the target's protocol. */
export type TargetUpstream =
  | {readonly protocol: 'postgres'; readonly login: PgTarget}
  | {readonly protocol: 'mysql'; readonly login: MysqlTarget}

/** An open session on a target, with what the proxy needs to guard it. */
export interface TargetSession {
  readonly session: DbSession
  /** The upstream login and the engine that speaks to it. */
  readonly upstream: TargetUpstream
  /** Identity, groups, actor and target, as the verified bundle states them. */
  readonly evalContext: EvalContext
  /** The identity's `sub`: what audit events record (the control plane accepts no other). */
  readonly identity: string
  /** The agent acting for the identity, if any (approval requests name it). */
  readonly agent: string | undefined
  /** A control-plane client with a fresh access token (approval requests and grants). */
  readonly client: () => Promise<ControlClient>
  /** The authenticated client and its context: the audit trail uploads with them. */
  readonly auth: AuthenticatedClient
  readonly authContext: AuthContext
  /** Stops renewing and revokes the minted user; never throws (revoked: false if the server could not). */
  end(): Promise<{revoked: boolean}>
}

/** The agent's name: the --agent flag, else DBGATE_AGENT; undefined when no agent is involved. */
export function agentName(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const name = (flag ?? env.DBGATE_AGENT)?.trim()
  return name === undefined || name === '' ? undefined : name
}

/**
 * The proxy's upstream TLS from the target's settings on the control plane: the same mode the control plane
 * uses for its own connections, and for verify-full the CA it gives (PEM, in memory) and the host name to
 * check. A control plane too old to send settings gets libpq's default, prefer.
 */
export function upstreamTls(
  tls: TargetTls | undefined,
): Pick<PgTarget, 'sslmode' | 'sslrootcert' | 'sslca' | 'sslServerName'> {
  const none = {sslrootcert: undefined, sslca: undefined, sslServerName: undefined}
  if (tls === undefined) return {sslmode: 'prefer', ...none}
  switch (tls.mode) {
    case 'disable':
    case 'require':
      return {sslmode: tls.mode, ...none}
    case 'verify-full':
      return {sslmode: 'verify-full', ...none, sslca: tls.ca, sslServerName: tls.server_name}
  }
}

/**
 * The MySQL engine's upstream TLS from the same settings: disable, require (no verification) and
 * verify-full (the CA given in memory, the host name checked) as ssl-mode disabled, required and
 * verify_identity; a control plane too old to send settings gets the mysql client's default, preferred.
 */
export function mysqlUpstreamTls(
  tls: TargetTls | undefined,
): Pick<MysqlTarget, 'sslMode' | 'sslCa' | 'sslCaPem' | 'sslServerName'> {
  const none = {sslCa: undefined, sslCaPem: undefined, sslServerName: undefined}
  const mode = (m: MysqlSslMode) => ({sslMode: m, ...none})
  if (tls === undefined) return mode('preferred')
  switch (tls.mode) {
    case 'disable':
      return mode('disabled')
    case 'require':
      return mode('required')
    case 'verify-full':
      return {...mode('verify_identity'), sslCaPem: tls.ca, sslServerName: tls.server_name}
  }
}

/** The minted login for the target's engine; throws for a protocol dbgate does not guard. */
function upstreamOf(t: DbSession['target'], user: string, password: string): TargetUpstream {
  const login = {host: t.host, port: t.port, user, password, database: t.database}
  switch (t.protocol) {
    case 'postgres':
      return {protocol: 'postgres', login: {...login, ...upstreamTls(t.tls)}}
    case 'mysql':
      return {protocol: 'mysql', login: {...login, ...mysqlUpstreamTls(t.tls)}}
    default:
      throw new DbgateError(
        'E_PROTOCOL_UNSUPPORTED',
        `Target "${t.name}" is a ${String(t.protocol)} database; dbgate connect and exec guard PostgreSQL and MySQL/MariaDB targets.`,
        {exitCode: ExitCode.error},
      )
  }
}

/**
 * The control-plane client and what stands on it (HTTP client, OS keychain, uploads, approvals): loaded
 * at the first use of a TARGET, so a standalone proxy (--url) never carries them in memory.
 */
async function controlPlane() {
  const [auth, bundle, sessions, approvals, upload] = await Promise.all([
    import('../auth/session.js'),
    import('../control/bundle.js'),
    import('../control/sessions.js'),
    import('./approvals-service.js'),
    import('./audit-upload.js'),
  ])
  return {
    getAuthenticatedClient: auth.getAuthenticatedClient,
    verifyBundle: bundle.verifyBundle,
    bundleKeysFor: sessions.bundleKeysFor,
    openSession: sessions.openSession,
    cachedClient: approvals.cachedClient,
    reviewHook: approvals.reviewHook,
    trailUpload: upload.trailUpload,
  }
}

/** Opens a session on a target: authenticates, mints the user, verifies the bundle. */
export async function openTargetSession(o: TargetSessionOptions): Promise<TargetSession> {
  const {getAuthenticatedClient, openSession, cachedClient} = await controlPlane()
  const ctx: AuthContext = {...o.settings, env: o.env}
  const auth = await getAuthenticatedClient(ctx)
  // The server makes every machine-token session `ci`, whatever is asked here.
  const actor: Extract<Actor, 'human' | 'agent'> = o.agent === undefined ? 'human' : 'agent'
  const session = await openSession(auth, {
    target: o.target,
    actor,
    agent: o.agent,
    // Access tokens live minutes, sessions longer: each renewal gets a fresh one.
    reauthenticate: () => getAuthenticatedClient(ctx),
  })
  const end = (): Promise<{revoked: boolean}> => session.end().catch(() => ({revoked: false}))
  let upstream: TargetUpstream
  try {
    upstream = upstreamOf(session.target, session.credentials.user, session.credentials.password)
  } catch (err) {
    await end()
    throw err
  }
  return {
    session,
    upstream,
    evalContext: evalContextOf(session.bundle),
    identity: auth.identity.sub,
    agent: o.agent,
    client: cachedClient({settings: o.settings, env: o.env}),
    auth,
    authContext: ctx,
    end,
  }
}

/** Identity, groups, actor and target as a verified bundle states them: what the policy's rules see. */
export function evalContextOf(bundle: VerifiedBundle): EvalContext {
  const p = bundle.payload
  return {actor: p.actor, identity: p.identity, groups: p.groups, target: p.target}
}

/**
 * The bundle a session on the target would get now, verified like a session's (`policy test --target`),
 * and the target as the caller's target list shows it (its protocol picks the SQL dialect); undefined
 * when the list does not name it.
 */
export async function fetchTargetBundle(
  o: TargetSessionOptions,
): Promise<VerifiedBundle & {readonly summary: TargetSummary | undefined}> {
  const {getAuthenticatedClient, verifyBundle, bundleKeysFor} = await controlPlane()
  const auth = await getAuthenticatedClient({...o.settings, env: o.env})
  const query = new URLSearchParams({target: o.target})
  if (o.agent !== undefined) {
    query.set('actor', 'agent')
    query.set('agent', o.agent)
  }
  const res = await auth.client.get<BundleResponse>(`/api/v1/bundle?${query.toString()}`)
  const verified = verifyBundle(res.bundle, {
    keys: await bundleKeysFor(auth),
    target: o.target,
    identity: auth.identity.sub,
    now: Date.now(),
  })
  const {targets} = await auth.client.get<TargetsResponse>('/api/v1/targets')
  return {...verified, summary: targets.find((t) => t.name === o.target)}
}

/** Where and how the target's guarded listener runs. */
export interface TargetProxyOptions {
  readonly host: string
  readonly port: number
  readonly maxMessageBytes: number
  readonly stateDir: string
  readonly localPassword?: string | undefined
  readonly extraAudit?: AuditSink | undefined
  /** Called once if renewing fails: the proxy then refuses new connections; open ones go on until expiry. */
  readonly onRenewFailed?: ((error: DbgateError) => void) | undefined
  /** Called when a renewal brought a bundle with another policy or context, now enforced. */
  readonly onPolicyChanged?: ((bundle: VerifiedBundle) => void) | undefined
  /** `exec --approval ID`: a `review` statement spends this request's grant instead of asking again. */
  readonly approvalId?: string | undefined
  /** Prints a status line when audit uploads start failing (events stay spooled) and when they recover. */
  readonly onAuditStatus?: ((line: string) => void) | undefined
  /** MySQL: prints which request a held statement waits for (that protocol cannot tell its client). */
  readonly onReviewNotice?: ((line: string) => void) | undefined
}

/** What decides a statement: the policy's version and the context its rules see. */
const enforced = (b: VerifiedBundle): string => JSON.stringify([b.payload.policy_version, evalContextOf(b)])

/** Starts the guarded proxy of the target's engine for an open session and keeps its credentials renewed. */
export async function startTargetProxy(ts: TargetSession, o: TargetProxyOptions): Promise<GuardedProxy> {
  const {trailUpload, reviewHook} = await controlPlane()
  const loop = ts.session.renewLoop
  const p = ts.session.bundle.payload
  const common: Omit<GuardedProxyOptions, 'target'> = {
    upload: await trailUpload(ts.authContext, o.stateDir, ts.auth, o.onAuditStatus),
    auditFacts: {agent: p.agent, policyVersion: p.policy_version},
    policy: ts.session.policy,
    evalContext: ts.evalContext,
    identity: ts.identity,
    host: o.host,
    port: o.port,
    maxMessageBytes: o.maxMessageBytes,
    stateDir: o.stateDir,
    localPassword: o.localPassword,
    extraAudit: o.extraAudit,
    review: reviewHook({
      target: ts.session.target.name,
      agent: ts.agent,
      approvalId: o.approvalId,
      client: ts.client,
    }),
    reviewNotice: o.onReviewNotice,
    admit: () =>
      loop.failure === undefined
        ? undefined
        : new Error(
            `dbgate no longer accepts connections to ${ts.session.target.name}: ${messageOf(loop.failure)}`,
          ),
  }
  const up = ts.upstream
  const proxy =
    up.protocol === 'mysql'
      ? await (await import('./mysql-service.js')).startGuardedMysqlProxy({...common, target: up.login})
      : await startGuardedProxy({...common, target: up.login})
  // Each renewal brings a freshly verified bundle: a policy reloaded on the control plane (or changed groups)
  // applies from the next statement of every open session, not only to new connections.
  let current = enforced(ts.session.bundle)
  loop.start({
    onFailed: o.onRenewFailed,
    onRenewed: () => {
      const bundle = ts.session.bundle
      if (enforced(bundle) === current) return
      current = enforced(bundle)
      proxy.setPolicy(bundle.policy, evalContextOf(bundle), bundle.payload.policy_version)
      o.onPolicyChanged?.(bundle)
    },
  })
  return proxy
}

/** Opens a session on a target, runs `use` with it, and always ends the session (revoking the user). */
export async function withTargetSession<T>(
  o: TargetSessionOptions,
  use: (ts: TargetSession) => Promise<T>,
): Promise<{value: T; revoked: boolean}> {
  const ts = await openTargetSession(o)
  let value: T
  try {
    value = await use(ts)
  } catch (err) {
    await ts.end()
    throw err
  }
  const {revoked} = await ts.end()
  return {value, revoked}
}

/** Standalone (--url + --policy) or control-plane (TARGET) mode; never both. */
export type ProxyMode =
  | {readonly kind: 'target'; readonly target: string}
  | {readonly kind: 'standalone'; readonly url: string; readonly policy: string}

/** Checks that exactly one mode was asked for. */
export function proxyMode(
  target: string | undefined,
  url: string | undefined,
  policy: string | undefined,
): ProxyMode {
  if (target !== undefined) {
    if (url !== undefined || policy !== undefined)
      throw new UsageError(
        `Give either a TARGET (the control plane provides credentials and policy) or --url with --policy (standalone), not both.`,
        ['Unset DBGATE_URL and DBGATE_POLICY to use a target.'],
      )
    return {kind: 'target', target}
  }
  if (url === undefined)
    throw new UsageError('Give a TARGET (see `dbgate targets`), or --url with --policy for standalone mode.')
  if (policy === undefined) throw new UsageError('--url needs --policy (a policy file).')
  return {kind: 'standalone', url, policy}
}
