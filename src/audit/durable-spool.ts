/**
 * The durable audit spool: events are chained, framed and appended to segment files under
 * `<stateDir>/audit/spool/`. `write()` resolves once its record is written to the segment file (durability
 * `written`, the default: it survives the process being killed; an fdatasync follows in the background) or
 * once it is fdatasync'd (`synced`: it also survives an OS crash or power loss). Writes that arrive in the
 * same event-loop turn, or while a synced commit is running, are committed together (group commit), so a
 * busy proxy pays one write and at most one sync per burst, not one per statement. Segments are removed
 * only after the control plane acknowledged every event in them.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncate,
  mkdirSync,
  openSync,
  renameSync,
} from 'node:fs'
import {rmSync, writeFileSync, writeSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {messageOf} from '../errors.js'
import {EMPTY_CHAIN, HashChain, linked, type ChainState, type Linked} from './chain.js'
import {AuditSpoolFullError, AuditSpoolUnavailableError} from './errors.js'
import {
  canonicalChainedJson,
  fromAuditEvent,
  SessionText,
  type AuditEnrichment,
  type AuditEventBody,
  type ChainedEvent,
} from './event.js'
import {FrameBuilder, scanFrames, segmentName} from './spool-frame.js'
import {recoverSpool, type Segment} from './spool-recover.js'
import type {
  AuditEvent,
  AuditEventMembers,
  AuditSessionFacts,
  AuditSessionRecorder,
  AuditSink,
} from './types.js'

const datasyncAsync = promisify(fdatasync)
/**
 * `written` durability: background syncs start at most once per this many milliseconds (the default of
 * `syncIntervalMs`), as PostgreSQL's WAL writer flushes asynchronous commits every wal_writer_delay. Each
 * sync costs the proxy's thread tens of µs of CPU (the kernel's journal work is charged to the syncing
 * thread): at 10 ms between syncs they cost about 17 µs per transaction at eight clients (pgbench -S).
 * The interval bounds what an OS crash can lose: the events of about one interval and one sync.
 */
export const DEFAULT_SYNC_INTERVAL_MS = 100
const truncateAsync = promisify(ftruncate)

/**
 * When a write resolves: `written` once its record is in the segment file (write(2) done: a killed process
 * cannot lose it; an fdatasync follows in the background, at most one in flight), `synced` once the record
 * is fdatasync'd (an OS crash or power loss cannot lose it either).
 */
export type AuditDurability = 'written' | 'synced'

/** The durability modes, for flags and environment variables. */
export const AUDIT_DURABILITIES: readonly AuditDurability[] = ['written', 'synced']

/** Options of the durable spool. */
export interface DurableSpoolOptions {
  /** Bound on the bytes of unacknowledged segments; writes beyond it fail with AuditSpoolFullError. */
  readonly maxBytes?: number | undefined
  /** A segment is closed and a new one started once it reaches this size. */
  readonly segmentBytes?: number | undefined
  /** Session facts to add to the proxy's events (groups, agent, process, ...). */
  readonly enrich?: ((event: AuditEvent) => AuditEnrichment) | undefined
  /** false skips the sync (benchmarks only: a crash can then lose resolved writes). */
  readonly fsync?: boolean | undefined
  /** When a write resolves (default `written`). */
  readonly durability?: AuditDurability | undefined
  /**
   * `written` durability: the least time between the starts of two background syncs (ms, default
   * DEFAULT_SYNC_INTERVAL_MS); an OS crash can lose the events of about one interval and one sync.
   */
  readonly syncIntervalMs?: number | undefined
  /** The spool directory itself; `<stateDir>/audit/spool` when not given. */
  readonly dir?: string | undefined
  /**
   * Nothing uploads this spool (standalone mode): at the size bound, the oldest whole segments are
   * removed to make room (a retention limit) instead of refusing writes.
   */
  readonly keepNewest?: boolean | undefined
}

/** Room kept free under the size bound: below it, statements that write are refused before they run. */
const HEADROOM_BYTES = 64 * 1024

/** Told once an event is recorded (`err` undefined) or cannot be; `link` is given when it was asked for. */
type Settle = (err: Error | undefined, link: Linked | undefined) => void

/** A write waiting for its group commit. */
interface Pending {
  /** Its canonical text chained at `seq` after `prevHash`. */
  text(seq: number, prevHash: string): string
  /** Tells the writer its outcome (once). */
  settle(err: Error | undefined, link: Linked | undefined): void
  /** The body, when the writer wants the chained event back (append()); undefined otherwise. */
  readonly linkOf: AuditEventBody | undefined
}

/** A full event body (append(), and record() of events not from a session recorder). */
class BodyPending implements Pending {
  constructor(
    private readonly body: AuditEventBody,
    readonly settle: Settle,
    readonly linkOf: AuditEventBody | undefined,
  ) {}

  text(seq: number, prevHash: string): string {
    return canonicalChainedJson(this.body, seq, prevHash)
  }
}

/** An event of a session recorder: its members, written between the session's prepared runs. */
class MembersPending<M extends AuditEventMembers> implements Pending {
  readonly linkOf = undefined

  constructor(
    private readonly session: SessionText,
    private readonly members: M,
    private readonly done: (err: Error | undefined, members: M) => void,
  ) {}

  text(seq: number, prevHash: string): string {
    return this.session.chained(this.members, seq, prevHash)
  }

  settle(err: Error | undefined): void {
    this.done(err, this.members)
  }
}

/** Tells a writer its outcome; a writer's callback that throws must not stop the spool's commits. */
function settle(p: Pending, err: Error | undefined, link: Linked | undefined): void {
  try {
    p.settle(err, link)
  } catch {
    // The writer's own failure: the group's other writers and later commits go on.
  }
}

/** The default size bound: 256 MiB of events not yet acknowledged by the control plane. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024

/** The crash-safe, size-bounded, group-committed spool; implements the proxy's AuditSink. */
export class DurableSpool implements AuditSink {
  readonly dir: string
  private readonly maxBytes: number
  private readonly segmentBytes: number
  private readonly enrich: ((event: AuditEvent) => AuditEnrichment) | undefined
  private readonly sync: boolean
  /** `written` durability: writes resolve before their sync, which runs in the background. */
  private readonly background: boolean
  /** `written` durability: the least time between the starts of two background syncs (ms). */
  private readonly syncInterval: number
  /** When the last background sync started (performance.now()). */
  private lastSyncAt = -Infinity
  private readonly keepNewest: boolean
  private segments: Segment[] = []
  private fd: number | undefined
  private readonly chain: HashChain
  private ackedSeq = 0
  private pending: Pending[] = []
  /** Reused for every group: commits run one at a time and write it before their first await. */
  private readonly frames = new FrameBuilder()
  private flushing: Promise<void> | undefined
  /** The background fdatasync in flight (`written` durability), if any. */
  private syncing: Promise<void> | undefined
  /** The pause before the next background sync, if one is waiting (`written` durability). */
  private paced: NodeJS.Timeout | undefined
  /** The last seq known to be fdatasync'd: what the uploader may send. */
  private syncedSeq = 0
  private broken: AuditSpoolUnavailableError | undefined
  private closed = false
  /** Why bytes were dropped from the tail on open, if any were (a torn last record). */
  readonly recovered: string | undefined

  /** Opens (creating or recovering) the spool; never throws: an unusable spool rejects every write. */
  constructor(stateDir: string, options: DurableSpoolOptions = {}) {
    this.dir = options.dir ?? join(stateDir, 'audit', 'spool')
    this.maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    this.enrich = options.enrich
    this.sync = options.fsync ?? true
    this.background = this.sync && (options.durability ?? 'written') === 'written'
    this.syncInterval = Math.max(0, options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS)
    this.keepNewest = options.keepNewest ?? false
    let state: ChainState = EMPTY_CHAIN
    try {
      mkdirSync(this.dir, {recursive: true, mode: 0o700})
      const r = recoverSpool(this.dir)
      this.segments = r.segments
      this.ackedSeq = r.ackedSeq
      state = r.state
      this.recovered = r.dropped
      // A process killed in `written` durability may have left records the kernel has not synced yet.
      const last = r.segments[r.segments.length - 1]
      if (last !== undefined) syncFile(last.path)
    } catch (err) {
      this.broken = new AuditSpoolUnavailableError(this.dir, messageOf(err), err)
    }
    this.chain = new HashChain(state)
    this.syncedSeq = state.lastSeq
  }

  /** Opens the spool, throwing AuditSpoolUnavailableError at once when it cannot be used. */
  static open(stateDir: string, options: DurableSpoolOptions = {}): DurableSpool {
    const spool = new DurableSpool(stateDir, options)
    if (spool.broken !== undefined) throw spool.broken
    return spool
  }

  /** Why the spool cannot be written, if it cannot. */
  get error(): AuditSpoolUnavailableError | undefined {
    return this.broken
  }

  /**
   * Why a statement that writes must be refused now, before it runs (its event could not be recorded):
   * the spool is unusable, or within 64 KiB of its size bound. Undefined when events can be recorded.
   */
  refusal(): Error | undefined {
    if (this.broken !== undefined) return this.broken
    if (this.closed) return new AuditSpoolUnavailableError(this.dir, 'the spool is closed')
    if (this.keepNewest) return undefined
    const bytes = this.bytes
    if (bytes + HEADROOM_BYTES > this.maxBytes) return new AuditSpoolFullError(bytes, this.maxBytes)
    return undefined
  }

  /** The last seq and hash written (in `written` durability, its sync may still be running). */
  get state(): ChainState {
    return this.chain.state
  }

  /** The last seq the control plane acknowledged. */
  get acknowledged(): number {
    return this.ackedSeq
  }

  /** Bytes of segments holding unacknowledged events: what counts against the size bound. */
  get bytes(): number {
    return this.segments.reduce((n, s) => (s.lastSeq > this.ackedSeq ? n + s.size : n), 0)
  }

  /**
   * Records one proxy event; resolves once it is written (or synced, per the durability), rejects with an
   * AuditSpool*Error otherwise.
   */
  write(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.record(event, (err) => (err === undefined ? resolve() : reject(err)))
    })
  }

  /**
   * The callback form of write(), for the proxy's hot path (no promise per statement): `done` is called
   * once, with undefined when the event is recorded, or with the AuditSpool*Error why it is not.
   */
  record(event: AuditEvent, done: (err: Error | undefined) => void): void {
    this.enqueue(new BodyPending(fromAuditEvent(event, this.enrich?.(event)), done, undefined))
  }

  /**
   * A recorder for one session's events: the facts they share are serialised once (SessionText), each
   * event then only its own members. Undefined when events are enriched (each through record()).
   */
  session(facts: AuditSessionFacts): AuditSessionRecorder | undefined {
    if (this.enrich !== undefined) return undefined
    return new SpoolSession((p) => this.enqueue(p), new SessionText(facts))
  }

  /** Chains and records one full event; resolves with the chained event once it is written (or synced). */
  append(body: AuditEventBody): Promise<ChainedEvent> {
    return new Promise((resolve, reject) => {
      const settle: Settle = (err, link) =>
        err === undefined ? resolve((link as Linked).event) : reject(err)
      this.enqueue(new BodyPending(body, settle, body))
    })
  }

  private enqueue(p: Pending): void {
    // Failures are told asynchronously too, so a writer never hears of its event inside its own call.
    const refused = this.closed
      ? new AuditSpoolUnavailableError(this.dir, 'the spool is closed')
      : this.broken
    if (refused !== undefined) return queueMicrotask(() => settle(p, refused, undefined))
    this.pending.push(p)
    // One commit per event-loop turn (or per sync, `synced`): what is recorded meanwhile goes into one write.
    // Measured against writing each record in place (`written`): grouping cost less CPU per transaction,
    // as several sessions' statements end in one turn under load.
    this.flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.drain())
  }

  /** Commits groups until nothing is pending. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending
      this.pending = []
      const committing = this.commit(group)
      if (committing !== undefined) await committing
    }
    this.flushing = undefined
  }

  /**
   * Chains a group, writes it as one append, syncs once (or starts a background sync), then settles it.
   * Synchronous (undefined) when nothing had to wait: `written` durability and no segment to rotate.
   */
  private commit(group: Pending[]): Promise<void> | undefined {
    if (this.broken !== undefined) {
      for (const p of group) settle(p, this.broken, undefined)
      return undefined
    }
    if (this.keepNewest) this.makeRoom()
    const before = this.chain.state
    const done: Pending[] = []
    const links: (Linked | undefined)[] = []
    const frames = this.frames
    frames.reset()
    let size = this.bytes
    let seq = before.lastSeq
    let hash = before.lastHash
    for (const p of group) {
      let canonical: string
      try {
        canonical = p.text(seq + 1, hash)
      } catch (err) {
        settle(p, err instanceof Error ? err : new TypeError(String(err)), undefined)
        continue
      }
      const next = frames.add(canonical)
      if (size + frames.lastBytes > this.maxBytes) {
        frames.drop(frames.lastBytes)
        settle(p, new AuditSpoolFullError(size, this.maxBytes), undefined)
        continue
      }
      size += frames.lastBytes
      const body = p.linkOf
      links.push(
        body === undefined ? undefined : linked({lastSeq: seq, lastHash: hash}, body, canonical, next),
      )
      seq++
      hash = next
      done.push(p)
    }
    this.chain.rewind({lastSeq: seq, lastHash: hash})
    if (done.length === 0) return undefined
    const failed = (err: unknown): void => {
      this.chain.rewind(before)
      const e = err instanceof AuditSpoolUnavailableError ? err : this.unavailable(err)
      for (const p of done) settle(p, e, undefined)
    }
    const settled = (): void => {
      for (let i = 0; i < done.length; i++) settle(done[i] as Pending, undefined, links[i])
    }
    let appending: Promise<void> | undefined
    try {
      appending = this.appendDurably(frames.bytes, before.lastSeq + 1, this.chain.state.lastSeq)
    } catch (err) {
      failed(err)
      return undefined
    }
    if (appending === undefined) {
      settled()
      return undefined
    }
    return appending.then(settled, failed)
  }

  /** Retention (keepNewest): removes the oldest whole segments while the spool is within 64 KiB of its bound. */
  private makeRoom(): void {
    while (this.segments.length > 1 && this.bytes + HEADROOM_BYTES > this.maxBytes) {
      const oldest = this.segments.find((seg) => seg.lastSeq > this.ackedSeq)
      if (oldest === undefined || oldest === this.segments[this.segments.length - 1]) return
      this.ack(oldest.lastSeq)
    }
  }

  private unavailable(err: unknown): AuditSpoolUnavailableError {
    return new AuditSpoolUnavailableError(this.dir, messageOf(err), err)
  }

  /**
   * Appends framed records to the active segment (rotating first if it is full); syncs them before
   * settling (`synced`) or starts a background sync (`written`). Undefined when it completed in place.
   */
  private appendDurably(bytes: Buffer, firstSeq: number, lastSeq: number): Promise<void> | undefined {
    const seg = this.openSegment()
    if (seg === undefined) return this.rotate(firstSeq).then((next) => this.appendTo(next, bytes, lastSeq))
    return this.appendTo(seg, bytes, lastSeq)
  }

  /** Writes framed records at the end of `seg` (the segment of this.fd), then syncs or schedules a sync. */
  private appendTo(seg: Segment, bytes: Buffer, lastSeq: number): Promise<void> | undefined {
    const fd = this.fd as number
    try {
      // A write into the page cache takes microseconds: done in place, it saves a thread-pool round trip
      // per group on the path every held result waits on. Only the sync goes to the thread pool.
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off)
    } catch (err) {
      // Nothing of this group is acknowledged: cut it off so the file ends on a whole record again.
      return truncateAsync(fd, seg.size).then(
        () => Promise.reject(err instanceof Error ? err : new Error(String(err))),
        () => {
          this.broken = this.unavailable(err)
          throw err
        },
      )
    }
    seg.size += bytes.length
    seg.lastSeq = lastSeq
    if (this.background) {
      this.startSync()
      this.prune()
      return undefined
    }
    if (!this.sync) {
      this.syncedSeq = lastSeq
      this.prune()
      return undefined
    }
    return datasyncAsync(fd).then(
      () => {
        this.syncedSeq = lastSeq
        this.prune()
      },
      (err: unknown) => {
        // After a failed sync the kernel may have dropped the pages: later syncs prove nothing. Stop.
        this.broken = this.unavailable(err)
        throw this.broken
      },
    )
  }

  /**
   * `written` durability: starts an fdatasync of what is written but not synced, unless one is in flight
   * or the last one started less than syncInterval ago (then a timer starts it when the interval is up),
   * so a written record waits at most about one interval and one sync to be synced.
   * A failed sync makes the spool unavailable, as in `synced` durability: later writes reject.
   */
  private startSync(): void {
    const fd = this.fd
    const upTo = this.chain.state.lastSeq
    if (
      this.syncing !== undefined ||
      this.paced !== undefined ||
      this.broken !== undefined ||
      fd === undefined
    )
      return
    if (upTo <= this.syncedSeq) return
    const wait = this.lastSyncAt + this.syncInterval - performance.now()
    if (wait > 0) {
      this.paced = setTimeout(() => {
        this.paced = undefined
        this.startSync()
      }, wait)
      this.paced.unref()
      return
    }
    this.lastSyncAt = performance.now()
    this.syncing = datasyncAsync(fd).then(
      () => {
        this.syncing = undefined
        if (upTo > this.syncedSeq) this.syncedSeq = upTo
        // What was written during the sync is synced by the next one, when the interval is up.
        this.startSync()
      },
      (err: unknown) => {
        this.syncing = undefined
        // After a failed sync the kernel may have dropped the pages: later syncs prove nothing. Stop.
        this.broken = this.unavailable(err)
      },
    )
  }

  /**
   * Starts a paced sync now and waits until no background sync is in flight (or, given `seq`, until it is
   * synced): everything written (up to `seq`) is synced, or the spool is broken.
   */
  private async settleSyncs(seq = Infinity): Promise<void> {
    while (this.syncedSeq < seq) {
      if (this.paced !== undefined) {
        clearTimeout(this.paced)
        this.paced = undefined
        this.lastSyncAt = -Infinity
        this.startSync()
      }
      if (this.syncing === undefined) return
      await this.syncing
    }
  }

  /** Removes every fully acknowledged segment but the newest (which carries the chain's last hash). */
  private prune(): void {
    // Segments are in seq order: when the oldest is not fully acknowledged, no other is (every commit asks).
    const oldest = this.segments[0]
    if (this.segments.length < 2 || oldest === undefined || oldest.lastSeq > this.ackedSeq) return
    const last = this.segments[this.segments.length - 1]
    const keep = this.segments.filter((s) => s === last || s.lastSeq > this.ackedSeq)
    for (const s of this.segments) if (!keep.includes(s)) rmSync(s.path, {force: true})
    this.segments = keep
  }

  /** The segment to append to, opened if needed; undefined when a new one must be started (rotate). */
  private openSegment(): Segment | undefined {
    const seg = this.segments[this.segments.length - 1]
    // A fully acknowledged segment is not appended to, so that it can go once its successor exists.
    const usable =
      seg !== undefined && (seg.size === 0 || (seg.size < this.segmentBytes && seg.lastSeq > this.ackedSeq))
    if (!usable) return undefined
    this.fd ??= openSync(seg.path, 'a', 0o600)
    return seg
  }

  /** Closes the active segment (once its background sync is done) and starts a new one at `firstSeq`. */
  private async rotate(firstSeq: number): Promise<Segment> {
    if (this.fd !== undefined) {
      // The background sync must finish on this fd before it is closed (or its number reused).
      await this.settleSyncs()
      if (this.broken !== undefined) throw this.broken
      closeSync(this.fd)
    }
    this.fd = undefined
    const seg = {firstSeq, lastSeq: firstSeq - 1, path: join(this.dir, segmentName(firstSeq)), size: 0}
    this.fd = openSync(seg.path, 'a', 0o600)
    syncDir(this.dir)
    this.segments.push(seg)
    return seg
  }

  /**
   * Yields the durable events the control plane has not acknowledged, oldest first, in runs of
   * consecutive seqs of at most `maxEvents` (the uploader signs each run as one batch).
   */
  async *unacknowledged(maxEvents = 500): AsyncGenerator<ChainedEvent[]> {
    let run: ChainedEvent[] = []
    // What is written now is uploaded once synced: sync it now rather than when the interval is up.
    await this.settleSyncs(this.chain.state.lastSeq)
    for (const seg of [...this.segments]) {
      if (seg.firstSeq > this.syncedSeq) break
      if (seg.lastSeq <= this.ackedSeq) continue
      let buf: Buffer
      try {
        buf = await readFile(seg.path)
      } catch {
        continue
      }
      for (const {event} of scanFrames(buf.subarray(0, seg.size)).records) {
        if (event.seq <= this.ackedSeq) continue
        // Only synced events leave the machine: after an OS crash the chain resumes from the synced tail.
        if (event.seq > this.syncedSeq) break
        const prev = run[run.length - 1]
        if (run.length >= maxEvents || (prev !== undefined && event.seq !== prev.seq + 1)) {
          yield run
          run = []
        }
        run.push(event)
      }
    }
    if (run.length > 0) yield run
  }

  /** Records that the control plane stored every event up to `lastSeq`; removes segments it fully covers. */
  ack(lastSeq: number): void {
    const seq = Math.min(lastSeq, this.chain.state.lastSeq)
    if (seq <= this.ackedSeq) return
    writeAtomically(join(this.dir, 'acked.json'), `${JSON.stringify({seq})}\n`)
    this.ackedSeq = seq
    this.prune()
  }

  /** Commits what is pending, waits for its sync, and closes the active segment; later writes reject. */
  async close(): Promise<void> {
    this.closed = true
    while (this.flushing !== undefined) await this.flushing
    await this.settleSyncs()
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

/** A session's recorder: its prepared text, and the spool's queue its events go to. */
class SpoolSession implements AuditSessionRecorder {
  constructor(
    private readonly enqueue: (p: Pending) => void,
    private readonly text: SessionText,
  ) {}

  record<M extends AuditEventMembers>(members: M, done: (err: Error | undefined, members: M) => void): void {
    this.enqueue(new MembersPending(this.text, members, done))
  }
}

/** Makes a new directory entry durable; some file systems refuse to sync a directory, which is harmless. */
export function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // The file's own data is synced regardless.
  }
}

/** fdatasyncs a file that exists. */
function syncFile(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Replaces a small file atomically: temporary file, sync, rename, sync the directory. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`
  writeFileSync(tmp, text, {mode: 0o600})
  const fd = openSync(tmp, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  syncDir(join(path, '..'))
}
