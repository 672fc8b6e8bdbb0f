/**
 * Spool lanes: one chain per running dbgate process. Two proxies on one machine (a `dbgate connect` and a
 * `dbgate exec`) must not append to the same chain, or their seqs would fork; each process takes the first
 * free lane (a lock file holding its pid) and keeps it until it exits. A lane left by a killed process is
 * taken over by the next one, which continues its chain and uploads what it left.
 */
import {closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync} from 'node:fs'
import {join} from 'node:path'

import {AuditSpoolUnavailableError} from './errors.js'

/** At most this many dbgate processes spool at once on one machine. */
const MAX_LANES = 64

/** A lane this process holds. */
export interface Lane {
  /** 0 for the first lane. */
  readonly index: number
  /** Gives the lane back (idempotent). */
  release(): void
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function tryTake(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      try {
        writeSync(fd, String(process.pid))
      } finally {
        closeSync(fd)
      }
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let holder: number
    try {
      holder = Number(readFileSync(path, 'utf8').trim())
    } catch {
      continue
    }
    // A lock written but not yet filled reads as empty: its writer is alive, leave it.
    if (holder === 0 || alive(holder)) return false
    rmSync(path, {force: true})
  }
  return false
}

/** Takes the first free lane under `dir`; throws AuditSpoolUnavailableError when none is free. */
export function acquireLane(dir: string): Lane {
  for (let index = 0; index < MAX_LANES; index++) {
    const lane = takeLane(dir, index)
    if (lane !== undefined) return lane
  }
  throw new AuditSpoolUnavailableError(dir, `all ${MAX_LANES} spool lanes are held by running processes`)
}

/** Takes lane `index` under `dir` when no running process holds it; throws AuditSpoolUnavailableError. */
export function takeLane(dir: string, index: number): Lane | undefined {
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700})
  } catch (err) {
    throw new AuditSpoolUnavailableError(dir, (err as Error).message, err)
  }
  const path = join(dir, `lane-${index}.lock`)
  let taken: boolean
  try {
    taken = tryTake(path)
  } catch (err) {
    throw new AuditSpoolUnavailableError(dir, (err as Error).message, err)
  }
  if (!taken) return undefined
  let released = false
  const release = (): void => {
    if (released) return
    released = true
    process.off('exit', release)
    rmSync(path, {force: true})
  }
  process.on('exit', release)
  return {index, release}
}
