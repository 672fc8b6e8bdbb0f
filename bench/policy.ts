/**
 * Policy engine cost per statement: parse + evaluate of a typical ~200-character SELECT, cold (cache
 * disabled) and through the decision cache, with a different literal in every statement as pgbench
 * sends them, for both dialects; libpg-query's own parseSync in the same run is the baseline.
 */
import {readFileSync} from 'node:fs'

import {parseSync} from 'libpg-query'

import {Guard, loadParsers, parsePolicy, type Dialect, type EvalContext} from '../src/policy/index.js'

const POSTGRES = (n: number) =>
  `SELECT o.id, o.status, o.total_cents, c.email, c.name FROM public.orders o JOIN public.customers c ` +
  `ON c.id = o.customer_id WHERE o.customer_id = ${n} AND o.created_at >= '2024-01-01' ` +
  `ORDER BY o.created_at DESC LIMIT 50`
const MYSQL = (n: number) =>
  `SELECT o.id, o.status, o.total_cents, c.email, c.name FROM orders o JOIN customers c ` +
  `ON c.id = o.customer_id WHERE o.customer_id = ${n} AND o.created_at >= '2024-01-01' ` +
  `ORDER BY o.created_at DESC LIMIT 50`

/**
 * Runs `fn` once per input after a warm-up and returns µs per call. Inputs are flat strings decoded
 * from bytes, as the proxy gets them from the wire, each with its own literal.
 */
function measure(make: (n: number) => string, count: number, fn: (sql: string) => unknown): number {
  const inputs = Array.from({length: count}, (_, i) => Buffer.from(make(i)).toString('utf8'))
  for (let i = 0; i < Math.min(count, 500); i++) fn(Buffer.from(make(1_000_000 + i)).toString('utf8'))
  const start = process.hrtime.bigint()
  for (const sql of inputs) fn(sql)
  return Number(process.hrtime.bigint() - start) / 1000 / count
}

const fmt = (us: number) => `${us.toFixed(2).padStart(9)} µs`

/** Prints the figures. */
export default async function run(): Promise<void> {
  await loadParsers()
  const policy = parsePolicy(readFileSync('examples/policy.yaml', 'utf8'))
  const ctx: EvalContext = {actor: 'human', identity: 'alice@example.com', groups: ['dev'], target: 'prod-pg'}
  console.log(`statement: ${POSTGRES(48213).length} characters, a new literal every time`)

  const baseline = measure(POSTGRES, 3000, (sql) => parseSync(sql))
  console.log(`libpg-query parseSync (baseline)    ${fmt(baseline)}`)

  const rows: [string, Dialect, (n: number) => string][] = [
    ['postgres', 'postgres', POSTGRES],
    ['mysql', 'mysql', MYSQL],
  ]
  for (const [label, dialect, sql] of rows) {
    const schema = {defaultSchema: dialect === 'postgres' ? 'public' : 'shop'}
    const cold = new Guard(policy, dialect, {cacheSize: 0})
    const coldUs = measure(sql, dialect === 'postgres' ? 3000 : 1000, (q) => cold.decide(q, ctx, schema))
    const cached = new Guard(policy, dialect)
    const cachedUs = measure(sql, 100_000, (q) => cached.decide(q, ctx, schema))
    const ratio = dialect === 'postgres' ? `  (${(coldUs / baseline).toFixed(2)}× parseSync)` : ''
    console.log(`${label.padEnd(8)} cold   parse+evaluate     ${fmt(coldUs)}${ratio}`)
    console.log(
      `${label.padEnd(8)} cached parse+evaluate     ${fmt(cachedUs)}  (${(baseline / cachedUs).toFixed(0)}× faster than parseSync; ` +
        `hits ${cached.stats.hits}, misses ${cached.stats.misses}, bypassed ${cached.stats.bypassed})`,
    )
  }
}
