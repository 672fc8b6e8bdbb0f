/**
 * Server → client: forwards packets as raw byte ranges while following the response the server owes
 * (result sets, prepare metadata, OK/ERR) so that the session knows when each command ends, how many
 * rows it returned, and whether it succeeded. Under masking, column definitions are read to plan the
 * result set and rows with masked values are rewritten (mask-rows.ts); the proxy's own catalog
 * lookups are answered here and never reach the client. A LOCAL INFILE request is relayed only when
 * allowed.
 */
import {ProducedOut} from '../produced-out.js'
import {maskableCharset} from './charset.js'
import type {RunWriter} from '../run-writer.js'
import {MAX_PART, PacketFramer, encodePacket, payloadOf} from './framing.js'
import {readColumnDef, type ColumnDef, type MysqlRowMasker} from './mask-rows.js'
import {Cap, Header, Status} from './protocol.js'
import type {Entry, MysqlSessionState} from './session-state.js'
import {PayloadReader, errPacket, readErr, statusAt, statusOf, withoutInsertId} from './wire.js'

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
  /** True once a packet of the head command's response went to the client (until it completes). */
  private responding = false
  /** Column definitions of the current result set, under masking. */
  private cols: ColumnDef[] = []
  /** The current result set's row masker; undefined: rows go as they are. */
  /**
   * How far the sequence ids of the current response move: a masked row with another number of 16 MB
   * parts than the original shifts every packet after it (MysqlRowMasker.rewrite).
   */
  private seqShift = 0
  private rows: MysqlRowMasker | undefined
  /** Masked rows, gathered into slabs. */
  private readonly produced: ProducedOut

  constructor(private readonly o: ServerDispatcherOptions) {
    this.deprecateEof = (o.state.capabilities & Cap.deprecateEof) !== 0
    this.produced = new ProducedOut(o.toClient)
    this.framer = new PacketFramer(o.maxPacketBytes, (seq, buf, start, end) => this.packet(buf, start, end))
  }

  /** Feeds bytes from the server. */
  push(chunk: Buffer): void {
    if (this.failed) return
    try {
      this.framer.push(chunk)
      this.produced.flush()
      this.o.toClient.flush()
    } catch (err) {
      this.failed = true
      this.o.onFatal(err)
    }
  }

  /**
   * The sequence id the client expects next while it reads the oldest response it is owed: after the
   * last packet of it forwarded, or 1 (after its one-packet command) when none was.
   */
  replySeq(): number {
    return this.responding ? (this.framer.lastSequence + 1) & 0xff : 1
  }

  private packet(buf: Buffer, start: number, end: number): void {
    const entry = this.o.state.queue[0]
    if (entry === undefined || entry.kind !== 'server')
      throw new ServerProtocolError('the server sent a packet no command asked for')
    const head = end - start > 4 ? (buf[start + 4] as number) : -1
    if (entry.lookup !== undefined) return this.lookup(entry, head, buf, start, end)
    this.responding = true
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
          this.forwardOk(entry, buf, start, end)
          const payload = payloadOf(buf, start, end)
          this.countAffected(entry, payload)
          if (entry.mask !== undefined) this.o.state.masking?.completed(entry.mask)
          if ((statusOf(payload) & Status.moreResultsExist) === 0) this.finish(entry, true)
          else this.phase = 'first'
          return
        }
        if (head === Header.err) return this.error(entry, buf, start, end)
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
        this.left = columnCount(buf, start, end)
        this.forward(buf, start, end)
        this.phase = 'columns'
        this.cols = []
        this.rows = undefined
        if (this.left === 0) throw new ServerProtocolError('a result set with no columns')
        return
      case 'columns':
        if (this.left > 0) {
          this.left--
          this.column(entry, buf, start, end)
          if (this.left === 0) this.planRows(entry)
          if (this.left === 0 && this.deprecateEof) this.phase = 'rows'
          return
        }
        // The EOF after the column definitions; a cursor means no rows follow now.
        this.forward(buf, start, end)
        if ((statusAt(buf, start, end) & Status.cursorExists) !== 0) this.finish(entry, true)
        else this.phase = 'rows'
        return
      case 'rows':
        if (head === Header.eof && end - start - 4 < MAX_PART) {
          // Without EOF packets, a result set ends with an OK (header 0xFE) that has a last-insert-id.
          if (this.deprecateEof) this.forwardOk(entry, buf, start, end)
          else this.forward(buf, start, end)
          this.rows = undefined
          if (entry.mask !== undefined) this.o.state.masking?.completed(entry.mask)
          if ((statusAt(buf, start, end) & Status.moreResultsExist) === 0) this.finish(entry, true)
          else this.phase = 'first'
          return
        }
        if (head === Header.err) return this.error(entry, buf, start, end)
        if (entry.running !== undefined) entry.running.rows = (entry.running.rows ?? 0) + 1
        this.row(buf, start, end)
        return
      case 'prepareMeta':
      case 'fields':
        throw new ServerProtocolError(`unexpected packet in phase ${this.phase}`)
    }
  }

  /** A column definition: forwarded as it is (a masked value is valid for its type); read under masking. */
  private column(entry: Extract<Entry, {kind: 'server'}>, buf: Buffer, start: number, end: number): void {
    if (entry.mask !== undefined) this.cols.push(readColumnDef(payloadOf(buf, start, end)))
    this.forward(buf, start, end)
  }

  /** The last column definition arrived: which columns of the rows to mask. */
  private planRows(entry: Extract<Entry, {kind: 'server'}>): void {
    const masking = this.o.state.masking
    if (entry.mask === undefined || masking === undefined) return
    this.rows = masking.plan(
      entry.mask,
      this.cols,
      entry.binary === true,
      maskableCharset(this.o.state.resultCharset),
    )
  }

  /** A text or binary row: rewritten when a masked value is in it, else forwarded as its bytes. */
  private row(buf: Buffer, start: number, end: number): void {
    const parts = this.rows?.rewrite(buf, start, end, this.produced, this.seqShift)
    if (parts === undefined || parts === null) this.forward(buf, start, end)
    else this.seqShift += parts
  }

  /** The response's sequence id plus the shift masked rows of another number of parts made. */
  private seq(buf: Buffer, start: number): number {
    return ((buf[start + 3] as number) + this.seqShift) & 0xff
  }

  private forward(buf: Buffer, start: number, end: number): void {
    if (this.produced.pending) this.produced.flush()
    if (this.seqShift !== 0) shiftSeq(buf, start, end, this.seqShift)
    this.o.toClient.forward(buf, start, end)
  }

  /**
   * An OK ending a statement. Its last-insert-id is what `LAST_INSERT_ID(expr)` kept: under masking,
   * from masked columns, it is sent as 0.
   */
  private forwardOk(entry: Extract<Entry, {kind: 'server'}>, buf: Buffer, start: number, end: number): void {
    const masking = this.o.state.masking
    const hidden =
      entry.mask !== undefined && masking?.keepsMasked(entry.mask) === true
        ? withoutInsertId(payloadOf(buf, start, end))
        : undefined
    if (hidden === undefined) return this.forward(buf, start, end)
    this.produced.append(encodePacket(this.seq(buf, start), hidden))
  }

  /**
   * An ERR ending a response. Its message can quote a value the statement read (`Truncated incorrect
   * DOUBLE value: 'ann@example.com'`): under masking it is withheld, code and SQLSTATE kept.
   */
  private error(entry: Extract<Entry, {kind: 'server'}>, buf: Buffer, start: number, end: number): void {
    const mask = entry.mask
    const masking = this.o.state.masking
    if (mask === undefined || masking === undefined || !masking.readsMasked(mask)) {
      this.forward(buf, start, end)
      return this.fail(entry, buf, start, end)
    }
    const err = readErr(payloadOf(buf, start, end))
    const message = `dbgate: the server's error message is withheld because the statement reads masked columns (error ${err.code})`
    this.produced.append(errPacket(this.seq(buf, start), err.code, err.sqlState, message))
    if (entry.running !== undefined) entry.running.error = message
    this.finish(entry, false)
  }

  /** The response to the proxy's own catalog lookup: read, never forwarded. */
  private lookup(
    entry: Extract<Entry, {kind: 'server'}>,
    head: number,
    buf: Buffer,
    start: number,
    end: number,
  ): void {
    const lookup = entry.lookup
    if (lookup === undefined) return
    const payload = payloadOf(buf, start, end)
    const terminator = head === Header.eof && payload.length < 0xffffff
    switch (this.phase) {
      case 'first':
        if (head === Header.ok || head === Header.err) {
          lookup.done(head === Header.ok)
          return this.finish(entry, head === Header.ok)
        }
        this.left = new PayloadReader(payload).lenenc()
        this.phase = 'columns'
        return
      case 'columns':
        // Column definitions, then an EOF unless CLIENT_DEPRECATE_EOF.
        if (this.left > 0) {
          this.left--
          if (this.left === 0 && this.deprecateEof) this.phase = 'rows'
        } else this.phase = 'rows'
        return
      case 'rows':
        if (terminator || head === Header.err) {
          lookup.done(terminator)
          return this.finish(entry, terminator)
        }
        lookup.row(textRow(payload))
        return
      case 'prepareMeta':
      case 'fields':
      case 'infile':
        throw new ServerProtocolError(`unexpected packet in phase ${this.phase}`)
    }
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
    this.responding = false
    this.phase = 'first'
    this.left = 0
    this.rows = undefined
    this.seqShift = 0
    if (ok) entry.onSuccess?.()
    else entry.onFailure?.()
    if (entry.running !== undefined && entry.mask !== undefined && state.masking !== undefined)
      entry.running.masked = state.masking.auditMasked(entry.mask)
    if (entry.running !== undefined) state.audit.statementEvent(entry.running, entry.running)
    while (state.queue[0]?.kind === 'local') {
      const local = state.queue.shift() as Extract<Entry, {kind: 'local'}>
      this.produced.append(local.bytes)
    }
  }
}

/** Adds `shift` to the sequence id of each part of the packet `buf[start, end)` (in place). */
function shiftSeq(buf: Buffer, start: number, end: number, shift: number): void {
  for (let p = start; p + 4 <= end; p += 4 + buf.readUIntLE(p, 3))
    buf[p + 3] = ((buf[p + 3] as number) + shift) & 0xff
}

/** The column count a result set starts with: one byte in place, the rare longer forms read. */
function columnCount(buf: Buffer, start: number, end: number): number {
  const first = buf[start + 4] as number
  if (end - start === 5 && first < 0xfb) return first
  return new PayloadReader(payloadOf(buf, start, end)).lenenc()
}

/** The values of a text-protocol row (the proxy's own lookups: short rows of names). */
function textRow(payload: Buffer): (string | null)[] {
  const r = new PayloadReader(payload)
  const out: (string | null)[] = []
  while (r.remaining > 0) {
    if (payload[payload.length - r.remaining] === 0xfb) {
      r.int(1)
      out.push(null)
    } else out.push(r.bytes(r.lenenc()).toString('utf8'))
  }
  return out
}
