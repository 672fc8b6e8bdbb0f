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
  type PgTarget,
  type ProxyListener,
} from '../proxy/index.js'

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
        suggestions: ['Check the user, password and database in --url.'],
      })
    throw err
  }
}

/** Starts the guarded listener for a target. */
export async function startStandaloneProxy(o: StandaloneOptions): Promise<StandaloneProxy> {
  const target = parseTarget(o.url)
  const policy = readPolicyFile(o.policyFile)
  await loadParsers()
  await checkTarget(target)
  const identity = osIdentity()
  const spool = new JsonlSpool(o.stateDir)
  const audit = o.extraAudit === undefined ? spool : teeAuditSink(spool, o.extraAudit)
  const evalContext: EvalContext = {actor: 'human', identity, target: describeTarget(target)}
  const engine = new PostgresEngine({
    target,
    policy,
    guard: new Guard(policy, 'postgres'),
    evalContext,
    audit,
    identity,
    clientVersion: packageVersion(),
    maxMessageBytes: o.maxMessageBytes,
    localPassword: o.localPassword,
  })
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

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
