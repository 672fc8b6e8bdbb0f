/** Reading the events a proxy spooled, for tests: every lane's segments, in seq order. */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ChainedEvent} from '../../src/audit/event.js'
import {parseSegmentName, scanFrames} from '../../src/audit/spool-frame.js'

/** The events of one spool directory, oldest first. */
export function readSpoolDir(dir: string): ChainedEvent[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((n) => parseSegmentName(n) !== undefined)
    .sort()
    .flatMap((n) => scanFrames(readFileSync(join(dir, n))).records.map((r) => r.event))
}

/** The events of every spool (standalone and device lanes) under a state directory. */
export function readSpooledEvents(stateDir: string): ChainedEvent[] {
  const audit = join(stateDir, 'audit')
  if (!existsSync(audit)) return []
  return readdirSync(audit)
    .filter((n) => n === 'spool' || n.startsWith('spool-') || n.startsWith('device-'))
    .filter((n) => !n.endsWith('lanes'))
    .flatMap((n) => readSpoolDir(join(audit, n)))
}
