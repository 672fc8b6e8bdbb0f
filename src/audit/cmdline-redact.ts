/**
 * What of a process's command line may enter the audit trail: secrets replaced by `[redacted]`, and the
 * whole bounded, since it is copied into every event of a session. Pure: argv in, argv out.
 *
 * Redacted (only the value; the flag, name, user, host and database stay readable):
 * - option values whose flag names a credential (`--password=v`, `--password v`, `-pass v`, `--api-key=v`,
 *   `--db-token v`...), and `-p<v>` after a mysql/mariadb client;
 * - `NAME=value` whose NAME names one (`PGPASSWORD=v`, `AWS_SECRET_ACCESS_KEY=v`, `export TOKEN=v`);
 * - quoted `"name": value` / `'name'=value` pairs (JSON, dicts) whose name names one, objects included;
 * - header-style lines (`Authorization: ...`, `X-Api-Key: ...`) and `Bearer <token>`;
 * - the password of a URL (`scheme://user:PASSWORD@`, the user may be empty);
 * - whatever the masking `secret` classifier finds (known token formats, JWTs, PEM keys, key=value pairs).
 * The word rules also run over the shell words of every argument, so a command (`sh -c "..."`) is read too.
 * A credential name is a word of the name (split at `-_.` and camelCase) such as password, passwd, pwd,
 * pass, passphrase, secret, token, key (api/access/private... key), credential, creds, auth, cookie.
 *
 * Bounded: an argument is at most ARG_CHARS characters (then `...[+N chars]`), a process at most MAX_ARGS
 * arguments (then `[+N args]`), and all command lines of one record share RECORD_CHARS characters, the
 * client's first; argv[0] is always kept. Only the first SCAN_CHARS characters of an argument are looked at.
 */
import {findSpans} from '../masking/index.js'

/** What replaces a secret. */
export const REDACTED_ARG = '[redacted]'
/** The longest argument kept, before its truncation marker. */
export const ARG_CHARS = 200
/** The most arguments kept per process, the marker for the rest included. */
export const MAX_ARGS = 24
/** The characters all command lines of one process record share. */
export const RECORD_CHARS = 4096
/** How much of one argument is read; the rest would be truncated anyway. */
export const SCAN_CHARS = 2048
/** A budget left under this ends the command line rather than keeping a stub of an argument. */
const MIN_PIECE = 16

/** A part of an argument to replace. */
interface Span {
  start: number
  end: number
}

/** One word of a sequence: a whole argument, or a shell word inside one. */
interface Word {
  readonly arg: number
  readonly start: number
  readonly text: string
}

const SECRET_WORD = new RegExp(
  '^(?:pass|[a-z]*pass(?:word|wd|phrase)s?|[a-z]*pwd|[a-z]*secrets?|[a-z]*tokens?|' +
    '(?:[a-z]*(?:api|access|private|secret|signing|master|encryption|license))?keys?|' +
    'credentials?|creds?|auth|authorization|cookies?)$',
)

/** True when a flag, variable or field name names a credential. */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '')
  return words[0] !== 'no' && words.some((w) => SECRET_WORD.test(w))
}

const ASSIGNMENT = /^(-{0,2})([A-Za-z_][\w.-]*)=([^]*)$/
const BARE_FLAG = /^-{1,2}([A-Za-z][\w.-]*)$/
const MYSQL_CLIENT = /^(?:mysql|mariadb)[\w-]*$/
const OPTION = /^-[A-Za-z-]/

/** The spans the word rules find in one sequence of words (argv, or a shell command's words). */
function wordRules(words: readonly Word[], out: Span[][]): void {
  let mysql = false
  let valueNext = false
  let script = false
  for (const w of words) {
    // The word after `-c` is a command (sh, python, psql): read as its own words, not as `NAME=value`.
    const isScript = script
    script = w.text === '-c'
    if (isScript) continue
    const add = (from: number) => {
      if (from < w.text.length) out[w.arg]!.push({start: w.start + from, end: w.start + w.text.length})
    }
    if (valueNext && !OPTION.test(w.text)) add(0)
    valueNext = false
    const base = w.text.replace(/^.*\//, '')
    if (MYSQL_CLIENT.test(base)) mysql = true
    const assign = ASSIGNMENT.exec(w.text)
    if (assign !== null && isSecretName(assign[2]!)) add(w.text.length - assign[3]!.length)
    else if (BARE_FLAG.test(w.text) && isSecretName(BARE_FLAG.exec(w.text)![1]!)) valueNext = true
    else if (mysql && /^-p./.test(w.text)) add(2)
  }
}

/** Shell words: runs of anything but blanks and `;&|()<>`, quotes kept whole (an open one runs to the end). */
const SHELL_WORD = /(?:[^\s;&|()<>'"`]+|'[^']*(?:'|$)|"(?:[^"\\]|\\[^])*(?:"|$))+/g

function shellWords(text: string, arg: number): Word[] {
  return [...text.matchAll(SHELL_WORD)].map((m) => ({arg, start: m.index, text: m[0]}))
}

/** Where the value starting at `i` ends: a quoted string, a bracketed object or list, or a bare word. */
function valueEnd(text: string, i: number): number {
  const open = text[i]
  if (open === '"' || open === "'") {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++
      else if (text[j] === open) return j + 1
    }
    return text.length
  }
  if (open === '{' || open === '[') {
    let depth = 0
    for (let j = i; j < text.length; j++) {
      const c = text[j]
      if (c === '"' || c === "'") j = valueEnd(text, j) - 1
      else if (c === '{' || c === '[') depth++
      else if ((c === '}' || c === ']') && --depth === 0) return j + 1
    }
    return text.length
  }
  const bare = /[\s,;}\]]/.exec(text.slice(i))
  return bare === null ? text.length : i + bare.index
}

const QUOTED_NAME = /(["'])((?:(?!\1)[^\\\r\n]|\\.){1,128})\1\s{0,3}[:=]\s{0,3}/g
const HEADER_LINE = /^[ \t]*([A-Za-z][\w.-]{0,63})[ \t]*:[ \t]*(\S[^\r\n]*)$/gm
const URL_PASSWORD = /[A-Za-z][A-Za-z0-9+.-]{0,30}:\/\/[^\s/?#@:]{0,256}:([^\s/?#@]{1,512})@/g
const BEARER = /\bBearer\s+([A-Za-z0-9._~+/=-]{8,})/gi

/** The span of capture `group`, which ends `tail` characters before the end of the match. */
function groupSpan(m: RegExpExecArray, group: number, tail = 0): Span {
  const end = m.index + m[0].length - tail
  return {start: end - m[group]!.length, end}
}

/** Quoted name/value pairs, header lines and bearer tokens in one argument's text. */
function textRules(text: string, out: Span[]): void {
  for (const m of text.matchAll(QUOTED_NAME)) {
    const start = m.index + m[0].length
    if (start >= text.length || !isSecretName(m[2]!)) continue
    const end = valueEnd(text, start)
    const quoted = text[start] === '"' || text[start] === "'"
    if (quoted && end - start > 2 && text[end - 1] === text[start]) out.push({start: start + 1, end: end - 1})
    else if (!quoted || end - start > 2) out.push({start, end})
  }
  for (const m of text.matchAll(HEADER_LINE)) if (isSecretName(m[1]!)) out.push(groupSpan(m, 2))
  for (const m of text.matchAll(URL_PASSWORD)) out.push(groupSpan(m, 1, 1))
  for (const m of text.matchAll(BEARER)) out.push(groupSpan(m, 1))
  for (const s of findSpans(text, ['secret'])) out.push({start: s.start, end: s.end})
}

/** Replaces `spans` (any order, may overlap) of `text` with the marker. */
function applySpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text
  spans.sort((a, b) => a.start - b.start)
  let out = ''
  let at = 0
  for (const s of spans) {
    // A span overlapping the previous one extends it: one marker per run of secret text.
    if (s.start < at) {
      at = Math.max(at, s.end)
      continue
    }
    out += text.slice(at, s.start) + REDACTED_ARG
    at = s.end
  }
  return out + text.slice(at)
}

/**
 * The argument vector with every secret value replaced by `[redacted]`. Arguments are cut to their first
 * SCAN_CHARS characters first (`cut` says how many each lost). Fails closed: an argument the rules
 * cannot process is redacted whole.
 */
export function redactArgv(argv: readonly string[]): {argv: string[]; cut: number[]} {
  const texts = argv.map((a) => (typeof a === 'string' ? a.slice(0, SCAN_CHARS) : ''))
  const cut = argv.map((a, i) => (typeof a === 'string' ? a.length : 0) - texts[i]!.length)
  const spans: Span[][] = texts.map(() => [])
  const whole = (i: number) => (spans[i] = [{start: 0, end: Math.max(texts[i]!.length, 1)}])
  try {
    wordRules(
      texts.map((text, arg) => ({arg, start: 0, text})),
      spans,
    )
  } catch {
    texts.forEach((_, i) => whole(i))
  }
  texts.forEach((text, i) => {
    try {
      if (typeof argv[i] !== 'string') throw new TypeError('not a string')
      wordRules(shellWords(text, i), spans)
      textRules(text, spans[i]!)
    } catch {
      whole(i)
    }
  })
  return {argv: texts.map((t, i) => applySpans(t, spans[i]!)), cut}
}

/** A budget of characters shared by the command lines of one record. */
interface Budget {
  left: number
}

/** Cuts `text` to `max` characters, saying how many were dropped (`extra` more were dropped before). */
function truncate(text: string, max: number, extra: number): string {
  if (text.length <= max && extra === 0) return text
  // Never keep half of a surrogate pair.
  const keep =
    text.length > max && /[\uD800-\uDBFF]/.test(text[max - 1] ?? '') ? max - 1 : Math.min(max, text.length)
  return `${text.slice(0, keep)}...[+${text.length - keep + extra} chars]`
}

/**
 * Bounds one redacted command line (the first arguments of `total`): argument length, argument count and
 * the record's shared budget.
 */
function boundArgv(argv: readonly string[], cut: readonly number[], total: number, budget: Budget): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const room = i === 0 ? ARG_CHARS : Math.min(ARG_CHARS, budget.left)
    const lastSlot = i === MAX_ARGS - 1 && total - i > 1
    if (lastSlot || (i > 0 && room < MIN_PIECE)) {
      out.push(`[+${total - i} args]`)
      break
    }
    const arg = truncate(argv[i]!, room, cut[i]!)
    budget.left = Math.max(0, budget.left - arg.length)
    out.push(arg)
  }
  return out
}

/**
 * The command lines of one process record (the client's first, then its parents'), each redacted and
 * bounded; together they hold at most about RECORD_CHARS characters, plus each argv[0] and marker.
 */
export function safeCmdlines(cmdlines: readonly (readonly string[])[]): string[][] {
  const budget: Budget = {left: RECORD_CHARS}
  return cmdlines.map((c) => {
    // Arguments past the count bound are never kept, so they are not read either.
    const {argv, cut} = redactArgv(c.slice(0, MAX_ARGS))
    return boundArgv(argv, cut, c.length, budget)
  })
}
