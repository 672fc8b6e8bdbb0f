/** Configuration of the Postgres engine, shared by all its sessions. */
import type {AuditSink} from '../../audit/types.js'
import type {EvalContext, Guard, Policy} from '../../policy/index.js'
import type {ReviewHook} from '../review.js'
import type {PgTarget} from './target.js'

/** What every session of a Postgres engine uses. */
export interface PgEngineConfig {
  readonly target: PgTarget
  readonly policy: Policy
  readonly guard: Guard
  /** Who the sessions act as, for rules that match identities, groups, actors and targets. */
  readonly evalContext: EvalContext
  readonly audit: AuditSink
  /** Facts of the signed trail that the engine cannot know (the agent's name, the policy bundle's version). */
  readonly auditFacts?: {readonly agent?: string | null; readonly policyVersion?: string | null} | undefined
  /** The identity recorded in audit events (the OS user in standalone mode). */
  readonly identity: string
  /** dbgate's version, recorded in audit events. */
  readonly clientVersion: string
  /** Largest client message accepted, header included. */
  readonly maxMessageBytes: number
  /** Largest server message accepted (a DataRow can be up to 1 GB). */
  readonly maxServerMessageBytes?: number
  /** When set, clients must prove they know this password. */
  readonly localPassword?: string | undefined
  /** How: SCRAM-SHA-256 (the default; the password never crosses the socket) or cleartext `password`. */
  readonly localPasswordMethod?: 'scram-sha-256' | 'password' | undefined
  /** Control-plane mode: what a `review` statement leads to (an approval request, or a grant spent). */
  readonly review?: ReviewHook | undefined
  /** Key of the `hash` masking style (HMAC-SHA256); random per process when unset. */
  readonly maskKey?: Uint8Array | undefined
  readonly startupTimeoutMs?: number
  readonly upstreamTimeoutMs?: number
}
