/** Configuration of the MySQL engine, shared by all its sessions. */
import type {AuditSink} from '../../audit/types.js'
import type {EvalContext, Guard, Policy} from '../../policy/index.js'
import type {ReviewHook} from '../review.js'
import type {MysqlTarget} from './target.js'

/** What every session of a MySQL engine uses. */
export interface MysqlEngineConfig {
  readonly target: MysqlTarget
  /** The policy, guard and context are read per statement: TARGET mode swaps them on renewal. */
  readonly policy: Policy
  /** A guard of dialect 'mysql'. */
  readonly guard: Guard
  readonly evalContext: EvalContext
  readonly audit: AuditSink
  readonly identity: string
  /** TARGET mode: the agent's name and the bundle's policy version, recorded in audit events. */
  readonly auditFacts?:
    | {readonly agent?: string | null | undefined; readonly policyVersion?: string | null | undefined}
    | undefined
  readonly clientVersion: string
  /** Largest logical packet payload accepted from a client. */
  readonly maxPacketBytes: number
  /** Largest logical packet payload accepted from the server (a row can be up to 1 GB). */
  readonly maxServerPacketBytes?: number
  /** When set, clients must prove they know this password (mysql_native_password scramble). */
  readonly localPassword?: string | undefined
  /**
   * Lets `LOAD DATA LOCAL INFILE` read client files (CLIENT_LOCAL_FILES is offered, and the server's
   * file request is relayed for statements an explicit rule allows). Off by default.
   */
  readonly allowLocalInfile?: boolean
  /** The `hash` masking style's key; a random key per process when unset. */
  readonly maskKey?: Uint8Array | undefined
  /** Control-plane mode: what a `review` statement leads to (an approval request, or a grant spent). */
  readonly review?: ReviewHook | undefined
  /**
   * Where the message of a statement held for approval goes (the request and how to approve it): the protocol
   * has no asynchronous notice, so `dbgate connect` prints it on its stderr.
   */
  readonly reviewNotice?: ((message: string, detail?: string) => void) | undefined
  readonly startupTimeoutMs?: number
  readonly upstreamTimeoutMs?: number
}
