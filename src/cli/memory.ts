/**
 * Keeps a long result stream from piling up buffer memory. Each network read is a fresh buffer of up
 * to 64 KB outside V8's heap; the proxy makes so few JavaScript objects per read that V8's young
 * generation seldom collects, so dead read buffers accumulate until V8's external-memory threshold
 * (64 MB) and are then freed by a full mark-compact, which costs tens of milliseconds. A young-generation
 * collection once dead buffers pass a few MB frees them sooner and costs far less.
 *
 * A young-generation collection cannot free a buffer whose holder V8 has already moved to the old
 * generation (or allocated black during incremental marking). When minor collections keep leaving
 * buffer memory high, one full collection runs, and what it leaves is taken as live: later collections
 * run only when buffer memory grows past that floor, so sessions that really hold buffers (queued
 * output under backpressure) do not make the watcher collect on every tick.
 */
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'

/** Buffer memory (ArrayBuffers) above the live floor at which a young-generation collection runs. */
const RECLAIM_BYTES = 8 * 1024 * 1024
/** How often buffer memory is looked at (one process.memoryUsage() call). */
const CHECK_MS = 25
/** Ticks in a row still above the threshold after minor collections before a full collection runs. */
const MINOR_TRIES = 8

/** V8's gc(): a full collection without options (Node 20's V8 ignores {type: 'major'}), minor with it. */
type Collect = (options?: {type: 'minor'}) => void

let collect: Collect | null | undefined

/** V8's `gc` function, exposed at run time (as Jest does for --logHeapUsage); null when unavailable. */
function collector(): Collect | null {
  if (collect !== undefined) return collect
  try {
    setFlagsFromString('--expose-gc')
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null')
    collect = typeof gc === 'function' ? (gc as Collect) : null
  } catch {
    collect = null
  }
  return collect
}

/** Starts watching buffer memory while a listener is open; returns the function that stops it. */
export function startBufferReclaim(): () => void {
  const gc = collector()
  if (gc === null) return () => undefined
  /** Buffer memory a full collection left: live, not garbage. Read a tick later (V8 frees off-thread). */
  let floor = 0
  let misses = 0
  let measureFloor = false
  const timer = setInterval(() => {
    const bytes = process.memoryUsage().arrayBuffers
    if (measureFloor || bytes < floor) {
      floor = bytes
      measureFloor = false
    }
    if (bytes <= floor + RECLAIM_BYTES) {
      misses = 0
      return
    }
    if (misses < MINOR_TRIES) {
      misses++
      gc({type: 'minor'})
      return
    }
    misses = 0
    gc()
    measureFloor = true
  }, CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
