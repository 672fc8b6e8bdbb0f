/**
 * What a statement's conditions compute from, for both dialects' walkers (Postgres: conditions.ts,
 * MySQL: MysqlQueryLineage.condition): which rows a statement returns or changes shows the values its
 * conditions compare, so they are reported to the proxy as effects it judges like copies.
 */
import {type Acc, newAcc} from './model.js'
import {CONDITION, type LineageEffect} from './types.js'

/** One statement's conditions: what they compute from, and the columns they compare with each other. */
export interface Decides {
  /** Sources of everything a condition computes other than lookups and comparisons of columns. */
  readonly acc: Acc
  /** Two columns compared by equality (`u.email = v.email`): each one's sources, in either order. */
  readonly compared: [Acc, Acc][]
}

/** A fresh record, one per statement. */
export function newDecides(): Decides {
  return {acc: newAcc(), compared: []}
}

/**
 * Two columns compared whole by equality: a comparison when both come from stored columns, judged as
 * a copy each way (a masked column may be compared with one masked as strictly); otherwise, a value
 * a condition computes.
 */
export function compareColumns(d: Decides, left: Acc, right: Acc): void {
  if (left.opaque || right.opaque || left.sources.size === 0 || right.sources.size === 0) {
    for (const side of [left, right]) {
      for (const s of side.sources) d.acc.sources.add(s)
      if (side.opaque) d.acc.opaque = true
    }
    return
  }
  d.compared.push([left, right])
}

/**
 * The effects of a statement's conditions: one `CONDITION` write with what they compute from, and for
 * each comparison of columns a write of each side's sources into the other's columns (`compared`).
 * They are judged over the catalog as known, DDL before them or not (storedCopy): `afterDdl` is false.
 */
export function conditionEffects(d: Decides): LineageEffect[] {
  const afterDdl = false
  const out: LineageEffect[] = []
  if (d.acc.sources.size > 0 || d.acc.opaque) {
    const reads = [...d.acc.sources].sort()
    out.push({
      kind: 'write',
      table: CONDITION,
      reads,
      unknown: d.acc.opaque,
      columns: null,
      temporary: false,
      afterDdl,
    })
  }
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
