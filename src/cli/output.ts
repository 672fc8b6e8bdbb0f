/**
 * Human output helpers: tables, CSV and colour. Colour only on a TTY and never when NO_COLOR is set.
 */

/** True when colour may be written to the given stream. */
export function colourAllowed(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true
}

/** Wraps text in an ANSI style when colour is allowed. */
export function paint(text: string, style: 'red' | 'green' | 'yellow' | 'dim' | 'bold'): string {
  if (!colourAllowed()) return text
  const codes = {red: [31, 39], green: [32, 39], yellow: [33, 39], dim: [2, 22], bold: [1, 22]} as const
  const [open, close] = codes[style]
  return `\u001B[${open}m${text}\u001B[${close}m`
}

/** A value as shown in a table cell or CSV field. */
export type Cell = string | number | boolean | null | undefined

function show(v: Cell): string {
  if (v === null || v === undefined) return ''
  return String(v)
}

/** Renders rows as an aligned text table with a header line, like psql's default output. */
export function formatTable(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => show(r[i]).length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join(' | ')
      .trimEnd()
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-')]
  for (const r of rows) out.push(line(columns.map((_, i) => show(r[i]))))
  out.push(`(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`)
  return out.join('\n')
}

function csvField(v: Cell): string {
  const s = show(v)
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** Renders rows as RFC 4180 CSV with a header line. */
export function formatCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [columns, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n')
}
