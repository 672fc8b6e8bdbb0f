/**
 * Server → client: forwards packets as raw byte ranges while following the response the server owes
 * (result sets, prepare metadata, OK/ERR) so that the session knows when each command ends, how many
 * rows it returned, and whether it succeeded. Column definitions and rows pass through `column` and
 * `row`, the hooks where masking will rewrite them. A LOCAL INFILE request is relayed only when allowed.
 */
import type {RunWriter} from '../postgres/run-writer.js'
import {MAX_PART, PacketFramer, payloadOf} from './framing.js'
import {Cap, Header, Status} from './protocol.js'
import type {Entry, MysqlSessionState} from './session-state.js'
import {PayloadReader, readErr, statusOf} from './wire.js'

/** The server broke the protocol or asked for something the policy does not allow. */
export class ServerProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ServerProtocolError'
  }
}

/** Where in a response the dispatcher is. */
type Phase =
  | 'first' // OK, ERR, LOCAL INFILE request, or a column count
  | 'columns' // `left` column definitions, then an EOF unless CLIENT_DEPRECATE_EOF
  | 'rows' // rows until EOF/OK or ERR
  | 'prepareMeta' // `left` packets of parameter and column definitions (with their EOFs)
  | 'fields' // column definitions until EOF or ERR
  | 'infile' // the client is sending a file; the server answers with OK or ERR

/** Options of a ServerDispatcher. */
export interface ServerDispatcherOptions {
  readonly state: MysqlSessionState
  readonly toClient: RunWriter
  readonly maxPacketBytes: number
  /** Whether the server may read a client file for this decided statement. */
  readonly allowInfile: (entry: Extract<Entry, {kind: 'server'}>) => boolean
  /** The client must now send the file's packets (until an empty one). */
  readonly onInfile: () => void
  readonly onFatal: (err: unknown) => void
}

/** Follows and forwards the server's side of a session. */
export class ServerDispatcher {
  private readonly framer: PacketFramer
  private phase: Phase = 'first'
  private left = 0
  private readonly deprecateEof: boolean
  private failed = false

  constructor(private readonly o: ServerDispatcherOptions) {
    this.deprecateEof = (o.state.capabilities & Cap.deprecateEof) !== 0
    this.framer = new PacketFramer(o.maxPacketBytes, (seq, buf, start, end) => this.packet(buf, start, end))
  }

  /** Feeds bytes from the server. */
  push(chunk: Buffer): void {
    if (this.failed) return
    try {
      this.framer.push(chunk)
      this.o.toClient.flush()
    } catch (err) {
      this.failed = true
      this.o.onFatal(err)
    }
  }

  private packet(buf: Buffer, start: number, end: number): void {
    const entry = this.o.state.queue[0]
    if (entry === undefined || entry.kind !== 'server')
      throw new ServerProtocolError('the server sent a packet no command asked for')
    const head = end - start > 4 ? (buf[start + 4] as number) : -1
    switch (entry.expect) {
      case 'ok':
      case 'single':
        this.forward(buf, start, end)
        if (head === Header.err) this.fail(entry, buf, start, end)
        else this.finish(entry, true)
        return
      case 'fields':
        this.forward(buf, start, end)
        if (head === Header.err) this.fail(entry, buf, start, end)
        else if (head === Header.eof && end - start - 4 < MAX_PART) this.finish(entry, true)
        return
      case 'prepare':
        return this.prepare(entry, head, buf, start, end)
      case 'result':
        return this.result(entry, head, buf, start, end)
    }
  }

  private prepare(
    entry: Extract<Entry, {kind: 'server'}>,
    head: number,
    buf: Buffer,
    start: number,
    end: number,
  ): void {
    this.forward(buf, start, end)
    if (this.phase === 'prepareMeta') {
      if (--this.left === 0) this.finish(entry, true)
      return
    }
    if (head === Header.err) return this.fail(entry, buf, start, end)
    const r = new PayloadReader(payloadOf(buf, start, end), 1)
    const id = r.int(4)
    const columns = r.int(2)
    const params = r.int(2)
    if (entry.prepared !== undefined) this.o.state.statements.set(id, entry.prepared)
    const eofs = this.deprecateEof ? 0 : (params > 0 ? 1 : 0) + (columns > 0 ? 1 : 0)
    this.left = params + columns + eofs
    if (this.left === 0) this.finish(entry, true)
    else this.phase = 'prepareMeta'
  }

  private result(
    entry: Extract<Entry, {kind: 'server'}>,
    head: number,
    buf: Buffer,
    start: number,
    end: number,
  ): void {
    switch (this.phase) {
      case 'first':
      case 'infile':
        if (head === Header.ok) {
          this.forward(buf, start, end)
          const payload = payloadOf(buf, start, end)
          this.countAffected(entry, payload)
          if ((statusOf(payload) & Status.moreResultsExist) === 0) this.finish(entry, true)
          else this.phase = 'first'
          return
        }
        if (head === Header.err) {
          this.forward(buf, start, end)
          return this.fail(entry, buf, start, end)
        }
        if (head === Header.localInfile && this.phase === 'first') {
          if (!this.o.allowInfile(entry))
            throw new ServerProtocolError(
              'the server asked for a client file (LOCAL INFILE), which this session does not allow',
            )
          this.forward(buf, start, end)
          this.phase = 'infile'
          this.o.onInfile()
          return
        }
        if (this.phase === 'infile')
          throw new ServerProtocolError('unexpected packet after a LOCAL INFILE transfer')
        this.left = new PayloadReader(payloadOf(buf, start, end)).lenenc()
        this.forward(buf, start, end)
        this.phase = 'columns'
        if (this.left === 0) throw new ServerProtocolError('a result set with no columns')
        return
      case 'columns':
        if (this.left > 0) {
          this.left--
          this.column(buf, start, end)
          if (this.left === 0 && this.deprecateEof) this.phase = 'rows'
          return
        }
        // The EOF after the column definitions; a cursor means no rows follow now.
        this.forward(buf, start, end)
        if ((statusOf(payloadOf(buf, start, end)) & Status.cursorExists) !== 0) this.finish(entry, true)
        else this.phase = 'rows'
        return
      case 'rows':
        if (head === Header.eof && end - start - 4 < MAX_PART) {
          this.forward(buf, start, end)
          if ((statusOf(payloadOf(buf, start, end)) & Status.moreResultsExist) === 0) this.finish(entry, true)
          else this.phase = 'first'
          return
        }
        if (head === Header.err) {
          this.forward(buf, start, end)
          return this.fail(entry, buf, start, end)
        }
        if (entry.running !== undefined) entry.running.rows = (entry.running.rows ?? 0) + 1
        this.row(buf, start, end)
        return
      case 'prepareMeta':
      case 'fields':
        throw new ServerProtocolError(`unexpected packet in phase ${this.phase}`)
    }
  }

  /** A column definition (org_table and org_name live here): the masking hook. */
  private column(buf: Buffer, start: number, end: number): void {
    this.forward(buf, start, end)
  }

  /** A text or binary row: the masking hook. */
  private row(buf: Buffer, start: number, end: number): void {
    this.forward(buf, start, end)
  }

  private forward(buf: Buffer, start: number, end: number): void {
    this.o.toClient.forward(buf, start, end)
  }

  private countAffected(entry: Extract<Entry, {kind: 'server'}>, payload: Buffer): void {
    if (entry.running === undefined) return
    try {
      const affected = new PayloadReader(payload, 1).lenenc()
      entry.running.rows = (entry.running.rows ?? 0) + affected
    } catch {
      // A short OK: nothing to count.
    }
  }

  private fail(entry: Extract<Entry, {kind: 'server'}>, buf: Buffer, start: number, end: number): void {
    if (entry.running !== undefined) entry.running.error = readErr(payloadOf(buf, start, end)).message
    this.finish(entry, false)
  }

  /** Ends the current response: audit, effects, then any replies the proxy queued behind it. */
  private finish(entry: Extract<Entry, {kind: 'server'}>, ok: boolean): void {
    const state = this.o.state
    state.queue.shift()
    this.phase = 'first'
    this.left = 0
    if (ok) entry.onSuccess?.()
    else entry.onFailure?.()
    if (entry.running !== undefined) state.audit.statementEvent(entry.running, entry.running)
    while (state.queue[0]?.kind === 'local') {
      const local = state.queue.shift() as Extract<Entry, {kind: 'local'}>
      this.o.toClient.send(local.bytes)
    }
  }
}
