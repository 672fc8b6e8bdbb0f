/**
 * Globs of the policy language: `*` matches any run of characters except `.`, `?` matches one character
 * except `.`, everything else matches itself. Matching is case-insensitive: a deny rule written as
 * `Users` still catches `users` (fail closed), at the price that an allow rule is equally broad.
 */

/** A compiled glob. */
export type GlobMatcher = (subject: string) => boolean

const SPECIAL = /[\\^$.|+()[\]{}]/g

/** Compiles a glob to a matcher; patterns without `*` or `?` compare by plain case-insensitive equality. */
export function compileGlob(pattern: string): GlobMatcher {
  return compile(pattern, false)
}

/** A glob that compares case-sensitively (MySQL table names under lower_case_table_names=0). */
export function compileExactGlob(pattern: string): GlobMatcher {
  return compile(pattern, true)
}

function compile(pattern: string, caseSensitive: boolean): GlobMatcher {
  if (!/[*?]/.test(pattern)) {
    if (caseSensitive) return (subject) => subject === pattern
    const lower = pattern.toLowerCase()
    return (subject) => subject.length === lower.length && subject.toLowerCase() === lower
  }
  const body = pattern.replace(SPECIAL, '\\$&').replaceAll('*', '[^.]*').replaceAll('?', '[^.]')
  const re = new RegExp(`^${body}$`, caseSensitive ? 'su' : 'isu')
  return (subject) => re.test(subject)
}

/** Matches a `schema.table` name: a pattern without a dot matches the table name in any schema. */
export function compileTableGlob(pattern: string): GlobMatcher {
  const match = compileGlob(pattern)
  if (pattern.includes('.')) return match
  return (subject) => match(afterDot(subject, subject.indexOf('.')))
}

/**
 * Matches a function name as reported and also its unqualified last part, so `pg_read_file` catches
 * `pg_catalog.pg_read_file`. An unqualified call can resolve to any schema on the search path, so it
 * also matches a qualified pattern by the pattern's last part: `pg_catalog.pg_read_file` catches
 * `pg_read_file`.
 */
export function compileFunctionGlob(pattern: string): GlobMatcher {
  const match = compileGlob(pattern)
  const dot = pattern.lastIndexOf('.')
  const matchName = dot < 0 ? match : compileGlob(pattern.slice(dot + 1))
  return (subject) => {
    if (match(subject)) return true
    const last = subject.lastIndexOf('.')
    return last < 0 ? matchName(subject) : match(subject.slice(last + 1))
  }
}

function afterDot(subject: string, dot: number): string {
  return dot < 0 ? subject : subject.slice(dot + 1)
}

/** True when any of the matchers matches the subject. */
export function anyMatch(matchers: readonly GlobMatcher[], subject: string): boolean {
  for (const m of matchers) if (m(subject)) return true
  return false
}
