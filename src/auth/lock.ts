/**
 * A cross-process lock file for refreshing tokens. Refresh tokens rotate and the server revokes the whole
 * session when an old one is reused, so two dbgate processes must never refresh the same session at once.
 */
import {mkdirSync, openSync, closeSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {DbgateError} from '../errors.js'

/** A lock older than this is left over from a killed process. */
const STALE_MS = 30_000
const POLL_MS = 50

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function tryAcquire(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx', 0o600))
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  try {
    if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, {force: true})
  } catch {
    // Released between our open and stat: try again.
  }
  return false
}

/** Runs `fn` while holding `name`.lock in `dir`, waiting up to `timeoutMs` for another process to finish. */
export async function withLock<T>(
  dir: string,
  name: string,
  fn: () => Promise<T>,
  timeoutMs = 15_000,
): Promise<T> {
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const path = join(dir, `${name}.lock`)
  const deadline = Date.now() + timeoutMs
  while (!tryAcquire(path)) {
    if (Date.now() > deadline) {
      throw new DbgateError('E_LOCKED', `Another dbgate process holds ${path}.`, {
        suggestions: [`If no other dbgate is running, delete ${path}.`],
      })
    }
    await sleep(POLL_MS)
  }
  try {
    return await fn()
  } finally {
    rmSync(path, {force: true})
  }
}
