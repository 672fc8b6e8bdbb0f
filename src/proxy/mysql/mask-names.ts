/**
 * MySQL's name rules for masking globs. Column names compare case-insensitively; schema and table
 * names compare by case when the server's lower_case_table_names is 0 (`Users` and `users` are two
 * tables there), and case-insensitively otherwise. Rules the proxy makes itself (tables filled from
 * masked columns) are matched case-insensitively: their names come from the analyzer, lower-cased.
 */
import {compileExactGlob, compileGlob, type ColumnMatch, type GlobMatcher} from '../../policy/index.js'
import type {MaskingRule} from '../../policy/index.js'

/** A `schema.table.column` glob split in its three parts. */
type Parts = readonly [GlobMatcher, GlobMatcher, GlobMatcher]

const compiled = new WeakMap<MaskingRule, readonly (Parts | GlobMatcher)[]>()

function partsOf(rule: MaskingRule): readonly (Parts | GlobMatcher)[] {
  let m = compiled.get(rule)
  if (m === undefined) {
    m = (rule.columns ?? []).map((pattern) => {
      const p = pattern.split('.')
      if (p.length !== 3) return compileGlob(pattern)
      const [schema = '', table = '', column = ''] = p
      return [compileExactGlob(schema), compileExactGlob(table), compileGlob(column)] as const
    })
    compiled.set(rule, m)
  }
  return m
}

/**
 * The column match for a session: case-sensitive schemas and tables when `exactTables`, except for
 * the rules in `folded`. A name of another shape than three dotted parts (a dot inside a quoted
 * name) is compared case-insensitively as a whole: never less than the default.
 */
export function mysqlColumnMatch(exactTables: boolean, folded: ReadonlySet<MaskingRule>): ColumnMatch {
  const loose = new WeakMap<MaskingRule, readonly GlobMatcher[]>()
  const looseOf = (rule: MaskingRule): readonly GlobMatcher[] => {
    let m = loose.get(rule)
    if (m === undefined) {
      m = (rule.columns ?? []).map((p) => compileGlob(p))
      loose.set(rule, m)
    }
    return m
  }
  return (rule, column) => {
    if (!exactTables || folded.has(rule)) return looseOf(rule).some((m) => m(column))
    const c = column.split('.')
    if (c.length !== 3) return looseOf(rule).some((m) => m(column))
    return partsOf(rule).some((m) =>
      typeof m === 'function' ? m(column) : m[0](c[0] ?? '') && m[1](c[1] ?? '') && m[2](c[2] ?? ''),
    )
  }
}
