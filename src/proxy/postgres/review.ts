/**
 * What the proxy does with a statement the policy sends to `review`, when the session has a review hook
 * (control-plane mode; the CLI supplies it and talks to the control plane). The hook answers `run` (a grant
 * was spent for this exact statement) or `refuse` (with the request to approve, or why a grant did not
 * apply). While it waits (hold mode) the client's reads are paused for this session only, and NOTICEs tell
 * the client which request to approve and where.
 */
import {describeProcess} from '../../audit/process-info.js'
import type {AuditProcess} from '../../audit/types.js'
import type {Decision} from '../../policy/index.js'
import {REVIEW_ROUTINE} from './decide.js'
import {Backend, ErrorField, SqlState} from './messages.js'
import {errorResponse, typed} from './wire.js'

/** A statement that got `review`. */
export interface ReviewRequest {
  readonly sql: string
  readonly decision: Decision
  /** False once the client's session ended: a hold stops waiting and must not spend a grant. */
  readonly active: () => boolean
  /** The local process behind the connection, one line, when it could be found (shown to approvers). */
  readonly process?: string | undefined
}

/** What happens to it. */
export type ReviewOutcome =
  | {readonly kind: 'run'; readonly approvalId: string}
  | {
      readonly kind: 'refuse'
      readonly message: string
      readonly hint?: string | undefined
      readonly approvalId: string | null
    }

/** The callback the engine config carries: decides a review statement, possibly after a long wait. */
export interface ReviewHook {
  /** Resolves what to do; `notice` sends a NoticeResponse to the waiting client at once. */
  review(request: ReviewRequest, notice: (message: string, detail?: string) => void): Promise<ReviewOutcome>
}

/** NoticeResponse ('N') with severity NOTICE. */
export function noticeResponse(message: string, detail?: string): Buffer {
  const parts: Buffer[] = []
  const add = (code: number, value: string | undefined): void => {
    if (value !== undefined) parts.push(Buffer.from([code]), Buffer.from(`${value}\0`, 'utf8'))
  }
  add(ErrorField.Severity, 'NOTICE')
  add(ErrorField.SeverityNonLocalized, 'NOTICE')
  add(ErrorField.Code, '00000')
  add(ErrorField.Message, message)
  add(ErrorField.Detail, detail)
  parts.push(Buffer.from([0]))
  return typed(Backend.NoticeResponse, Buffer.concat(parts))
}

/** The ErrorResponse of a refused review (SQLSTATE 42501, routine dbgate_policy_review). */
export function reviewRefusal(outcome: Extract<ReviewOutcome, {kind: 'refuse'}>): Buffer {
  return errorResponse({
    severity: 'ERROR',
    code: SqlState.insufficientPrivilege,
    message: outcome.message,
    hint: outcome.hint,
    routine: REVIEW_ROUTINE,
  })
}

/** Runs the hook; a hook that fails is a refusal (fail closed), never a run. */
export async function runReview(
  hook: ReviewHook,
  request: ReviewRequest,
  notice: (message: string, detail?: string) => void,
): Promise<ReviewOutcome> {
  try {
    return await hook.review(request, notice)
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    return {
      kind: 'refuse',
      message: `dbgate: approval required, and the approval service failed: ${why}`,
      approvalId: null,
    }
  }
}

/** The hook of one client connection: requests name the process on the other end, found at accept. */
export function reviewWithPeer(hook: ReviewHook, peer: AuditProcess): ReviewHook {
  const process = peer.found ? describeProcess(peer) : undefined
  return {review: (request, notice) => hook.review({...request, process}, notice)}
}
