/**
 * The step between the guard and the statement when the policy has `tables` conditions: a view reads
 * its tables without the statement naming them (`SELECT * FROM v_sec`, a view over `secrets` a DBA
 * made), so the relations each named view reads, through views of views, are added to the operation
 * before the rules are applied again. Each name is asked once per session (the cache is emptied when the
 * session runs DDL), except a view's: another session may redefine it, so a view is asked again for
 * the next statement that names it. A lookup that fails refuses the statement (fail closed).
 */
import type {Decision, EvalContext, Guard, Operation, Policy} from '../policy/index.js'

/** A relation a statement names: with its schema, or unqualified (any schema on the search path). */
export interface NamedRelation {
  readonly schema: string | null
  readonly name: string
}

/** The relations (`schema.name`) the views of that name read, through views of views; [] for a table. */
export type ViewTablesLookup = (relation: NamedRelation) => Promise<readonly string[]>

/** Kinds after which a name may be a view it was not (or read other tables). */
const CHANGES_CATALOG = new Set(['create', 'alter', 'drop', 'other', 'call', 'do'])

/** One session's answers, and the expansion of decisions with them. */
export class SessionViews {
  private readonly known = new Map<string, readonly string[]>()
  /** Views a decision was expanded with: asked again for the next statement (`known` forgets them). */
  private readonly views = new Set<string>()
  /**
   * Decisions already expanded with what it knows (the guard hands out one object per cached decision);
   * only those that named no view.
   */
  private expanded = new WeakMap<Decision, Decision>()

  constructor(private readonly lookup: ViewTablesLookup) {}

  /**
   * The decision once the tables its views read are judged too: at once when every name is known, a
   * Promise (that never rejects) when the catalog must be asked first.
   */
  expand(policy: Policy, guard: Guard, decision: Decision, ctx: EvalContext): Decision | Promise<Decision> {
    const done = this.expanded.get(decision)
    if (done !== undefined) return done
    if (decision.decision === 'deny' || !hasTableRules(policy)) return decision
    // Views an earlier statement read: another session may have redefined them since.
    for (const key of this.views) this.known.delete(key)
    this.views.clear()
    const named = decision.operations.map(relationsOf)
    const missing = [...new Map(named.flat().map((r) => [keyOf(r), r]))]
      .filter(([key]) => !this.known.has(key))
      .map(([, r]) => r)
    if (missing.length === 0) return this.applied(guard, decision, named, ctx)
    // One at a time, as the catalog connection answers them.
    const asked = missing.reduce(
      (before, r) => before.then(async () => void this.known.set(keyOf(r), await this.lookup(r))),
      Promise.resolve(),
    )
    return asked.then(
      () => this.applied(guard, decision, named, ctx),
      (err: unknown): Decision => ({
        ...decision,
        decision: 'deny',
        rule: null,
        message:
          'dbgate could not see which tables the views this statement names read, so the rules on tables ' +
          `cannot be checked (${err instanceof Error ? err.message : String(err)})`,
      }),
    )
  }

  /** Forgets what it knows once the session ran a statement that may change the catalog. */
  ran(decision: Decision): void {
    if (!decision.operations.some((o) => CHANGES_CATALOG.has(o.kind))) return
    this.known.clear()
    this.expanded = new WeakMap()
  }

  /** The decision with the relations its views read (`named`: each operation's relations), remembered. */
  private applied(
    guard: Guard,
    decision: Decision,
    named: readonly (readonly NamedRelation[])[],
    ctx: EvalContext,
  ): Decision {
    let grew = false
    for (const r of named.flat()) if ((this.known.get(keyOf(r))?.length ?? 0) > 0) this.views.add(keyOf(r))
    const operations = decision.operations.map((op, i): Operation => {
      const read = (named[i] ?? []).flatMap((r) => this.known.get(keyOf(r)) ?? [])
      const added = read.filter((t) => !op.tables.includes(t))
      if (added.length === 0) return op
      grew = true
      return {...op, tables: [...op.tables, ...new Set(added)]}
    })
    const out = grew ? guard.decideOperations(operations, ctx) : decision
    if (this.views.size === 0) this.expanded.set(decision, out)
    return out
  }
}

const tableRules = new WeakMap<Policy, boolean>()

/** Whether any rule of the policy has a `tables` condition (computed once per policy). */
function hasTableRules(policy: Policy): boolean {
  let has = tableRules.get(policy)
  if (has === undefined) {
    has = policy.rules.some((r) => r.when.tables !== undefined)
    tableRules.set(policy, has)
  }
  return has
}

/** The relations an operation names: qualified as written, unqualified ones by name alone. */
function relationsOf(op: Operation): NamedRelation[] {
  const bare = new Set((op.unqualified ?? []).map(([resolved]) => resolved))
  return op.tables.map((t) => {
    const dot = t.indexOf('.')
    const name = dot < 0 ? t : t.slice(dot + 1)
    return bare.has(t) || dot < 0 ? {schema: null, name} : {schema: t.slice(0, dot), name}
  })
}

function keyOf(r: NamedRelation): string {
  return `${r.schema ?? ''}\u0000${r.name}`
}
