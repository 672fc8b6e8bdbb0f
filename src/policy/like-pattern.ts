/**
 * SQL LIKE patterns as regular expressions, for the WHERE evaluators of both dialects: `%` matches any run
 * of characters, `_` one character, and a backslash (the default escape of both) the next one literally.
 * Case-insensitive matching is offered for printable ASCII only, where case folding is unambiguous.
 */

/** True for printable ASCII only: where case-insensitive matching is modelled. */
export function printableAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s)
}

/** A LIKE pattern (`%` any run, `_` one character, `\\` escapes) as an anchored regular expression. */
export function likePattern(p: string, insensitive: boolean): RegExp | undefined {
  if (insensitive && !printableAscii(p)) return undefined
  let out = ''
  const chars = [...p]
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string
    if (c === '\\') {
      const next = chars[++i]
      // A pattern ending in the escape character is an error in PostgreSQL.
      if (next === undefined) return undefined
      out += escapeRegExp(next)
    } else out += c === '%' ? '.*' : c === '_' ? '.' : escapeRegExp(c)
  }
  return new RegExp(`^${out}$`, insensitive ? 'isu' : 'su')
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c
}
