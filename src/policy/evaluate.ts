import type {Analysis, Decision, EvalContext, Operation, Policy} from './types.js'

/** Evaluates an analysis against a policy. (Being written: denies everything until then.) */
export function evaluate(policy: Policy, analysis: Analysis, ctx: EvalContext): Decision {
  return evaluateOperations(policy, analysis.ok ? analysis.operations : [], ctx)
}

/** Evaluates operations against a policy. (Being written: denies everything until then.) */
export function evaluateOperations(
  _policy: Policy,
  operations: readonly Operation[],
  _ctx: EvalContext,
): Decision {
  return {
    decision: 'deny',
    rule: null,
    message: 'policy evaluation is not built yet',
    operations,
    unparseable: false,
    masking: [],
  }
}
