/**
 * A local JSON-lines audit spool under the state directory (`<stateDir>/audit/events.jsonl`).
 * Events are buffered briefly and serialised and appended in batches, after the I/O callback that
 * produced them: the proxy's hot path neither waits on disk nor pays for JSON per message.
 */
import {createWriteStream, mkdirSync, type WriteStream} from 'node:fs'
import {join} from 'node:path'

import {auditEventJson, type AuditEvent, type AuditSink} from './types.js'

/** Options of the JSON-lines spool. */
export interface JsonlSpoolOptions {
  /** Flush at least this often (ms). */
  readonly flushMs?: number
  /** Flush (after the current I/O callback) as soon as this many events are buffered. */
  readonly flushEvents?: number
}

/** Appends events as JSON lines; `close()` flushes everything. */
export class JsonlSpool implements AuditSink {
  readonly file: string
  private readonly stream: WriteStream
  private buffer: AuditEvent[] = []
  private timer: NodeJS.Timeout | undefined
  private immediate: NodeJS.Immediate | undefined
  private failed: Error | undefined
  private readonly flushMs: number
  private readonly flushEvents: number

  constructor(stateDir: string, options: JsonlSpoolOptions = {}) {
    const dir = join(stateDir, 'audit')
    mkdirSync(dir, {recursive: true, mode: 0o700})
    this.file = join(dir, 'events.jsonl')
    this.stream = createWriteStream(this.file, {flags: 'a', mode: 0o600})
    this.stream.on('error', (err) => {
      this.failed = err
    })
    this.flushMs = options.flushMs ?? 200
    this.flushEvents = options.flushEvents ?? 256
  }

  /** The first write error, if the spool could not be written. */
  get error(): Error | undefined {
    return this.failed
  }

  /** Buffers one event (events are not copied: callers hand over objects they no longer change). */
  write(event: AuditEvent): void {
    if (this.failed !== undefined) return
    this.buffer.push(event)
    if (this.buffer.length >= this.flushEvents) this.immediate ??= setImmediate(this.flush)
    else this.timer ??= setTimeout(this.flush, this.flushMs)
  }

  /** Serialises buffered events and appends them to the file. */
  readonly flush = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.timer = undefined
    this.immediate = undefined
    const events = this.buffer
    if (events.length === 0 || this.failed !== undefined) return
    this.buffer = []
    this.stream.write(encodeLines(events))
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    this.flush()
    await new Promise<void>((resolve) => this.stream.end(() => resolve()))
  }
}

/** Events as UTF-8 JSON lines, each line written straight into one buffer (no giant string to flatten). */
function encodeLines(events: readonly AuditEvent[]): Buffer {
  let out = Buffer.allocUnsafe(Math.max(4096, events.length * 640))
  let off = 0
  for (const e of events) {
    const line = auditEventJson(e)
    const need = line.length * 3 + 1
    if (off + need > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, off + need))
      out.copy(bigger, 0, 0, off)
      out = bigger
    }
    off += out.write(line, off, 'utf8')
    out[off++] = 0x0a
  }
  return out.subarray(0, off)
}
