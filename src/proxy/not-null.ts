/**
 * Both engines' step between the guard and the statement when a WHERE only drops NULLs (`DELETE FROM t
 * WHERE id IS NOT NULL`): whether its columns are NOT NULL decides whether it bounds the write at all
 * (src/policy/not-null.ts). The catalog is asked only when the answer could change the decision; a
 * question it cannot answer counts as NOT NULL, the stricter reading (fail closed).
 */
import {
  applyNotNull,
  hasNotNullChecks,
  type Decision,
  type EvalContext,
  type Guard,
  type NotNullCheck,
} from '../policy/index.js'

/** Whether every column of a check is NOT NULL in the engine's catalog. */
export type NotNullLookup = (check: NotNullCheck) => Promise<boolean>

/** True when the decision may change once NOT NULL facts are known (the engine must ask before it runs). */
export function needsNotNull(guard: Guard, decision: Decision, ctx: EvalContext): boolean {
  if (decision.decision === 'deny' || !hasNotNullChecks(decision.operations)) return false
  const strictest = guard.decideOperations(
    applyNotNull(decision.operations, () => true),
    ctx,
  )
  return strictest.decision !== decision.decision || strictest.rule !== decision.rule
}

/** The decision with the catalog's NOT NULL facts applied; a failed lookup counts as NOT NULL. */
export async function decideNotNull(
  guard: Guard,
  decision: Decision,
  ctx: EvalContext,
  lookup: NotNullLookup,
): Promise<Decision> {
  const facts = new Map<NotNullCheck, boolean>()
  for (const op of decision.operations) {
    const check = op.notNull
    if (check === undefined || facts.has(check)) continue
    facts.set(check, await lookup(check).catch(() => true))
  }
  return guard.decideOperations(
    applyNotNull(decision.operations, (check) => facts.get(check) ?? true),
    ctx,
  )
}
