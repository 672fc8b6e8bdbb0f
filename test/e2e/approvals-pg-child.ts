/**
 * A node-postgres client for the approvals e2e tests, run under `dbgate connect TARGET -- node --import tsx
 * THIS SQL [VALUES…]`: one statement in the extended protocol (with parameters; `--name N` first makes it a
 * named prepared statement; `--runs N` runs it N times, which after the first is Bind and Execute only for a named one), then
 * `select 1` to show the session goes on. `--cancel-after-notice` sends a
 * CancelRequest (what psql's Ctrl-C sends) once the NOTICE of a held statement arrives. NOTICE/ERROR/HINT
 * lines go to stderr, the result as JSON to stdout; exit 1 when the statement failed.
 */
import {connect} from 'node:net'

import pg from 'pg'

const args = process.argv.slice(2)
let name: string | undefined
let cancelAfterNotice = false
let runs = 1
for (;;) {
  if (args[0] === '--name') {
    name = args[1]
    args.splice(0, 2)
  } else if (args[0] === '--runs') {
    runs = Number(args[1])
    args.splice(0, 2)
  } else if (args[0] === '--cancel-after-notice') {
    cancelAfterNotice = true
    args.shift()
  } else break
}
const [text = '', ...values] = args

const client = new pg.Client()

function sendCancel(): void {
  const key = client as unknown as {processID: number; secretKey: number}
  const packet = Buffer.alloc(16)
  packet.writeInt32BE(16, 0)
  packet.writeInt32BE(80877102, 4)
  packet.writeInt32BE(key.processID, 8)
  packet.writeInt32BE(key.secretKey, 12)
  const socket = connect(Number(process.env.PGPORT), process.env.PGHOST ?? '127.0.0.1', () =>
    socket.end(packet),
  )
  socket.on('error', () => undefined)
}

client.on('notice', (n) => {
  process.stderr.write(`NOTICE: ${n.message ?? ''}\n`)
  if (cancelAfterNotice) sendCancel()
})
await client.connect()
for (let i = 0; i < runs; i++) {
  try {
    const r = await client.query({text, values, ...(name === undefined ? {} : {name})})
    process.stdout.write(`${JSON.stringify({command: r.command, rowCount: r.rowCount, rows: r.rows})}\n`)
  } catch (err) {
    const e = err as {message: string; code?: string; hint?: string}
    process.stderr.write(`ERROR: ${e.code ?? ''} ${e.message}\n`)
    if (e.hint !== undefined) process.stderr.write(`HINT: ${e.hint}\n`)
    process.exitCode = 1
  }
}
const alive = await client.query('select 1 as alive')
process.stderr.write(`session goes on: ${JSON.stringify(alive.rows[0])}\n`)
await client.end()
