/**
 * The service behind `dbgate connect` and `dbgate exec` in standalone mode: builds the Postgres
 * engine from a target URL and a policy file, checks the target is reachable, and starts a listener.
 */
import {readFileSync} from 'node:fs'
import {userInfo} from 'node:os'

import {JsonlSpool} from '../audit/spool.js'
import {teeAuditSink, type AuditSink} from '../audit/types.js'
import {readPolicyFile} from '../config/policy-file.js'
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
  type ProxyListener,
} from '../proxy/index.js'
import {SessionError} from '../proxy/postgres/session.js'

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
  readonly target: PgTarget
  readonly policy: Policy
  /** The audit spool file. */
  readonly auditFile: string
  close(reason?: string): Promise<void>
}

function packageVersion(): string {
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

/** Parses the target URL into a usage error when it is wrong (the password is never echoed). */
export function parseTarget(url: string): PgTarget {
  try {
    return parsePgUrl(url)
  } catch (err) {
    if (err instanceof TargetUrlError) throw new UsageError(`Bad --url: ${err.message}.`)
    throw err
  }
}

/** Connects once to check the target is reachable and accepts the credentials. */
export async function checkTarget(target: PgTarget): Promise<void> {
  try {
    const up = await connectUpstream(target, {timeoutMs: 10_000})
    up.socket.end(Buffer.from([0x58, 0, 0, 0, 4]))
  } catch (err) {
    if (err instanceof UpstreamUnreachableError)
      throw new UnreachableError(describeTarget(target), err.message, err)
    if (err instanceof UpstreamRejectedError)
      throw new DbgateError('E_UPSTREAM_REJECTED', `The database refused the connection: ${err.message}`, {
        exitCode: ExitCode.error,
        suggestions: [
          'Standalone mode: check the user, password and database in --url.',
          'TARGET mode: the minted login was refused; ask an admin to check the target on the control plane.',
        ],
      })
    throw err
  }
}

/** Inputs of a guarded proxy, whatever supplied the upstream login and the policy. */
export interface GuardedProxyOptions {
  /** The upstream login, built in memory (never from a string that could be logged). */
  readonly target: PgTarget
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
  /** Asked before each new client connection; an error refuses it (in the protocol's own format). */
  readonly admit?: (() => Error | undefined) | undefined
}

/**
 * The `hash` masking style's key from DBGATE_MASK_KEY (hex or base64, at least 16 bytes); undefined
 * when unset, and the engine then draws a random key per process (hashes join within one run only).
 */
function maskKeyFromEnv(): Uint8Array | undefined {
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
  const target = parseTarget(o.url)
  const policy = readPolicyFile(o.policyFile)
  const identity = osIdentity()
  const evalContext: EvalContext = {actor: 'human', identity, target: describeTarget(target)}
  return startGuardedProxy({...o, target, policy, identity, evalContext})
}

/** Checks the upstream, then starts the listener: the one path of standalone and control-plane modes. */
export async function startGuardedProxy(o: GuardedProxyOptions): Promise<StandaloneProxy> {
  const {target, policy} = o
  await loadParsers()
  await checkTarget(target)
  const spool = new JsonlSpool(o.stateDir)
  const audit = o.extraAudit === undefined ? spool : teeAuditSink(spool, o.extraAudit)
  const inner = new PostgresEngine({
    target,
    policy,
    guard: new Guard(policy, 'postgres'),
    evalContext: o.evalContext,
    audit,
    identity: o.identity,
    clientVersion: packageVersion(),
    maxMessageBytes: o.maxMessageBytes,
    localPassword: o.localPassword,
    maskKey: maskKeyFromEnv(),
  })
  const engine = o.admit === undefined ? inner : gatedEngine(inner, o.admit)
  let listener: ProxyListener
  try {
    listener = await startListener({engine, host: o.host, port: o.port})
  } catch (err) {
    await audit.close()
    throw err
  }
  return {
    listener,
    target,
    policy,
    auditFile: spool.file,
    close: async (reason) => {
      await listener.close(reason)
      await audit.close()
    },
  }
}

/** An engine that refuses new connections while `admit` returns an error; open sessions go on. */
function gatedEngine(inner: Engine, admit: () => Error | undefined): Engine {
  return {
    protocol: inner.protocol,
    initializeConnection: (client, session) => {
      const handler = inner.initializeConnection(client, session)
      const refusal = admit()
      if (refusal === undefined) return handler
      return {
        sendError: (err) => handler.sendError(err),
        // 08004: the server rejected the connection; psql shows the message as the database's own.
        handleConnection: () => Promise.reject(new SessionError('08004', refusal.message)),
        close: (reason) => handler.close(reason),
      }
    },
  }
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
