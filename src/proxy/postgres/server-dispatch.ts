/**
 * The server → client dispatcher: forwards runs of raw frames, matches responses to the pipeline of
 * expected responses (so queued denials come out in order), and tracks the settings the guard depends
 * on. DataRows are never decoded; masking will hook RowDescription/DataRow here.
 */
import {Framer} from './framing.js'
import {Backend, ErrorField} from './messages.js'
import {Expect, completes, isExtended, type Entry} from './pipeline.js'
import type {RunWriter} from './run-writer.js'
import {rowsOfTag, type SessionState} from './session-state.js'
import {bodyOf, readErrorFields} from './wire.js'

/** What the server dispatcher needs from its session. */
export interface ServerDispatcherDeps {
  readonly state: SessionState
  readonly toClient: RunWriter
  readonly maxMessageBytes: number
  /** The server stream is broken: the session must end with this error. */
  readonly onFatal: (error: unknown) => void
}

/** Frames server messages and forwards them, keeping the session's bookkeeping. */
export class ServerDispatcher {
  private readonly framer: Framer

  constructor(private readonly deps: ServerDispatcherDeps) {
    this.framer = new Framer({maxMessageBytes: deps.maxMessageBytes}, {range: this.onMessage})
  }

  /** Feeds bytes from the server. */
  push(chunk: Buffer): void {
    try {
      this.framer.push(chunk)
    } catch (err) {
      this.deps.toClient.flush()
      this.deps.onFatal(err)
      return
    }
    this.deps.toClient.flush()
  }

  /** One server message, the range `buf[start, end)` of the chunk it was read in; all are forwarded. */
  private readonly onMessage = (type: number, buf: Buffer, start: number, end: number): boolean => {
    this.deps.toClient.forward(buf, start, end)
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
    this.deps.state.audit.statementEvent(entry.running, entry.running)
  }
}
