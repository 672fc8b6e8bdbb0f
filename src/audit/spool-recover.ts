/**
 * Opening a spool after a crash: list the segments, cut a torn record off the end of the last one (a
 * write the process never acknowledged), and recover the chain's last seq and hash from the tail.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  ftruncateSync,
} from 'node:fs'
import {join} from 'node:path'

import {EMPTY_CHAIN, type ChainState} from './chain.js'
import {parseSegmentName, scanFrames} from './spool-frame.js'

/** One segment file: the seqs it holds and its size in bytes (all of it durable). */
export interface Segment {
  readonly firstSeq: number
  lastSeq: number
  readonly path: string
  size: number
}

/** What opening a spool found. */
export interface Recovered {
  readonly segments: Segment[]
  readonly ackedSeq: number
  readonly state: ChainState
  /** What was cut from the tail, if anything: "<n> bytes (<why>)". */
  readonly dropped: string | undefined
}

/** Reads the acknowledged seq (0 when nothing was acknowledged yet). */
export function readAckedSeq(dir: string): number {
  let text: string
  try {
    text = readFileSync(join(dir, 'acked.json'), 'utf8')
  } catch {
    return 0
  }
  try {
    const doc = JSON.parse(text) as {seq?: unknown}
    return typeof doc.seq === 'number' && Number.isSafeInteger(doc.seq) && doc.seq >= 0 ? doc.seq : 0
  } catch {
    return 0
  }
}

/** Truncates a file to `size` and syncs it. */
function truncateDurably(path: string, size: number): void {
  const fd = openSync(path, 'r+')
  try {
    ftruncateSync(fd, size)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Recovers a spool directory. Only the newest segment can hold a torn record (older ones were complete
 * before the next was started), so only it is scanned and repaired; an empty newest segment is removed.
 */
export function recoverSpool(dir: string): Recovered {
  const segments: Segment[] = readdirSync(dir)
    .map((name) => ({name, first: parseSegmentName(name)}))
    .filter((s): s is {name: string; first: number} => s.first !== undefined)
    .sort((a, b) => a.first - b.first)
    .map(({name, first}) => {
      const path = join(dir, name)
      return {firstSeq: first, lastSeq: first - 1, path, size: statSync(path).size}
    })
  for (let i = 0; i < segments.length - 1; i++) {
    const seg = segments[i] as Segment
    seg.lastSeq = (segments[i + 1] as Segment).firstSeq - 1
  }
  const ackedSeq = readAckedSeq(dir)
  let dropped: string | undefined
  while (segments.length > 0) {
    const last = segments[segments.length - 1] as Segment
    const scan = scanFrames(readFileSync(last.path))
    if (scan.validBytes < last.size) {
      dropped = `${last.size - scan.validBytes} bytes (${scan.stopped ?? 'torn record'})`
      truncateDurably(last.path, scan.validBytes)
      last.size = scan.validBytes
    }
    const tail = scan.records[scan.records.length - 1]
    if (tail !== undefined) {
      last.lastSeq = tail.event.seq
      return {segments, ackedSeq, state: {lastSeq: tail.event.seq, lastHash: tail.hash}, dropped}
    }
    rmSync(last.path, {force: true})
    segments.pop()
  }
  return {segments, ackedSeq, state: EMPTY_CHAIN, dropped}
}
