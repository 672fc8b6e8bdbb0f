/**
 * The service behind `dbgate connect` and `dbgate exec`: builds a guarded proxy's engine (Postgres here, MySQL
 * in mysql-service.ts) from a target URL and a policy file or a control-plane session, checks the target is
 * reachable, and starts a listener; one lifecycle for both protocols (startGuarded).
 */
import {readFileSync} from 'node:fs'
import {userInfo} from 'node:os'

import type {TrailUpload} from '../audit/trail.js'
import type {AuditSink} from '../audit/types.js'
import {readVersionedPolicyFile} from '../config/policy-file.js'
import {DbgateError, ExitCode, UnreachableError, UsageError} from '../errors.js'
import {loadParsers, type EvalContext, type Policy} from '../policy/index.js'
import {
  PostgresEngine,
  TargetUrlError,
  UpstreamRejectedError,
  UpstreamUnreachableError,
  connectUpstream,
  describeTarget,
  parsePgUrl,
  type Engine,
  type PgTarget,
  type Protocol,
  type ProxyListener,
} from '../proxy/index.js'
import type {ReviewHook} from '../proxy/index.js'
import {isMysqlUrl, type MysqlTarget} from '../proxy/mysql/target.js'
import {SessionError} from '../proxy/postgres/session.js'
import {
  gatedEngine,
  liveAuditFacts,
  livePolicy,
  serveEngine,
  withLive,
  type LivePolicy,
} from './serve-engine.js'

/** Inputs of a standalone proxy. */
export interface StandaloneOptions {
  readonly url: string
  readonly policyFile: string
  readonly host: string
  readonly port: number
  readonly maxMessageBytes: number
  readonly stateDir: string
  readonly localPassword?: string | undefined
  /** Extra sinks (exec records decisions in memory). */
  readonly extraAudit?: AuditSink | undefined
}

/** A running standalone proxy. */
export interface StandaloneProxy {
  readonly listener: ProxyListener
  readonly target: PgTarget | MysqlTarget
  /** The engine's wire protocol (from the URL scheme). */
  readonly protocol: Protocol
  /** The policy in force now. */
  readonly policy: Policy
  /** The audit spool directory of this process's lane. */
  readonly auditDir: string
  close(reason?: string): Promise<void>
}

/** A proxy whose policy can change while it runs (control-plane mode renews its bundle). */
export interface GuardedProxy extends StandaloneProxy {
  /**
   * Enforces another policy (and context) from the next statement of every session, open ones included;
   * later audit events record `policyVersion`.
   */
  setPolicy(policy: Policy, evalContext: EvalContext, policyVersion?: string): void
}

/** dbgate's version from package.json, recorded in audit events. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string
    }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/** The OS user running dbgate: the identity of standalone mode. */
export function osIdentity(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

/** Parses --url with `parse`, turning a bad URL into a usage error (the password is never echoed). */
export function parseUrlFlag<T>(parse: (url: string) => T, url: string): T {
  try {
    return parse(url)
  } catch (err) {
    if (err instanceof TargetUrlError) throw new UsageError(`Bad --url: ${err.message}.`)
    throw err
  }
}

/** Parses the target URL into a usage error when it is wrong (the password is never echoed). */
export function parseTarget(url: string): PgTarget {
  return parseUrlFlag(parsePgUrl, url)
}

/**
 * Runs `login`, one connection that checks the target is reachable and accepts the credentials, and turns its
 * failures into the CLI's errors: unreachable (exit 6) naming `described`, or refused with `suggestions`.
 */
export async function checkReachable(
  described: string,
  suggestions: string[],
  login: () => Promise<void>,
): Promise<void> {
  try {
    await login()
  } catch (err) {
    if (err instanceof UpstreamUnreachableError) throw new UnreachableError(described, err.message, err)
    if (err instanceof UpstreamRejectedError)
      throw new DbgateError('E_UPSTREAM_REJECTED', `The database refused the connection: ${err.message}`, {
        exitCode: ExitCode.error,
        suggestions,
      })
    throw err
  }
}

/** Connects once to check the target is reachable and accepts the credentials. */
export async function checkTarget(target: PgTarget): Promise<void> {
  await checkReachable(
    describeTarget(target),
    [
      'Standalone mode: check the user, password and database in --url.',
      'TARGET mode: the minted login was refused; ask an admin to check the target on the control plane.',
    ],
    async () => {
      const up = await connectUpstream(target, {timeoutMs: 10_000})
      up.socket.end(Buffer.from([0x58, 0, 0, 0, 4]))
    },
  )
}

/** Inputs of a guarded proxy, whatever supplied the upstream login and the policy. */
export interface GuardedProxyOptions<T extends PgTarget | MysqlTarget = PgTarget> {
  /** The upstream login, built in memory (never from a string that could be logged). */
  readonly target: T
  readonly policy: Policy
  /** Who the sessions act as, for the policy's rules. */
  readonly evalContext: EvalContext
  /** The identity audit events record. */
  readonly identity: string
  readonly host: string
  readonly port: number
  readonly maxMessageBytes: number
  readonly stateDir: string
  readonly localPassword?: string | undefined
  readonly extraAudit?: AuditSink | undefined
  /** TARGET mode: upload the trail to the control plane; the agent's name and the bundle's policy version. */
  readonly upload?: TrailUpload | undefined
  readonly auditFacts?: {readonly agent?: string | null; readonly policyVersion?: string | null} | undefined
  /** Asked before each new client connection; an error refuses it (in the protocol's own format). */
  readonly admit?: (() => Error | undefined) | undefined
  /** Control-plane mode: what a `review` statement leads to (src/cli/approvals-service.ts). */
  readonly review?: ReviewHook | undefined
  /** MySQL: where the message of a statement held for approval goes (that protocol has no notice). */
  readonly reviewNotice?: ((line: string) => void) | undefined
}

/**
 * The `hash` masking style's key from DBGATE_MASK_KEY (hex or base64, at least 16 bytes); undefined
 * when unset, and the engine then draws a random key per process (hashes join within one run only).
 */
export function maskKeyFromEnv(): Uint8Array | undefined {
  const value = process.env.DBGATE_MASK_KEY
  if (value === undefined || value === '') return undefined
  const key = /^[0-9a-f]+$/i.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64')
  if (key.length < 16)
    throw new UsageError('DBGATE_MASK_KEY must hold at least 16 bytes, written in hex or base64', [
      'generate one with: openssl rand -hex 32',
    ])
  return key
}

/** Starts the guarded listener for a target URL and a policy file (standalone mode). */
export async function startStandaloneProxy(o: StandaloneOptions): Promise<StandaloneProxy> {
  // The MySQL engine and its client library load only for MySQL targets.
  if (isMysqlUrl(o.url)) return startStandalone((await import('./mysql-service.js')).MYSQL_PROXY, o)
  return startStandalone(POSTGRES_PROXY, o)
}

/** Checks the upstream, then starts the Postgres listener (control-plane mode). */
export function startGuardedProxy(o: GuardedProxyOptions): Promise<GuardedProxy> {
  return startGuarded(POSTGRES_PROXY, o)
}

/** The config every engine shares: its policy, guard and context read from the live policy (getters). */
export type EngineBase<T> = Pick<LivePolicy, 'policy' | 'guard' | 'evalContext'> & {
  readonly target: T
  readonly audit: AuditSink
  readonly identity: string
  readonly auditFacts: ReturnType<typeof liveAuditFacts>
  readonly clientVersion: string
  readonly localPassword?: string | undefined
  readonly review?: ReviewHook | undefined
  readonly maskKey: Uint8Array | undefined
}

/** What a guarded proxy's lifecycle needs from one protocol; the rest is the same for all (startGuarded). */
export interface GuardedProtocol<T extends PgTarget | MysqlTarget> {
  readonly protocol: Protocol
  /** Parses --url into the upstream login (a usage error when it is wrong). */
  readonly parseTarget: (url: string) => T
  /** The target as messages and the policy's context name it. */
  readonly describe: (target: T) => string
  /** Logs in once to check the target is reachable and accepts the credentials. */
  readonly check: (target: T) => Promise<void>
  /** The engine, from the shared config with this protocol's own fields added by `config`. */
  readonly engine: (
    o: GuardedProxyOptions<T>,
    config: <E extends object>(own: E) => EngineBase<T> & E,
  ) => Engine
  /** The error a new connection refused by `admit` gets, in the protocol's own format. */
  readonly refusal: (message: string) => Error
}

const POSTGRES_PROXY: GuardedProtocol<PgTarget> = {
  protocol: 'postgres',
  parseTarget,
  describe: describeTarget,
  check: checkTarget,
  engine: (o, config) => new PostgresEngine(config({maxMessageBytes: o.maxMessageBytes})),
  // 08004: the server rejected the connection; psql shows the message as the database's own.
  refusal: (message) => new SessionError('08004', message),
}

/** Starts the guarded listener of `p` for a target URL and a policy file (standalone mode). */
export async function startStandalone<T extends PgTarget | MysqlTarget>(
  p: GuardedProtocol<T>,
  o: StandaloneOptions,
): Promise<GuardedProxy> {
  const target = p.parseTarget(o.url)
  const {policy, version} = readVersionedPolicyFile(o.policyFile)
  const identity = osIdentity()
  const evalContext: EvalContext = {actor: 'human', identity, target: p.describe(target)}
  return startGuarded(p, {...o, target, policy, identity, evalContext, auditFacts: {policyVersion: version}})
}

/** Checks the upstream, then starts the listener of `p`: the one path of standalone and control-plane modes. */
export async function startGuarded<T extends PgTarget | MysqlTarget>(
  p: GuardedProtocol<T>,
  o: GuardedProxyOptions<T>,
): Promise<GuardedProxy> {
  const {target} = o
  await loadParsers()
  await p.check(target)
  const live = livePolicy(o.policy, o.evalContext, p.protocol, o.auditFacts?.policyVersion ?? null)
  const auditFacts = liveAuditFacts(o.auditFacts, live)
  const served = await serveEngine(o, (audit) => {
    const shared = {
      target,
      audit,
      identity: o.identity,
      auditFacts,
      clientVersion: packageVersion(),
      localPassword: o.localPassword,
      review: o.review,
      maskKey: maskKeyFromEnv(),
    }
    const inner = p.engine(o, (own) => withLive(live, {...shared, ...own}))
    return o.admit === undefined ? inner : gatedEngine(inner, o.admit, p.refusal)
  })
  return {
    ...served,
    target,
    protocol: p.protocol,
    get policy() {
      return live.policy
    },
    setPolicy: (next, evalContext, policyVersion) => live.set(next, evalContext, policyVersion ?? null),
  }
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
