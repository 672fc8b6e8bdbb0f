/**
 * Child process of the spool crash test: appends events from `writers` concurrent loops and prints each
 * seq on its own line once its write resolved (i.e. was reported durable). The parent kills it with SIGKILL.
 */
import {DurableSpool} from '../../src/audit/durable-spool.js'
import {body} from '../unit/audit-helpers.js'

const [stateDir, writersArg] = process.argv.slice(2)
const spool = DurableSpool.open(stateDir as string)
let n = 0

async function loop(): Promise<void> {
  for (;;) {
    const e = await spool.append(body(++n))
    process.stdout.write(`${e.seq}\n`)
  }
}

await Promise.all(Array.from({length: Number(writersArg ?? 4)}, () => loop()))
