/**
 * Private JSON files under the config directory: 0600 files in a 0700 directory, replaced atomically
 * (write a temporary file, fsync, rename) so a crash never leaves half a token file.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, fsyncSync, closeSync} from 'node:fs'
import {dirname} from 'node:path'

import {DbgateError, messageOf} from '../errors.js'

/** Reads and parses a JSON file; undefined when it does not exist. */
export function readJsonFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new DbgateError('E_TOKEN_STORE', `Cannot read ${path}: ${messageOf(err)}`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new DbgateError('E_TOKEN_STORE', `${path} is not valid JSON.`, {
      suggestions: [`Delete ${path} and run \`dbgate login\` again.`],
    })
  }
}

/** Writes JSON to `path` atomically with mode 0600, creating its directory with mode 0700. */
export function writePrivateJsonFile(path: string, value: unknown): void {
  const dir = dirname(path)
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700})
    const fd = openSync(tmp, 'wx', 0o600)
    try {
      writeSync(fd, `${JSON.stringify(value, null, 2)}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, {force: true})
    throw new DbgateError('E_TOKEN_STORE', `Cannot write ${path}: ${messageOf(err)}`)
  }
  // The rename is durable only once the directory entry is on disk.
  try {
    const dfd = openSync(dir, 'r')
    try {
      fsyncSync(dfd)
    } finally {
      closeSync(dfd)
    }
  } catch {
    // Some file systems refuse to fsync a directory; the file itself is already safe.
  }
}

/** Deletes a file if it exists. */
export function removeFile(path: string): void {
  rmSync(path, {force: true})
}
