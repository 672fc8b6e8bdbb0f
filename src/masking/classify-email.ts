/**
 * `email`: local@domain.tld where the local part uses the characters addresses use in practice
 * (letters, digits, `. _ % + -`, and non-ASCII), and the domain has at least two labels ending in
 * a letter TLD (or punycode / non-ASCII). Not an email: `logo@2x.png` (file extensions are not TLDs),
 * `git@github.com:org/repo` and `user@host.com:5432` (an SSH or host:port reference), `a@localhost`,
 * and addresses written with `%40` or `\u0040` instead of `@`.
 */
import {BIT, type RawSpan} from './spans.js'
import {isDigit, isLetter} from './text.js'

const DOMAIN =
  /(?:[A-Za-z0-9\x80-\xff](?:[A-Za-z0-9\x80-\xff-]{0,61}[A-Za-z0-9\x80-\xff])?\.){1,8}(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}|[\x80-\xff]{2,63})(?![A-Za-z0-9_\x80-\xff-])/y

/** Image, code and document extensions that are not top-level domains (`icon@2x.png`). */
const NOT_TLDS = new Set([
  'png',
  'jpg',
  'jpeg',
  'gif',
  'svg',
  'webp',
  'ico',
  'bmp',
  'tif',
  'tiff',
  'css',
  'js',
])
for (const x of [
  'mjs',
  'cjs',
  'ts',
  'tsx',
  'jsx',
  'json',
  'html',
  'htm',
  'txt',
  'map',
  'woff',
  'woff2',
  'ttf',
]) {
  NOT_TLDS.add(x)
}

const MAX_LOCAL = 64

function isLocalChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45 || c >= 0x80
}

/** Appends the email addresses of `s` to `out`. */
export function findEmails(s: string, out: RawSpan[]): void {
  for (let at = s.indexOf('@'); at !== -1; at = s.indexOf('@', at + 1)) {
    let start = at
    while (start > 0 && isLocalChar(s.charCodeAt(start - 1))) start--
    if (at - start > MAX_LOCAL) start = at - MAX_LOCAL
    while (start < at && s.charCodeAt(start) === 46) start++
    if (start === at || s.charCodeAt(at - 1) === 46) continue
    DOMAIN.lastIndex = at + 1
    const m = DOMAIN.exec(s)
    if (m === null) continue
    const end = at + 1 + m[0].length
    const tld = m[0].slice(m[0].lastIndexOf('.') + 1).toLowerCase()
    if (NOT_TLDS.has(tld)) continue
    if (s.charCodeAt(end) === 58 && /[A-Za-z0-9/~]/.test(s.charAt(end + 1))) continue
    out.push({start, end, bits: BIT.email})
    at = end - 1
  }
}
