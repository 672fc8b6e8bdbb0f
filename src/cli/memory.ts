/**
 * Keeps a long result stream from piling up buffer memory. Each network read is a fresh buffer of up
 * to 64 KB outside V8's heap; the proxy makes so few JavaScript objects per read that V8's young
 * generation seldom collects, so dead read buffers accumulate until V8's external-memory threshold
 * (64 MB) and are then freed by a full mark-compact, which costs tens of milliseconds. A young-generation
 * collection once dead buffers pass a few MB frees them sooner and costs far less.
 */
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'

/** Buffer memory (ArrayBuffers) above which a young-generation collection runs. */
const RECLAIM_BYTES = 8 * 1024 * 1024
/** How often buffer memory is looked at (one process.memoryUsage() call). */
const CHECK_MS = 25

type Collect = (options: {type: 'minor'}) => void

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
  const timer = setInterval(() => {
    if (process.memoryUsage().arrayBuffers > RECLAIM_BYTES) gc({type: 'minor'})
  }, CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
