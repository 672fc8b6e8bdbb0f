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
    this.framer = new Framer({maxMessageBytes: deps.maxMessageBytes}, this.onMessage)
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

  private readonly onMessage = (type: number, frame: Buffer): boolean => {
    const out = this.deps.toClient
    switch (type) {
      case Backend.DataRow:
        out.forward(frame)
        return true
      case Backend.CommandComplete:
        out.forward(frame)
        this.commandComplete(frame)
        return true
      case Backend.ErrorResponse:
        out.forward(frame)
        this.error(frame)
        return true
      case Backend.ReadyForQuery:
        out.forward(frame)
        this.ready(frame)
        return true
      case Backend.ParameterStatus: {
        out.forward(frame)
        const r = bodyOf(frame)
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
        out.forward(frame)
        this.complete(type)
        return true
      default:
        out.forward(frame)
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

  private commandComplete(frame: Buffer): void {
    const head = this.deps.state.pipeline.peek()
    if (head?.running !== undefined) {
      const rows = rowsOfTag(frame)
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

  private ready(frame: Buffer): void {
    const s = this.deps.state
    s.txStatus = frame[5] ?? s.txStatus
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
