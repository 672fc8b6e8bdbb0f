/**
 * Character helpers shared by the classifiers. Classifiers read a field's bytes as a latin1 string
 * (one char per byte), so offsets are byte offsets, invalid UTF-8 survives untouched, and a
 * multi-byte UTF-8 character (bytes ≥ 0x80) is never a word character of the ASCII formats.
 */

/** True for ASCII 0-9. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

/** True for ASCII A-Z and a-z. */
export function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** True for ASCII letters, digits and `_`. */
export function isWord(c: number): boolean {
  return isDigit(c) || isLetter(c) || c === 95
}

/**
 * True when the character before `i` glues a value to a word (`x4111...`, `id_4111...`). A letter
 * right after a backslash is a JSON escape (`\n4111...`), not part of a word.
 */
export function wordBefore(s: string, i: number): boolean {
  if (i === 0) return false
  const c = s.charCodeAt(i - 1)
  if (isDigit(c) || c === 95) return true
  return isLetter(c) && !(i >= 2 && s.charCodeAt(i - 2) === 92)
}

/** True when the character at `i` (if any) is a word character. */
export function wordAt(s: string, i: number): boolean {
  return i < s.length && isWord(s.charCodeAt(i))
}

/** Regex source of `wordBefore` as a lookbehind, for the pattern-based classifiers. */
export const LB = String.raw`(?<![0-9_]|(?<!\\)[A-Za-z])`

/** Number of bytes of the UTF-8 character whose lead byte is `c` (1 for a stray continuation byte). */
export function utf8Length(c: number): number {
  if (c < 0xc0) return 1
  if (c < 0xe0) return 2
  if (c < 0xf0) return 3
  return 4
}

/** Only the ASCII digits of `s`. */
export function digitsOf(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) if (isDigit(s.charCodeAt(i))) out += s[i]
  return out
}
