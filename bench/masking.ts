/**
 * Masking cost per field, as the proxy's row path pays it: maskField on a field's bytes (a subarray of
 * the DataRow, as the proxy holds it). The common case is a clean text field scanned by every
 * classifier: it must cost about as little as reading its bytes once.
 */
import {maskField, type FieldMask} from '../src/masking/index.js'

const KEY = Buffer.from('6f1ed002ab5595859014ebf0951522d9', 'hex')
const ALL = ['email', 'credit_card', 'ssn', 'phone', 'iban', 'secret'] as const
const detect: FieldMask = {
  kind: 'detect',
  rules: [{rule: 'pii', classifiers: ALL, style: 'redact'}],
  type: 'text',
}
const column = (style: 'redact' | 'partial' | 'hash'): FieldMask => ({
  kind: 'column',
  rule: 'email',
  style,
  type: 'text',
})

/** Fields laid out in one buffer, as DataRows lay them out, so each case reads subarrays. */
function fields(values: readonly string[], count: number): Buffer[] {
  const chunk = Buffer.from(Array.from({length: count}, (_, i) => values[i % values.length]).join(''))
  const out: Buffer[] = []
  let at = 0
  for (let i = 0; i < count; i++) {
    const len = Buffer.byteLength(values[i % values.length]!)
    out.push(chunk.subarray(at, (at += len)))
  }
  return out
}

/** ns per call of `fn` over `inputs`, best of 5 rounds after a warm-up. */
function measure(inputs: readonly Buffer[], plan: FieldMask): {ns: number; changed: number} {
  let changed = 0
  const round = () => {
    const start = process.hrtime.bigint()
    for (const f of inputs) if (maskField(f, plan, KEY) !== f) changed++
    return Number(process.hrtime.bigint() - start) / inputs.length
  }
  round()
  let best = Infinity
  for (let r = 0; r < 5; r++) best = Math.min(best, round())
  return {ns: best, changed}
}

const CLEAN_40 = [
  'Stainless steel bottle, 750 ml, blue lid',
  'Organic cotton T-shirt, size M, washable',
  'Hand-thrown ceramic mug, 350 ml, glazed.',
  'Noise-cancelling headphones, 30 h, USB-C',
]
const LOG_LINE = ['2024-03-15T10:23:45.123Z INFO GET /api/v2/orders 200 12ms']
const MD5 = [
  '5d41402abc4b2a76b9719d911017c592',
  '7d793037a0760186574b0282f2f435e1',
  'e2fc714c4727ee9395f324cd2e7f331f',
]
const EMAIL_TEXT = ['Please reply to alice.smith@example.com today']
const EMAIL = ['alice.smith@example.com', 'bob.jones@example.org', 'carol+news@mail.example.co.uk']

/** ns per field of the least any scan costs: reading each byte once. */
function baseline(inputs: readonly Buffer[]): number {
  let sink = 0
  const round = () => {
    const start = process.hrtime.bigint()
    for (const f of inputs) for (let i = 0; i < f.length; i++) sink += f[i]!
    return Number(process.hrtime.bigint() - start) / inputs.length
  }
  round()
  let best = Infinity
  for (let r = 0; r < 5; r++) best = Math.min(best, round())
  return sink === -1 ? 0 : best
}

/** Prints the figures. */
export default async function run(): Promise<void> {
  const n = 400_000
  const base = baseline(fields(CLEAN_40, n))
  console.log(
    `${'    baseline: read every byte of a clean 40-char field'.padEnd(58)} ${base.toFixed(0).padStart(6)} ns/field`,
  )
  const cases: [string, string[], FieldMask][] = [
    ['(a) clean 40-char text, detect all 6', CLEAN_40, detect],
    ['    clean 32-char md5 hex, detect all 6', MD5, detect],
    ['    clean 57-char log line with a timestamp, detect all 6', LOG_LINE, detect],
    ['(b) text with an email, detect all 6 (redact)', EMAIL_TEXT, detect],
    ['(c) email column, redact', EMAIL, column('redact')],
    ['    email column, partial', EMAIL, column('partial')],
    ['    email column, hash', EMAIL, column('hash')],
  ]
  for (const [label, values, plan] of cases) {
    const {ns, changed} = measure(fields(values, n), plan)
    console.log(
      `${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/field  (${changed > 0 ? 'masked' : 'forwarded as is'})`,
    )
  }
  await Promise.resolve()
}
