/**
 * A separate upstream connection for the proxy's own catalog lookups (a fastpath call's function
 * name), opened on first use and closed with the session. It never carries client statements.
 */
import {Backend} from './messages.js'
import {MessageReader} from './reader.js'
import type {PgTarget} from './target.js'
import {connectUpstream, type UpstreamConnection} from './upstream.js'
import type {FieldReader} from './wire.js'
import {bodyOf, query, readErrorFields, terminate} from './wire.js'

/** One lazily opened side connection. */
export class SideConnection {
  private conn: Promise<{up: UpstreamConnection; reader: MessageReader}> | undefined
  private readonly functionNames = new Map<number, string>()

  constructor(
    private readonly target: PgTarget,
    private readonly timeoutMs = 15_000,
  ) {}

  /** The schema-qualified name of a function, by OID (cached). */
  async functionName(oid: number): Promise<string> {
    const unsigned = oid >>> 0
    const known = this.functionNames.get(unsigned)
    if (known !== undefined) return known
    const rows = await this.query(
      `SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = ${unsigned}::pg_catalog.oid`,
    )
    const row = rows[0]
    if (row === undefined) throw new Error(`no function has OID ${unsigned}`)
    const name = `${row[0] ?? ''}.${row[1] ?? ''}`.toLowerCase()
    this.functionNames.set(unsigned, name)
    return name
  }

  /** The query running (or last run): the next one starts after it, since one reader takes the answers. */
  private last: Promise<unknown> = Promise.resolve()

  /** Runs one simple query, after any running one, and returns its rows as text. */
  query(sql: string): Promise<(string | null)[][]> {
    const run = this.last.then(
      () => this.run(sql),
      () => this.run(sql),
    )
    this.last = run.catch(() => undefined)
    return run
  }

  private async run(sql: string): Promise<(string | null)[][]> {
    this.conn ??= connectUpstream(this.target, {timeoutMs: this.timeoutMs}).then((up) => ({
      up,
      reader: new MessageReader(up.socket, {maxMessageBytes: 1 << 26}),
    }))
    const {up, reader} = await this.conn
    up.socket.write(query(sql))
    const rows: (string | null)[][] = []
    let error: string | undefined
    for (;;) {
      const {type, frame} = await reader.next(this.timeoutMs)
      if (type === Backend.DataRow) rows.push(readDataRow(bodyOf(frame)))
      else if (type === Backend.ErrorResponse) error = readErrorFields(frame).get(0x4d) ?? 'error'
      else if (type === Backend.ReadyForQuery) break
    }
    if (error !== undefined) throw new Error(error)
    return rows
  }

  /** Closes the connection if it was opened. */
  close(): void {
    const conn = this.conn
    this.conn = undefined
    void conn
      ?.then(({up, reader}) => {
        reader.detach()
        up.socket.end(terminate())
      })
      .catch(() => undefined)
  }
}

function readDataRow(r: FieldReader): (string | null)[] {
  const n = r.int16()
  const out: (string | null)[] = []
  for (let i = 0; i < n; i++) {
    const len = r.int32()
    out.push(len < 0 ? null : r.bytes(len).toString('utf8'))
  }
  return out
}
