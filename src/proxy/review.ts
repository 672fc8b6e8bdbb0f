/**
 * The protocol-free half of approvals in the proxy: what a session asks the review hook (control-plane mode;
 * the CLI supplies it and talks to the control plane), what the hook answers, and the hold of one statement
 * while the hook decides. Each engine wraps the hold in its protocol (postgres/review.ts, mysql/review.ts):
 * how the client's reads pause, how a notice or a refusal reaches the client, how the statement is sent once
 * approved.
 */
import {describeProcess} from '../audit/process-info.js'
import type {AuditProcess} from '../audit/types.js'
import type {Decision} from '../policy/index.js'

/** A statement that got `review`. */
export interface ReviewRequest {
  readonly sql: string
  readonly decision: Decision
  /** False once the client's session ended: a hold stops waiting and must not spend a grant. */
  readonly active: () => boolean
  /** The local process behind the connection, one line, when it could be found (shown to approvers). */
  readonly process?: string | undefined
  /** A prepared statement (Parse, COM_STMT_PREPARE: values bound later), not a simple query. */
  readonly extended?: boolean | undefined
  /** A prepared statement approved once and executed again: spend one more use of this approval, or refuse. */
  readonly again?: string | undefined
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

/** A refusal. */
export type ReviewRefusal = Extract<ReviewOutcome, {kind: 'refuse'}>

/** The callback the engine config carries: decides a review statement, possibly after a long wait. */
export interface ReviewHook {
  /** The dbgate target the session is for, named in hints (`dbgate exec TARGET …`). */
  readonly target?: string | undefined
  /** Resolves what to do; `notice` tells the waiting client at once (which request, where to approve it). */
  review(request: ReviewRequest, notice: (message: string, detail?: string) => void): Promise<ReviewOutcome>
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
  return {target: hook.target, review: (request, notice) => hook.review({...request, process}, notice)}
}

/** What the engine does at each step of a hold; its reads from the client are paused before it starts. */
export interface HoldSteps {
  /** True once the session is ending. */
  readonly closed: () => boolean
  /** Tells the waiting client (only while it still waits). */
  readonly notice: (message: string, detail?: string) => void
  /** Approved: sends the statement. */
  readonly run: (approvalId: string) => void
  /** Refused (or the hook failed): answers with the engine's error. */
  readonly refuse: (outcome: ReviewRefusal) => void
  /** Called once when the hold ends, decided or cancelled: the engine reads from the client again. */
  readonly settle: () => void
}

/** A running hold. */
export interface Hold {
  /** Ends the wait now (the client cancelled): `answer` replies first; false when the hold already ended. */
  cancel(answer: () => void): boolean
}

/**
 * Holds a `review` statement while the hook decides; other sessions go on. A hold that was cancelled or whose
 * session ended sees `active() === false`, so the request stays pending and no grant is spent for a statement
 * nobody waits for.
 */
export function holdStatement(
  hook: ReviewHook,
  request: Omit<ReviewRequest, 'active'>,
  steps: HoldSteps,
): Hold {
  let cancelled = false
  let settled = false
  const waiting = (): boolean => !steps.closed() && !cancelled
  const finish = (): void => {
    if (settled) return
    settled = true
    steps.settle()
  }
  const notice = (message: string, detail?: string): void => {
    if (waiting()) steps.notice(message, detail)
  }
  void runReview(hook, {...request, active: waiting}, notice)
    .then((outcome) => {
      if (!waiting()) return
      if (outcome.kind === 'run') steps.run(outcome.approvalId)
      else steps.refuse(outcome)
    })
    .finally(finish)
  return {
    cancel: (answer) => {
      if (settled || steps.closed()) return false
      cancelled = true
      answer()
      finish()
      return true
    },
  }
}

/** How a protocol names its placeholders and a client that sends values inside the SQL text. */
export interface PlaceholderStyle {
  /** e.g. `$1, …` or `?` */
  readonly placeholders: string
  /** e.g. `psql` or `the mysql client` */
  readonly textClient: string
}

/**
 * The refusal of a `review` prepared statement that takes values (bound only after it is prepared) under a rule
 * whose grant binds to the exact text: nobody could approve its values, so no request is created.
 */
export function needsValuesRefusal(
  decision: Decision,
  target: string | undefined,
  style: PlaceholderStyle,
): ReviewRefusal {
  const by = decision.rule === null ? 'the default action' : `rule "${decision.rule}"`
  const t = target ?? 'TARGET'
  return {
    kind: 'refuse',
    message: `dbgate: approval required by ${by}, and this statement needs approval with its values: its parameters (${style.placeholders}) are sent only after it is prepared`,
    hint: `Send it with the values written in the SQL as a simple query (e.g. ${style.textClient}), or run: dbgate request-approval ${t} --sql '…' --reason '…', then once approved: dbgate exec ${t} --approval ID --sql '…'.`,
    approvalId: null,
  }
}
