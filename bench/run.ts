/**
 * `npm run bench`: runs every benchmark module in bench/ (each `*.ts` but this one and `_*.ts`), or
 * only those named on the command line: `npm run bench -- policy`. A module default-exports
 * `async () => void` and prints its own figures. Benchmarks time things; tests never do.
 */
import {readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort()

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !available.includes(w))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`)
  process.exitCode = 2
} else {
  for (const name of wanted.length > 0 ? wanted : available) {
    const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as {default: () => Promise<void>}
    console.log(`\n== ${name}`)
    await mod.default()
  }
}
