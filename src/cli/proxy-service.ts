/**
 * The service behind `dbgate connect` and `dbgate exec` in standalone mode: builds the Postgres
 * engine from a target URL and a policy file, checks the target is reachable, and starts a listener.
 */
import {readFileSync} from 'node:fs'
import {userInfo} from 'node:os'

import {AUDIT_DURABILITIES, type AuditDurability} from '../audit/durable-spool.js'
import {AuditTrail, type TrailUpload} from '../audit/trail.js'
import {teeAuditSink, type AuditSink} from '../audit/types.js'
import {readVersionedPolicyFile} from '../config/policy-file.js'
import {DbgateError, ExitCode, UnreachableError, UsageError} from '../errors.js'
import {Guard, loadParsers, type EvalContext, type Policy} from '../policy/index.js'
import {
  PostgresEngine,
  TargetUrlError,
  UpstreamRejectedError,
  UpstreamUnreachableError,
  connectUpstream,
  describeTarget,
  parsePgUrl,
  startListener,
  type Engine,
  type PgTarget,
  type Protocol,
  type ProxyListener,
} from '../proxy/index.js'
import type {ReviewHook} from '../proxy/index.js'
import {isMysqlUrl, type MysqlTarget} from '../proxy/mysql/target.js'
import {SessionError} from '../proxy/postgres/session.js'
import {startBufferReclaim} from './memory.js'

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

/**
 * When an audit event counts as recorded (DBGATE_AUDIT_DURABILITY): `written` (the default) releases a
 * held result once its event is written to the spool file, `synced` once it is fdatasync'd.
 */
export function auditDurabilityFromEnv(env: NodeJS.ProcessEnv = process.env): AuditDurability {
  const value = env.DBGATE_AUDIT_DURABILITY
  if (value === undefined || value === '') return 'written'
  const mode = AUDIT_DURABILITIES.find((d) => d === value.toLowerCase())
  if (mode === undefined)
    throw new UsageError(`DBGATE_AUDIT_DURABILITY must be written or synced, got "${value}".`, [
      'synced also survives an OS crash or power loss, at the price of one disk sync per statement',
    ])
  return mode
}

/** Starts the guarded listener for a target URL and a policy file (standalone mode). */
export async function startStandaloneProxy(o: StandaloneOptions): Promise<StandaloneProxy> {
  // The MySQL engine and its client library load only for MySQL targets.
  if (isMysqlUrl(o.url)) return (await import('./mysql-service.js')).startMysqlStandalone(o)
  const target = parseTarget(o.url)
  const {policy, version} = readVersionedPolicyFile(o.policyFile)
  const identity = osIdentity()
  const evalContext: EvalContext = {actor: 'human', identity, target: describeTarget(target)}
  return startGuardedProxy({
    ...o,
    target,
    policy,
    identity,
    evalContext,
    auditFacts: {policyVersion: version},
  })
}

/** Checks the upstream, then starts the listener: the one path of standalone and control-plane modes. */
export async function startGuardedProxy(o: GuardedProxyOptions): Promise<GuardedProxy> {
  const {target, policy} = o
  await loadParsers()
  await checkTarget(target)
  const live = livePolicy(policy, o.evalContext, 'postgres', o.auditFacts?.policyVersion ?? null)
  const auditFacts = liveAuditFacts(o.auditFacts, live)
  const served = await serveEngine(o, (audit) => {
    const inner = new PostgresEngine(
      withLive(live, {
        target,
        audit,
        identity: o.identity,
        auditFacts,
        clientVersion: packageVersion(),
        maxMessageBytes: o.maxMessageBytes,
        localPassword: o.localPassword,
        review: o.review,
        maskKey: maskKeyFromEnv(),
      }),
    )
    // 08004: the server rejected the connection; psql shows the message as the database's own.
    return o.admit === undefined
      ? inner
      : gatedEngine(inner, o.admit, (message) => new SessionError('08004', message))
  })
  return {
    ...served,
    target,
    protocol: 'postgres',
    get policy() {
      return live.policy
    },
    setPolicy: (next, evalContext, policyVersion) => live.set(next, evalContext, policyVersion ?? null),
  }
}

/** The policy, guard and context in force, which `set` swaps for every session at once. */
export interface LivePolicy {
  readonly policy: Policy
  readonly guard: Guard
  readonly evalContext: EvalContext
  /** The version audit events record: the bundle's, or the standalone policy file's digest. */
  readonly policyVersion: string | null
  set(policy: Policy, evalContext: EvalContext, policyVersion: string | null): void
}

/** An engine config whose policy, guard and context are read from `live` each time (getters). */
export function withLive<T extends object>(
  live: LivePolicy,
  rest: T,
): T & Pick<LivePolicy, 'policy' | 'guard' | 'evalContext'> {
  return Object.defineProperties(
    {...rest},
    {
      policy: {get: () => live.policy, enumerable: true},
      guard: {get: () => live.guard, enumerable: true},
      evalContext: {get: () => live.evalContext, enumerable: true},
    },
  ) as T & Pick<LivePolicy, 'policy' | 'guard' | 'evalContext'>
}

/**
 * The policy a guarded proxy's sessions read per statement (through getters on their engine config), so
 * that a renewed bundle applies from the next statement of every open session.
 */
export function livePolicy(
  policy: Policy,
  evalContext: EvalContext,
  dialect: Protocol,
  policyVersion: string | null,
): LivePolicy {
  let live = {policy, guard: new Guard(policy, dialect), evalContext, policyVersion}
  return {
    get policy() {
      return live.policy
    },
    get guard() {
      return live.guard
    },
    get evalContext() {
      return live.evalContext
    },
    get policyVersion() {
      return live.policyVersion
    },
    set: (next, context, version) => {
      live = {policy: next, guard: new Guard(next, dialect), evalContext: context, policyVersion: version}
    },
  }
}

/** The audit facts a session records, with the policy version read from `live` at each event. */
export function liveAuditFacts(
  facts: GuardedProxyOptions['auditFacts'],
  live: Pick<LivePolicy, 'policyVersion'>,
): {readonly agent: string | null; readonly policyVersion: string | null} {
  return {
    agent: facts?.agent ?? null,
    get policyVersion() {
      return live.policyVersion
    },
  }
}

/** Where a guarded listener binds, where its audit trail goes, and what else hears its events. */
export interface ServeOptions {
  readonly host: string
  readonly port: number
  readonly stateDir: string
  readonly extraAudit?: AuditSink | undefined
  /** TARGET mode: upload the trail to the control plane. */
  readonly upload?: TrailUpload | undefined
}

/** Opens the audit trail and a listener for the engine built on it; `close` stops both. */
export async function serveEngine(
  o: ServeOptions,
  makeEngine: (audit: AuditSink) => Engine,
): Promise<Pick<StandaloneProxy, 'listener' | 'auditDir' | 'close'>> {
  const trail = await AuditTrail.open({
    stateDir: o.stateDir,
    upload: o.upload,
    retain: true,
    durability: auditDurabilityFromEnv(),
  })
  const audit = o.extraAudit === undefined ? trail : alongside(trail, o.extraAudit)
  let listener: ProxyListener
  try {
    listener = await startListener({engine: makeEngine(audit), host: o.host, port: o.port})
  } catch (err) {
    await audit.close()
    throw err
  }
  const stopReclaim = startBufferReclaim()
  return {
    listener,
    auditDir: trail.spool.dir,
    close: async (reason) => {
      stopReclaim()
      await listener.close(reason)
      await audit.close()
    },
  }
}

/** The trail with another sink beside it (exec's in-memory record): durable and refusing as the trail is. */
export function alongside(trail: AuditTrail, extra: AuditSink): AuditSink {
  const tee = teeAuditSink(extra)
  return {
    write: (event) => {
      void tee.write(event)
      return trail.write(event)
    },
    refusal: () => trail.refusal(),
    close: async () => {
      await Promise.all([trail.close(), extra.close()])
    },
  }
}

/**
 * An engine that refuses new connections while `admit` returns an error; open sessions go on. `refusal`
 * makes the error the engine reports in its protocol's own format.
 */
export function gatedEngine(
  inner: Engine,
  admit: () => Error | undefined,
  refusal: (message: string) => Error,
): Engine {
  return {
    protocol: inner.protocol,
    initializeConnection: (client, session) => {
      const handler = inner.initializeConnection(client, session)
      const refused = admit()
      if (refused === undefined) return handler
      return {
        sendError: (err) => handler.sendError(err),
        handleConnection: () => Promise.reject(refusal(refused.message)),
        close: (reason) => handler.close(reason),
      }
    },
  }
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
