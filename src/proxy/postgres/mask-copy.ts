/**
 * COPY ... TO STDOUT under masking: the CopyOutResponse says how many columns and whether the data
 * is binary; the statement's own options say text or CSV, and the delimiter, quote, escape and null
 * string. Textual COPY is masked per column, one row per CopyData (as the server sends it): a field is
 * unescaped, masked and written back escaped for the same options. Binary COPY, or a COPY whose
 * options the masker cannot read (another ENCODING, options it does not know), is refused when a column
 * would need masking: fail closed.
 */
import {maskField, maskNull, type FieldMask, type MaskKey} from '../../masking/index.js'
import {parse} from '../../policy/postgres/parser.js'
import {planMasking, type PlanField} from '../../policy/index.js'
import {fieldMasks} from './mask-rows.js'
import type {MaskSession, MaskStatement} from './mask-session.js'
import {Backend} from './messages.js'
import {bodyOf, errorResponse, typed} from './wire.js'

/** The textual format of a COPY's rows, as its options set it. */
export interface CopyFormat {
  readonly csv: boolean
  readonly delimiter: string
  readonly nullString: string
  /** CSV only. */
  readonly quote: string
  readonly escape: string
  /** The first row is the column names. */
  readonly header: boolean
}

/** How a masked COPY's rows are rewritten. */
export interface CopyMasker {
  readonly format: CopyFormat
  readonly masks: readonly (FieldMask | null)[]
  readonly key: MaskKey
  readonly fired: Set<string>
  /** Binary or unreadable: every CopyData is dropped (the client already got an error). */
  readonly refused: boolean
  /** Rows seen so far (the header row is not masked). */
  rows: number
}

/** What to do with a CopyOutResponse. */
export type CopyOut =
  | {readonly kind: 'plain'}
  | {readonly kind: 'masked'; readonly copy: CopyMasker}
  | {readonly kind: 'refused'; readonly copy: CopyMasker; readonly error: Buffer}

/** Options the masker reads; any other option (ENCODING...) makes the format unknown. */
const LAYOUT_ONLY = new Set(['force_quote', 'force_not_null', 'force_null', 'freeze', 'default'])

/** The format of the current COPY statement; a string saying why when it cannot be read. */
export function copyFormat(sql: string, index: number): CopyFormat | string {
  const parsed = parse(sql)
  if (!parsed.ok) return 'its statement could not be read'
  const stmt = parsed.statements[index] as {CopyStmt?: {options?: unknown[]}} | undefined
  const copy = stmt?.CopyStmt
  if (copy === undefined) return 'its statement could not be read'
  const opts = new Map<string, unknown>()
  for (const o of copy.options ?? []) {
    const d = (o as {DefElem?: {defname?: string; arg?: unknown}}).DefElem
    opts.set(d?.defname ?? '', d?.arg)
  }
  const csv = stringArg(opts.get('format'))?.toLowerCase() === 'csv'
  for (const name of opts.keys()) {
    if (['format', 'delimiter', 'null', 'header', 'quote', 'escape'].includes(name)) continue
    if (LAYOUT_ONLY.has(name)) continue
    if (name === 'encoding' && /^utf-?8$/i.test(stringArg(opts.get(name)) ?? '')) continue
    return `the option ${name.toUpperCase()} is not supported under masking`
  }
  const delimiter = stringArg(opts.get('delimiter')) ?? (csv ? ',' : '\t')
  const quote = stringArg(opts.get('quote')) ?? '"'
  const format: CopyFormat = {
    csv,
    delimiter,
    nullString: stringArg(opts.get('null')) ?? (csv ? '' : '\\N'),
    quote,
    escape: stringArg(opts.get('escape')) ?? quote,
    header: opts.has('header') && truthy(opts.get('header')),
  }
  // The server insists on one single-byte character for each; anything else is not what it sent.
  for (const c of [format.delimiter, ...(csv ? [format.quote, format.escape] : [])])
    if (c.length !== 1 || c.charCodeAt(0) > 127)
      return 'its delimiter, quote or escape is not one ASCII character'
  return format
}

function stringArg(arg: unknown): string | undefined {
  const s = (arg as {String?: {sval?: string}} | undefined)?.String?.sval
  return typeof s === 'string' ? s : undefined
}

/** HEADER's value: true, on, 1, match (HEADER alone is true). */
function truthy(arg: unknown): boolean {
  if (arg === undefined || arg === null) return true
  const a = arg as {Boolean?: {boolval?: boolean}; Integer?: {ival?: number}}
  if (a.Boolean !== undefined) return a.Boolean.boolval === true
  if (a.Integer !== undefined) return (a.Integer.ival ?? 0) !== 0
  return !['false', 'off', '0'].includes((stringArg(arg) ?? 'true').toLowerCase())
}

/** Plans a COPY's columns from the CopyOutResponse `frame`. */
export function maskCopyOut(session: MaskSession, m: MaskStatement, frame: Buffer): CopyOut {
  const r = bodyOf(frame)
  const binary = r.byte() !== 0
  const n = r.int16()
  const lineage = m.lineage === null ? undefined : m.lineage?.[m.index]
  const fields: PlanField[] = Array.from({length: Math.max(n, 0)}, (_, i) => ({
    name: lineage?.columns?.[i]?.name ?? `column${i + 1}`,
    direct: null,
    typeCategory: 'text',
  }))
  const plans = planMasking(m.rules, fields, lineage)
  const masks = fieldMasks(
    plans,
    fields.map(() => ({typeOid: 25, format: 0})),
  )
  if (masks === null) return {kind: 'plain'}
  plans.forEach((p, i) => {
    if (p?.kind === 'column') m.masked.add(`${fields[i]?.name ?? ''}:${p.rule}`)
  })
  const format = copyFormat(m.sql, m.index)
  const copy: CopyMasker = {
    format: typeof format === 'string' ? DEFAULT_TEXT : format,
    masks,
    key: session.key,
    fired: m.fired,
    refused: false,
    rows: 0,
  }
  if (!binary && typeof format !== 'string') return {kind: 'masked', copy}
  const error = errorResponse({
    severity: 'ERROR',
    code: '42501',
    message: binary
      ? 'dbgate cannot mask binary COPY output: use the text or CSV format'
      : `dbgate cannot mask this COPY output: ${format as string}`,
  })
  return {kind: 'refused', copy: {...copy, refused: true}, error}
}

const DEFAULT_TEXT: CopyFormat = {
  csv: false,
  delimiter: '\t',
  nullString: '\\N',
  quote: '"',
  escape: '"',
  header: false,
}

/** The CopyData `buf[start, end)` with masked columns rewritten (empty for a refused COPY). */
export function maskCopyData(copy: CopyMasker, buf: Buffer, start: number, end: number): Buffer {
  if (copy.refused) return Buffer.alloc(0)
  const f = copy.format
  const line = buf.toString('utf8', start + 5, end)
  if (copy.rows++ === 0 && f.header) return typed(Backend.CopyData, Buffer.from(line, 'utf8'))
  const nl = line.endsWith('\n') ? '\n' : ''
  const body = nl === '' ? line : line.slice(0, -1)
  const fields = f.csv ? splitCsv(body, f) : splitText(body, f.delimiter)
  // A row that does not split into its columns is written with every masked column NULL.
  const whole = fields.length !== copy.masks.length
  const out = whole
    ? copy.masks.map((mask) => (mask === null ? '' : f.nullString))
    : fields.map((field, i) => maskOne(copy, field, copy.masks[i] ?? null))
  return typed(Backend.CopyData, Buffer.from(out.join(f.delimiter) + nl, 'utf8'))
}

function maskOne(copy: CopyMasker, field: string, mask: FieldMask | null): string {
  if (mask === null) return field
  const f = copy.format
  if (field === f.nullString) {
    // A computed value's NULL is masked too (maskNull): whether it is NULL could show its source.
    const nul = maskNull(mask, copy.key)
    if (nul === null) return field
    const s = nul.toString('utf8')
    return f.csv ? quoteCsv(s, f) : escapeText(s, f)
  }
  const raw = f.csv ? unquoteCsv(field, f) : unescapeText(field, f.delimiter)
  const input = Buffer.from(raw, 'utf8')
  const out = maskField(input, mask, copy.key, copy.fired)
  if (out === input) return field
  if (out === null) return f.nullString
  const s = out.toString('utf8')
  return f.csv ? quoteCsv(s, f) : escapeText(s, f)
}

/** Splits a text-format row at unescaped delimiters (escapes kept). */
function splitText(line: string, delimiter: string): string[] {
  const out: string[] = []
  let from = 0
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '\\') i++
    else if (c === delimiter) {
      out.push(line.slice(from, i))
      from = i + 1
    }
  }
  out.push(line.slice(from))
  return out
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = {b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v'}

/** A text-format field's value: backslash escapes decoded (octal and hex included). */
function unescapeText(field: string, delimiter: string): string {
  if (!field.includes('\\')) return field
  return field.replace(/\\([0-7]{1,3}|x[0-9a-fA-F]{1,2}|[\s\S])/g, (_, e: string) => {
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8))
    if (e.length > 1 && e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16))
    return e === delimiter ? e : (TEXT_ESCAPES[e] ?? e)
  })
}

/** A value written for text format: backslash, newline, carriage return, tab and the delimiter escaped. */
function escapeText(value: string, f: CopyFormat): string {
  let out = ''
  for (const c of value) {
    if (c === '\\') out += '\\\\'
    else if (c === '\n') out += '\\n'
    else if (c === '\r') out += '\\r'
    else if (c === '\t') out += '\\t'
    else if (c === f.delimiter) out += `\\${c}`
    else out += c
  }
  // A masked value that reads as the null string arrives as NULL: still nothing of the value.
  return out
}

/** Splits one CSV row into its raw fields (quotes kept), honouring quotes and escapes. */
function splitCsv(line: string, f: CopyFormat): string[] {
  const out: string[] = []
  let from = 0
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (escapes(line, i, f)) i++
      else if (c === f.quote) quoted = false
    } else if (c === f.quote) quoted = true
    else if (c === f.delimiter) {
      out.push(line.slice(from, i))
      from = i + 1
    }
  }
  out.push(line.slice(from))
  return out
}

/** True when `s[i]`, inside quotes, escapes the next character (a quote, or the escape itself). */
function escapes(s: string, i: number, f: CopyFormat): boolean {
  const next = s[i + 1]
  return s[i] === f.escape && (next === f.quote || (next === f.escape && f.escape !== f.quote))
}

/** A raw CSV field's value: quotes removed, escaped quote and escape characters restored. */
function unquoteCsv(field: string, f: CopyFormat): string {
  let out = ''
  let quoted = false
  for (let i = 0; i < field.length; i++) {
    const c = field[i] as string
    if (!quoted) {
      if (c === f.quote) quoted = true
      else out += c
    } else if (escapes(field, i, f)) {
      out += field[i + 1] ?? ''
      i++
    } else if (c === f.quote) quoted = false
    else out += c
  }
  return out
}

/** A value written as a quoted CSV field. */
function quoteCsv(value: string, f: CopyFormat): string {
  let out = f.quote
  for (const c of value) out += c === f.quote || c === f.escape ? f.escape + c : c
  return out + f.quote
}
