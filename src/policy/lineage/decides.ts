/**
 * What a statement's conditions compute from, for both dialects' walkers (Postgres: conditions.ts,
 * MySQL: MysqlQueryLineage.condition): which rows a statement returns or changes shows the values its
 * conditions compare, so they are reported to the proxy as effects it judges like copies.
 */
import {type Acc, newAcc, type State, wholeAcc} from './model.js'
import {CHECKED, CONDITION, FAILS, type LineageEffect, ORDER} from './types.js'

/** One statement's conditions: what they compute from, and the columns they compare with each other. */
export interface Decides {
  /** Sources of everything a condition computes other than lookups and comparisons of columns. */
  readonly acc: Acc
  /** Two columns compared by equality (`u.email = v.email`): each one's sources, in either order. */
  readonly compared: [Acc, Acc][]
  /** Sources of the keys rows are sorted by (ORDER BY, GROUP BY, DISTINCT, UNION, windows): see `ORDER`. */
  readonly order: Acc
  /** Sources of what computations that can fail for some inputs compute from (fallible.ts): see `FAILS`. */
  readonly fails: Acc
  /** Sources of values a write stores where the target's types and constraints check them: see `CHECKED`. */
  readonly checked: Acc
}

/**
 * The statement's record of what its conditions compute from, while they are judged: not for a
 * statement nobody judges, nor inside a view, whose own conditions are its definer's, the same for
 * every reader (they choose nothing).
 */
export function judged(state: State): Decides | undefined {
  return state.viewDepth > 0 ? undefined : state.decides
}

/** A fresh record, one per statement. */
export function newDecides(): Decides {
  return {acc: newAcc(), compared: [], order: newAcc(), fails: newAcc(), checked: newAcc()}
}

/**
 * Two columns compared whole by equality: a comparison when both are stored columns passed on whole
 * (model.ts, Col.whole), judged as a copy each way (a masked column may be compared with one masked as
 * strictly); otherwise, a value a condition computes.
 */
export function compareColumns(d: Decides, left: Acc, right: Acc): void {
  const whole = (a: Acc): boolean => wholeAcc(a) && a.sources.size > 0
  if (!whole(left) || !whole(right)) {
    for (const side of [left, right]) {
      for (const s of side.sources) d.acc.sources.add(s)
      if (side.opaque) d.acc.opaque = true
    }
    return
  }
  d.compared.push([left, right])
}

/**
 * The effects of a statement's conditions: one `CONDITION` write with what they compute from, one
 * `ORDER` write with what its rows are sorted by, one `FAILS` write with what its fallible computations
 * read, one `CHECKED` write with what its writes store where constraints check it, and for each
 * comparison of columns a write of each side's sources into the other's columns (`compared`).
 * They are judged over the catalog as known, DDL before them or not (storedCopy): `afterDdl` is false.
 */
export function conditionEffects(d: Decides): LineageEffect[] {
  const afterDdl = false
  const out: LineageEffect[] = []
  for (const [table, acc] of [
    [CONDITION, d.acc],
    [ORDER, d.order],
    [FAILS, d.fails],
    [CHECKED, d.checked],
  ] as const)
    if (acc.sources.size > 0 || acc.opaque) out.push(decidedBy(table, acc))
  // A walker may read the same clause twice (a write's rows, then its conditions): each pair once.
  const seen = new Set<string>()
  for (const [a, b] of d.compared)
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const)
      for (const target of to.sources) {
        const key = `${target}\u0000${[...from.sources].sort().join(' ')}`
        if (seen.has(key)) continue
        seen.add(key)
        const dot = target.lastIndexOf('.')
        out.push({
          kind: 'write',
          table: target.slice(0, dot),
          reads: [...from.sources].sort(),
          unknown: false,
          columns: [{name: target.slice(dot + 1), sources: [...from.sources].sort(), opaque: false}],
          temporary: false,
          afterDdl,
          compared: true,
        })
      }
  return out
}

/**
 * The write that reports what decides rows, their order or a failure (`CONDITION`, `ORDER`, `FAILS`,
 * `CHECKED`): `acc`'s sources.
 */
export function decidedBy(
  table: typeof CONDITION | typeof ORDER | typeof FAILS | typeof CHECKED,
  acc: Acc,
): LineageEffect {
  const reads = [...acc.sources].sort()
  return {kind: 'write', table, reads, unknown: acc.opaque, columns: null, temporary: false, afterDdl: false}
}
