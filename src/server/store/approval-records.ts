import type {ApprovalEventType, ApprovalStatus, SessionActor} from '../../control/api-types.js'
import type {ApprovalSettings} from '../../policy/index.js'

/**
 * The stored forms of approval requests (src/server/approvals): the request with its grant, each approver's
 * vote, and the transitions recorded as audit events. Times are epoch milliseconds.
 */

/** One approval request and, once approved, its grant (uses left, until when). */
export interface ApprovalRecord {
  id: string
  status: ApprovalStatus
  requesterSub: string
  requesterName: string
  actor: SessionActor
  agent: string | null
  target: string
  statement: string
  fingerprint: string
  rule: string | null
  policyName: string
  reason: string
  process: string | null
  source: 'cli' | 'proxy'
  settings: ApprovalSettings
  createdAt: number
  expiresAt: number
  decidedAt: number | null
  usesLeft: number
  grantExpiresAt: number | null
  votes: ApprovalVoteRecord[]
}

/** One approver's decision on a request. */
export interface ApprovalVoteRecord {
  approverSub: string
  approverName: string
  decision: 'approve' | 'deny'
  comment: string | null
  at: number
}

/** One transition of a request, kept in order (the request's audit trail). */
export interface ApprovalEventRecord {
  approvalId: string
  n: number
  type: ApprovalEventType
  actorSub: string | null
  detail: string | null
  at: number
  /** The hash of the event before it (approvalEventHash), so an edited or deleted event shows. */
  prevHash: string
  hash: string
}

/** One request's transitions as `audit verify` reads them: how many it recorded, and those stored. */
export interface ApprovalChainRecord {
  id: string
  /** Bumped with every transition, so one cut from the end of the chain shows as missing. */
  eventCount: number
  events: ApprovalEventRecord[]
}

/** What a vote did. */
export type VoteOutcome =
  | {kind: 'recorded'; record: ApprovalRecord}
  | {kind: 'not_pending'; record: ApprovalRecord}
  | {kind: 'already_voted'; record: ApprovalRecord}
  | {kind: 'not_found'}

/** Which grant a statement may use: a given request, or any of the requester's for this statement. */
export interface GrantQuery {
  id: string | undefined
  requesterSub: string
  target: string
  fingerprint: string
  statement: string
}
