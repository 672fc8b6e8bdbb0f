/**
 * COPY ... TO STDOUT under masking: the CopyOutResponse says how many columns and whether the data
 * is binary; the statement's own options say text or CSV. Textual COPY is masked per column, one row
 * per CopyData (as the server sends it); binary COPY, or options the masker does not parse (a custom
 * delimiter, quote or null string), is refused when a column would need masking: fail closed.
 */
import {maskField, type FieldMask, type MaskKey} from '../../masking/index.js'
import {parse} from '../../policy/postgres/parser.js'
import {planMasking, type PlanField} from '../../policy/index.js'
import {fieldMasks} from './mask-rows.js'
import type {MaskSession, MaskStatement} from './mask-session.js'
import {Backend} from './messages.js'
import {bodyOf, errorResponse, typed} from './wire.js'

/** How a masked COPY's rows are rewritten. */
export interface CopyMasker {
  readonly csv: boolean
  readonly masks: readonly (FieldMask | null)[]
  readonly key: MaskKey
  readonly fired: Set<string>
  /** Binary or unparseable: every CopyData is dropped (the client already got an error). */
  readonly refused: boolean
}

/** What to do with a CopyOutResponse. */
export type CopyOut =
  | {readonly kind: 'plain'}
  | {readonly kind: 'masked'; readonly copy: CopyMasker}
  | {readonly kind: 'refused'; readonly copy: CopyMasker; readonly error: Buffer}

/** Options of the current COPY statement: csv, and whether any option changes the textual format. */
function copyOptions(sql: string, index: number): {csv: boolean; custom: boolean} | undefined {
  const parsed = parse(sql)
  if (!parsed.ok) return undefined
  const stmt = parsed.statements[index] as {CopyStmt?: {options?: unknown[]}} | undefined
  const copy = stmt?.CopyStmt
  if (copy === undefined) return undefined
  let csv = false
  let custom = false
  for (const o of copy.options ?? []) {
    const d = (o as {DefElem?: {defname?: string; arg?: unknown}}).DefElem
    const name = d?.defname ?? ''
    if (name === 'format')
      csv = JSON.stringify(d?.arg ?? '')
        .toLowerCase()
        .includes('"csv"')
    else if (name !== 'header' && name !== 'force_quote' && name !== 'force_not_null') custom = true
  }
  return {csv, custom}
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
  const options = copyOptions(m.sql, m.index)
  const copy = {csv: options?.csv ?? false, masks, key: session.key, fired: m.fired, refused: false}
  if (!binary && options !== undefined && !options.custom) return {kind: 'masked', copy}
  const error = errorResponse({
    severity: 'ERROR',
    code: '42501',
    message: binary
      ? 'dbgate cannot mask binary COPY output: use the text or CSV format'
      : 'dbgate cannot mask COPY output with a custom delimiter, quote, escape or null string',
  })
  return {kind: 'refused', copy: {...copy, refused: true}, error}
}

/** The CopyData `buf[start, end)` with masked columns rewritten (empty for a refused COPY). */
export function maskCopyData(copy: CopyMasker, buf: Buffer, start: number, end: number): Buffer {
  if (copy.refused) return Buffer.alloc(0)
  const line = buf.toString('utf8', start + 5, end)
  const nl = line.endsWith('\n') ? '\n' : ''
  const body = nl === '' ? line : line.slice(0, -1)
  const fields = copy.csv ? splitCsv(body) : body.split('\t')
  // A row that does not split into its columns (an embedded newline split by the server?) is redacted whole.
  const whole = fields.length !== copy.masks.length
  const out = whole
    ? copy.masks.map((mask) => (mask === null ? '' : copy.csv ? '' : '\\N'))
    : fields.map((f, i) => maskOne(copy, f, copy.masks[i] ?? null))
  return typed(Backend.CopyData, Buffer.from(out.join(copy.csv ? ',' : '\t') + nl, 'utf8'))
}

function maskOne(copy: CopyMasker, field: string, mask: FieldMask | null): string {
  if (mask === null) return field
  const isNull = copy.csv ? field === '' : field === '\\N'
  if (isNull) return field
  const raw = copy.csv && field.startsWith('"') ? field.slice(1, -1).replaceAll('""', '"') : field
  const input = Buffer.from(raw, 'utf8')
  const out = maskField(input, mask, copy.key, copy.fired)
  if (out === input) return field
  if (out === null) return copy.csv ? '' : '\\N'
  const s = out.toString('utf8')
  if (copy.csv) return `"${s.replaceAll('"', '""')}"`
  return s.replace(/[\\\t\n\r]/g, (c) =>
    c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\\\',
  )
}

/** Splits one CSV line into its raw fields (quotes kept), honouring quoted commas and doubled quotes. */
function splitCsv(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '""'
        i++
      } else {
        if (c === '"') quoted = false
        cur += c
      }
    } else if (c === '"') {
      quoted = true
      cur += c
    } else if (c === ',') {
      out.push(cur)
      cur = ''
    } else cur += c
  }
  out.push(cur)
  return out
}
