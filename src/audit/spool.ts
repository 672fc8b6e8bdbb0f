/**
 * A local JSON-lines audit spool under the state directory (`<stateDir>/audit/events.jsonl`).
 * Events are buffered briefly and appended in batches so the proxy's hot path never waits on disk.
 */
import {createWriteStream, mkdirSync, type WriteStream} from 'node:fs'
import {join} from 'node:path'

import type {AuditEvent, AuditSink} from './types.js'

/** Options of the JSON-lines spool. */
export interface JsonlSpoolOptions {
  /** Flush at least this often (ms). */
  readonly flushMs?: number
  /** Flush as soon as this many bytes are buffered. */
  readonly flushBytes?: number
}

/** Appends events as JSON lines; `close()` flushes everything. */
export class JsonlSpool implements AuditSink {
  readonly file: string
  private readonly stream: WriteStream
  private buffer: string[] = []
  private bytes = 0
  private timer: NodeJS.Timeout | undefined
  private failed: Error | undefined
  private readonly flushMs: number
  private readonly flushBytes: number

  constructor(stateDir: string, options: JsonlSpoolOptions = {}) {
    const dir = join(stateDir, 'audit')
    mkdirSync(dir, {recursive: true, mode: 0o700})
    this.file = join(dir, 'events.jsonl')
    this.stream = createWriteStream(this.file, {flags: 'a', mode: 0o600})
    this.stream.on('error', (err) => {
      this.failed = err
    })
    this.flushMs = options.flushMs ?? 200
    this.flushBytes = options.flushBytes ?? 64 * 1024
  }

  /** The first write error, if the spool could not be written. */
  get error(): Error | undefined {
    return this.failed
  }

  /** Buffers one event. */
  write(event: AuditEvent): void {
    const line = `${JSON.stringify(event)}\n`
    this.buffer.push(line)
    this.bytes += line.length
    if (this.bytes >= this.flushBytes) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs)
  }

  /** Writes buffered events to the file. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.buffer.length === 0 || this.failed !== undefined) return
    this.stream.write(this.buffer.join(''))
    this.buffer = []
    this.bytes = 0
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    this.flush()
    await new Promise<void>((resolve) => this.stream.end(() => resolve()))
  }
}
