/**
 * Child process of the crash tests. `spool STATE WRITERS [DURABILITY]`: appends events from `writers`
 * concurrent loops and prints each seq on its own line once its write resolved. `proxy STATE URL
 * [DURABILITY]`: serves the guarded Postgres engine with its audit trail under STATE and prints
 * `port=N`. The parent kills it with SIGKILL.
 */
import {DurableSpool, type AuditDurability} from '../../src/audit/durable-spool.js'
import {AuditTrail} from '../../src/audit/trail.js'
import {body} from '../unit/audit-helpers.js'
import {startTestProxy} from '../support/proxy.js'

const [role, stateDir, arg, durabilityArg] = process.argv.slice(2)
const durability = (durabilityArg ?? 'written') as AuditDurability

if (role === 'proxy') {
  const trail = await AuditTrail.open({stateDir: stateDir as string, durability})
  const proxy = await startTestProxy(arg as string, undefined, {sink: trail})
  process.stdout.write(`port=${proxy.port}\n`)
} else {
  const spool = DurableSpool.open(stateDir as string, {durability})
  let n = 0
  const loop = async (): Promise<void> => {
    for (;;) {
      const e = await spool.append(body(++n))
      process.stdout.write(`${e.seq}\n`)
    }
  }
  await Promise.all(Array.from({length: Number(arg ?? 4)}, () => loop()))
}
