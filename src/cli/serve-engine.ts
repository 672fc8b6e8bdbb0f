/**
 * What every guarded proxy runs on, whatever its protocol: the live policy its sessions read per statement, the
 * audit trail and the listener (serveEngine), and the gate that refuses new connections (gatedEngine).
 */
import {AUDIT_DURABILITIES, DEFAULT_SYNC_INTERVAL_MS, type AuditDurability} from '../audit/durable-spool.js'
import {AuditTrail, type TrailUpload} from '../audit/trail.js'
import {teeAuditSink, type AuditSink} from '../audit/types.js'
import {UsageError} from '../errors.js'
import {Guard, type EvalContext, type Policy} from '../policy/index.js'
import {startListener, type Engine, type Protocol, type ProxyListener} from '../proxy/index.js'
import {startBufferReclaim} from './memory.js'
import type {GuardedProxyOptions, StandaloneProxy} from './proxy-service.js'

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

/** The longest DBGATE_AUDIT_SYNC_MS accepted: a minute of events an OS crash could lose is already a lot. */
const MAX_SYNC_INTERVAL_MS = 60_000

/**
 * `written` durability: the least time between two background syncs of the spool (DBGATE_AUDIT_SYNC_MS, in
 * ms, 0 to 60000; the spool's default when unset). An OS crash can lose the events of about one interval.
 */
export function auditSyncIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env.DBGATE_AUDIT_SYNC_MS
  if (value === undefined || value.trim() === '') return undefined
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN
  if (!Number.isSafeInteger(ms) || ms > MAX_SYNC_INTERVAL_MS)
    throw new UsageError(
      `DBGATE_AUDIT_SYNC_MS must be a whole number of milliseconds from 0 to ${MAX_SYNC_INTERVAL_MS}, got "${value}".`,
      [
        `the default is ${DEFAULT_SYNC_INTERVAL_MS}: an OS crash can lose the audit events of about that long`,
        'a result is never released before its event is written; the interval only paces the disk syncs',
      ],
    )
  return ms
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
    syncIntervalMs: auditSyncIntervalFromEnv(),
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
