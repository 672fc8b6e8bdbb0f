/** What both engines say about a decision, whatever their protocol's error format. */
import type {Decision, Policy} from '../policy/index.js'

/** The decision for text the engine refused to parse: `defaults.unparseable` decides. */
export function unparseableDecision(policy: Policy, reason: string): Decision {
  return {
    decision: policy.defaults.unparseable,
    rule: null,
    message: `the statement could not be analyzed: ${reason}`,
    operations: [],
    unparseable: true,
    masking: [],
  }
}

/** The user-facing message of a deny or review decision. */
export function decisionMessage(d: Decision): string {
  const by =
    d.rule === null ? (d.unparseable ? 'defaults.unparseable' : 'the default action') : `rule "${d.rule}"`
  const what = d.decision === 'review' ? 'approval required' : 'denied'
  return `dbgate: ${what} by ${by}${d.message === null ? '' : `: ${d.message}`}`
}
