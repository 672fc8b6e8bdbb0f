/**
 * The server → client dispatcher: forwards runs of raw frames, matches responses to the pipeline of
 * expected responses (so queued denials come out in order), and tracks the settings the guard depends
 * on. A statement under masking rules gets its result sets planned at RowDescription (the server
 * is paused while the catalog is looked up) and its DataRows rewritten field by field; other
 * DataRows are never decoded.
 */
import type {ReadGate} from '../flow.js'
import {Framer, runOf} from './framing.js'
import {maskCopyOut, maskCopyData} from './mask-copy.js'
import {scrubError, scrubNotification, scrubParameterStatus} from './mask-errors.js'
import {ProducedOut} from '../produced-out.js'
import {readRowDescription} from './mask-rows.js'
import type {MaskStatement} from './mask-session.js'
import {Backend, ErrorField} from './messages.js'
import {Expect, completes, isExtended, type Entry} from './pipeline.js'
import type {RunWriter} from '../run-writer.js'
import {rowsOfTag, type SessionState} from './session-state.js'
import {bodyOf, readErrorFields} from './wire.js'

/** What the server dispatcher needs from its session. */
export interface ServerDispatcherDeps {
  readonly state: SessionState
  readonly toClient: RunWriter
  /** Held while a result set's masking plan waits for the catalog. */
  readonly serverGate: ReadGate
  readonly maxMessageBytes: number
  /** The server stream is broken: the session must end with this error. */
  readonly onFatal: (error: unknown) => void
}

/** Frames server messages and forwards them, keeping the session's bookkeeping. */
export class ServerDispatcher {
  private readonly framer: Framer
  private readonly produced: ProducedOut
  private stopped = false

  constructor(private readonly deps: ServerDispatcherDeps) {
    this.framer = new Framer({maxMessageBytes: deps.maxMessageBytes}, {range: this.onMessage})
    this.produced = new ProducedOut(deps.toClient)
  }

  /** Feeds bytes from the server. */
  push(chunk: Buffer): void {
    if (this.stopped) return
    this.produced.prepare(chunk.length)
    try {
      this.framer.push(chunk)
    } catch (err) {
      this.fail(err)
      return
    }
    this.flush()
  }

  /** Stops handling server bytes (the session is ending). */
  stop(): void {
    this.stopped = true
  }

  private flush(): void {
    this.produced.flush()
    this.deps.toClient.flush()
  }

  private fail(err: unknown): void {
    this.stopped = true
    this.flush()
    this.deps.onFatal(err)
  }

  /** One server message, the range `buf[start, end)` of the chunk it was read in. */
  private readonly onMessage = (type: number, buf: Buffer, start: number, end: number): boolean | number => {
    if (this.stopped) return false
    const head = this.deps.state.pipeline.peek()
    const m = head?.mask
    if (m !== undefined && head !== undefined) {
      const wait = this.masked(head, m, type, buf, start, end)
      if (wait === true || typeof wait === 'number') return wait
      if (wait !== false) {
        this.pause(wait, type, buf, start, end)
        return false
      }
    } else if (type === Backend.DataRow) {
      if (this.produced.pending) this.produced.flush()
      // The whole DataRows after it in the chunk go in the same run: framing resumes after them.
      const to = runOf(Backend.DataRow, buf, end, this.deps.maxMessageBytes)
      this.deps.toClient.forward(buf, start, to)
      return to === end ? true : to
    }
    if (type === Backend.NotificationResponse && this.deps.state.masking.readMasked) {
      // A payload can carry anything a statement read (pg_notify(c, email)).
      this.produced.append(scrubNotification(buf.subarray(start, end)))
      return true
    }
    if (this.produced.pending) this.produced.flush()
    this.deps.toClient.forward(buf, start, end)
    return this.track(type, buf, start, end)
  }

  /**
   * Masking of one message of a statement under masking rules: true when it was handled (rewritten
   * or swallowed, bookkeeping done), an offset in `buf` when the DataRows after it up to there were
   * handled too, false to forward it as usual, a Promise when the catalog must be read first (the
   * message is handled again after it settles).
   */
  private masked(
    head: Entry,
    m: MaskStatement,
    type: number,
    buf: Buffer,
    start: number,
    end: number,
  ): boolean | number | Promise<void> {
    const masking = this.deps.state.masking
    const pending = masking.ensureLineage(m)
    if (pending !== undefined) return pending
    switch (type) {
      case Backend.DataRow: {
        const rows = m.rows
        if (rows === undefined) return false
        // The rows that follow this one in the chunk go in the same run: framing resumes after them.
        const next = rows.rewriteRun(buf, start, this.deps.maxMessageBytes, this.produced)
        if (next >= end) return next
        return rows.rewrite(buf, start, end, this.produced)
      }
      case Backend.RowDescription: {
        const plan = masking.plan(m, readRowDescription(buf, start, end))
        if (plan instanceof Promise) return plan
        m.rows = plan
        if (!head.internal) return false
        // The proxy's own Describe before an Execute: the client did not ask for this answer.
        this.complete(type)
        return true
      }
      case Backend.NoData:
        if (!head.internal) return false
        this.complete(type)
        return true
      case Backend.CommandComplete:
      case Backend.EmptyQueryResponse:
      case Backend.PortalSuspended: {
        // A refused COPY already got its ErrorResponse: the rest of it is not the client's.
        const refused = m.copy?.refused === true
        masking.completed(m)
        if (!refused) return false
        this.complete(type)
        return true
      }
      case Backend.CopyDone:
        return m.copy?.refused === true
      case Backend.ErrorResponse:
      case Backend.NoticeResponse: {
        if (!masking.readsMasked(m)) return false
        const scrubbed = scrubError(buf.subarray(start, end))
        this.produced.append(scrubbed)
        if (type === Backend.ErrorResponse) this.error(scrubbed)
        return true
      }
      case Backend.ParameterStatus:
        // set_config('application_name', email, false) reports the value to the client.
        if (!masking.queryReadsMasked(m)) return false
        this.produced.append(scrubParameterStatus(buf.subarray(start, end)))
        return this.track(type, buf, start, end)
      case Backend.CopyOutResponse:
        return this.copyOut(m, buf, start, end)
      case Backend.CopyData:
        if (m.copy === undefined) return false
        this.produced.append(maskCopyData(m.copy, buf, start, end))
        return true
      default:
        return false
    }
  }

  private copyOut(m: MaskStatement, buf: Buffer, start: number, end: number): boolean {
    const masking = this.deps.state.masking
    const out = maskCopyOut(masking, m, buf.subarray(start, end))
    if (out.kind === 'plain') return false
    if (out.kind === 'masked') {
      m.copy = out.copy
      return false
    }
    // Binary COPY of a masked column cannot be masked: the client gets an error instead of the data.
    m.copy = out.copy
    this.produced.append(out.error)
    return true
  }

  /** Holds server reading until `wait` settles, then handles the held message and the rest. */
  private pause(wait: Promise<void>, type: number, buf: Buffer, start: number, end: number): void {
    this.flush()
    this.deps.serverGate.hold('decision')
    void wait.then(() => {
      if (this.stopped) return
      this.deps.serverGate.release('decision')
      try {
        if (this.onMessage(type, buf, start, end)) this.framer.resume()
      } catch (err) {
        this.fail(err)
        return
      }
      this.flush()
    })
  }

  /** Session bookkeeping of a forwarded message. */
  private track(type: number, buf: Buffer, start: number, end: number): boolean {
    switch (type) {
      case Backend.DataRow:
        return true
      case Backend.CommandComplete:
        this.commandComplete(buf, start, end)
        return true
      case Backend.ErrorResponse:
        this.error(buf.subarray(start, end))
        return true
      case Backend.ReadyForQuery:
        this.ready(end > start + 5 ? buf[start + 5] : undefined)
        return true
      case Backend.ParameterStatus: {
        const r = bodyOf(buf.subarray(start, end))
        this.deps.state.parameterStatus(r.cstring(), r.cstring())
        return true
      }
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
      case Backend.RowDescription:
      case Backend.NoData:
      case Backend.EmptyQueryResponse:
      case Backend.PortalSuspended:
        this.complete(type)
        return true
      default:
        return true
    }
  }

  private complete(type: number): void {
    const s = this.deps.state
    const head = s.pipeline.peek()
    if (head === undefined || !completes(head.expect, type)) return
    s.pipeline.shift()
    if (head.expect === Expect.Execute) this.finish(head)
    s.drainInjects()
  }

  private commandComplete(buf: Buffer, start: number, end: number): void {
    const head = this.deps.state.pipeline.peek()
    if (head?.running !== undefined) {
      const rows = rowsOfTag(buf, start, end)
      if (rows !== null) head.running.rows = (head.running.rows ?? 0) + rows
    }
    this.complete(Backend.CommandComplete)
  }

  private error(frame: Buffer): void {
    const s = this.deps.state
    s.masking.failed()
    const head = s.pipeline.peek()
    if (head === undefined) return
    if (head.running !== undefined)
      head.running.error = readErrorFields(frame).get(ErrorField.Message) ?? 'error'
    if (!isExtended(head.expect)) return
    // The server now skips to the next Sync: nothing before it gets a response, queued denials included.
    s.pipeline.shift()
    this.finish(head)
    for (
      let next = s.pipeline.peek();
      next !== undefined && next.expect !== Expect.Sync;
      next = s.pipeline.peek()
    )
      s.pipeline.shift()
  }

  private ready(status: number | undefined): void {
    const s = this.deps.state
    s.txStatus = status ?? s.txStatus
    s.masking.ready(status)
    // Entries still ahead of the one this answers were skipped by the server after an error.
    for (let head = s.pipeline.shift(); head !== undefined; head = s.pipeline.shift()) {
      if (
        head.expect === Expect.Sync ||
        head.expect === Expect.Query ||
        head.expect === Expect.FunctionCall
      ) {
        this.finish(head)
        break
      }
    }
    s.drainInjects()
  }

  private finish(entry: Entry): void {
    if (entry.running === undefined) return
    const m = entry.mask
    if (m !== undefined && (m.masked.size > 0 || m.fired.size > 0))
      entry.running.masked = [...m.masked, ...[...m.fired].map((r) => `*:${r}`)]
    this.deps.state.audit.statementEvent(entry.running, entry.running)
  }
}
