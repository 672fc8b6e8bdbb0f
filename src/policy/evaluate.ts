/**
 * Rule evaluation: each operation gets the action of the first rule whose `when` holds (or
 * `defaults.action`), and the query gets the strictest of them (deny > review > allow).
 */
import {anyMatch, compileFunctionGlob, compileTableGlob, type GlobMatcher} from './glob.js'
import type {
  Action,
  Actor,
  Analysis,
  Condition,
  Decision,
  EvalContext,
  Kind,
  MaskingRule,
  Operation,
  Policy,
} from './types.js'

interface CompiledCondition {
  readonly kinds: ReadonlySet<Kind> | undefined
  readonly tables: readonly GlobMatcher[] | undefined
  readonly functions: readonly GlobMatcher[] | undefined
  readonly whereAbsent: boolean
  readonly targets: ReadonlySet<string> | undefined
  readonly identities: ReadonlySet<string> | undefined
  readonly groups: ReadonlySet<string> | undefined
  readonly actors: ReadonlySet<Actor> | undefined
  /** True when the condition says anything about the operation (not only about who runs it). */
  readonly aboutOperation: boolean
}

interface CompiledPolicy {
  readonly rules: readonly {
    readonly name: string
    readonly action: Action
    readonly message: string | null
    readonly when: CompiledCondition
  }[]
  readonly masking: readonly {readonly rule: MaskingRule; readonly when: CompiledCondition}[]
  /** The schemas the policy's table globs name (without wildcards), lower case. */
  readonly schemas: readonly string[]
}

const STRICTNESS: Readonly<Record<Action, number>> = {allow: 0, review: 1, deny: 2}

const compiledPolicies = new WeakMap<Policy, CompiledPolicy>()

const lowerSet = (xs: readonly string[] | undefined): ReadonlySet<string> | undefined =>
  xs === undefined ? undefined : new Set(xs.map((x) => x.toLowerCase()))

function compileCondition(c: Condition): CompiledCondition {
  return {
    kinds: c.kinds === undefined ? undefined : new Set(c.kinds),
    tables: c.tables?.map(compileTableGlob),
    functions: c.functions?.map(compileFunctionGlob),
    whereAbsent: c.where === 'absent',
    targets: lowerSet(c.targets),
    identities: lowerSet(c.identities),
    groups: lowerSet(c.groups),
    actors: c.actors === undefined ? undefined : new Set(c.actors),
    aboutOperation:
      c.kinds !== undefined || c.tables !== undefined || c.functions !== undefined || c.where !== undefined,
  }
}

/** Compiles a policy's globs once; policies are immutable, so the result is kept per policy object. */
function compile(policy: Policy): CompiledPolicy {
  let compiled = compiledPolicies.get(policy)
  if (compiled === undefined) {
    compiled = {
      rules: policy.rules.map((r) => ({
        name: r.name,
        action: r.action,
        message: r.message ?? null,
        when: compileCondition(r.when),
      })),
      masking: policy.masking.map((m) => ({rule: m, when: compileCondition(m.when ?? {})})),
      schemas: namedSchemas([...policy.rules.map((r) => r.when), ...policy.masking.map((m) => m.when ?? {})]),
    }
    compiledPolicies.set(policy, compiled)
  }
  return compiled
}

/** The schema parts of table globs (`schema.table`) that name one schema. */
function namedSchemas(conditions: readonly Condition[]): string[] {
  const out = new Set<string>()
  for (const c of conditions)
    for (const t of c.tables ?? []) {
      const dot = t.lastIndexOf('.')
      const schema = t.slice(0, Math.max(0, dot)).toLowerCase()
      if (schema !== '' && !/[*?]/.test(schema)) out.add(schema)
    }
  return [...out]
}

/**
 * The readings of an operation to judge: as analysed (unqualified tables in the default schema) and, when
 * it names tables without a schema, once more per schema the policy names with those tables there. The
 * session's search_path (SET, set_config, startup options, role and database settings) decides where such
 * a table lives, and the guard cannot know it: it takes the strictest reading, so a rule on
 * `hr.salaries` catches `salaries` even after an allow rule on `public.*`. In the other schemas' readings
 * only rules count (where no rule holds, the analysed reading's outcome stands): a policy that denies by
 * default still lets `select * from users` through its allow rule on `public.*`.
 */
function readingsOf(op: Operation, schemas: readonly string[]): readonly Operation[] {
  const unqualified = op.unqualified
  if (unqualified === undefined || unqualified.length === 0 || schemas.length === 0) return [op]
  const out: Operation[] = [op]
  for (const schema of schemas) {
    const moved = new Map(
      unqualified.filter(([, , kept]) => !kept).map(([resolved, name]) => [resolved, name]),
    )
    const tables = op.tables.map((t) => {
      const name = moved.get(t)
      return name === undefined ? t : `${schema}.${name}`
    })
    for (const [, name, kept] of unqualified) if (kept) tables.push(`${schema}.${name}`)
    out.push({...op, tables, unqualified: undefined})
  }
  return out
}

const hasLower = (set: ReadonlySet<string>, v: string | undefined): boolean =>
  v !== undefined && set.has(v.toLowerCase())

/** The conditions about who runs the statement, where. */
function contextHolds(c: CompiledCondition, ctx: EvalContext): boolean {
  if (c.actors !== undefined && !c.actors.has(ctx.actor)) return false
  if (c.targets !== undefined && !hasLower(c.targets, ctx.target)) return false
  if (c.identities !== undefined && !hasLower(c.identities, ctx.identity)) return false
  if (c.groups !== undefined) {
    const set = c.groups
    if (!(ctx.groups ?? []).some((g) => hasLower(set, g))) return false
  }
  return true
}

/** The conditions about the operation itself. */
function operationHolds(c: CompiledCondition, op: Operation): boolean {
  if (c.kinds !== undefined && !c.kinds.has(op.kind)) return false
  if (c.whereAbsent && op.where !== 'absent') return false
  if (c.tables !== undefined) {
    const ms = c.tables
    if (!op.tables.some((t) => anyMatch(ms, t))) return false
  }
  if (c.functions !== undefined) {
    const ms = c.functions
    if (!op.functions.some((f) => anyMatch(ms, f))) return false
  }
  return true
}

/**
 * Masking rules that apply: their context conditions hold, and their operation conditions (tables,
 * functions, where) hold for at least one operation. When the statement could not be read, operation
 * conditions count as holding: what cannot be analysed is masked rather than shown.
 */
function selectMasking(
  compiled: CompiledPolicy,
  operations: readonly Operation[],
  ctx: EvalContext,
  unreadable: boolean,
): MaskingRule[] {
  const out: MaskingRule[] = []
  for (const {rule, when} of compiled.masking) {
    if (!contextHolds(when, ctx)) continue
    const holds = (op: Operation): boolean =>
      readingsOf(op, compiled.schemas).some((reading) => operationHolds(when, reading))
    if (when.aboutOperation && !unreadable && !operations.some(holds)) continue
    out.push(rule)
  }
  return out
}

/** Evaluates an analysis against a policy: unparseable statements meet `defaults.unparseable`. */
export function evaluate(policy: Policy, analysis: Analysis, ctx: EvalContext): Decision {
  if (analysis.ok) return evaluateOperations(policy, analysis.operations, ctx)
  return {
    decision: policy.defaults.unparseable,
    rule: null,
    message: `The statement could not be parsed: ${analysis.error}`,
    operations: [],
    unparseable: true,
    masking: selectMasking(compile(policy), [], ctx, true),
  }
}

/** Evaluates operations against a policy; no operations (an empty query) gets `defaults.action`. */
export function evaluateOperations(
  policy: Policy,
  operations: readonly Operation[],
  ctx: EvalContext,
): Decision {
  const compiled = compile(policy)
  // Rules whose context conditions fail cannot match any operation of this query.
  const live = compiled.rules.filter((r) => contextHolds(r.when, ctx))
  let decision: Action = policy.defaults.action
  let rule: string | null = null
  let message: string | null = null
  let decided = false
  for (const op of operations)
    for (const reading of readingsOf(op, compiled.schemas)) {
      const hit = live.find((r) => operationHolds(r.when, reading))
      if (hit === undefined && reading !== op) continue
      const action = hit === undefined ? policy.defaults.action : hit.action
      if (!decided || STRICTNESS[action] > STRICTNESS[decision]) {
        decided = true
        decision = action
        rule = hit === undefined ? null : hit.name
        message = hit === undefined ? null : hit.message
      }
    }
  return {
    decision,
    rule,
    message,
    operations,
    unparseable: false,
    masking: selectMasking(compiled, operations, ctx, false),
  }
}
