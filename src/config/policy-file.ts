import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {PolicyFileError, messageOf} from '../errors.js'
import {PolicyLanguageError, parsePolicy} from '../policy/language.js'
import type {Policy} from '../policy/types.js'

/** Reads and validates a policy file (YAML or JSON, told apart by content); throws PolicyFileError naming the file. */
export function readPolicyFile(file: string): Policy {
  return readVersionedPolicyFile(file).policy
}

/**
 * A policy file and its version for audit events: `file-sha256:` and the first 16 hex digits of the
 * SHA-256 of its bytes (what `sha256sum FILE` prints), read once so the two always agree.
 */
export function readVersionedPolicyFile(file: string): {policy: Policy; version: string} {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(err)
    throw new PolicyFileError(file, [{path: '', message: `cannot be read: ${reason}`}])
  }
  const version = `file-sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`
  return {policy: parsePolicyText(bytes.toString('utf8'), file), version}
}

/** Validates policy text that came from `file` (used in messages); throws PolicyFileError. */
export function parsePolicyText(text: string, file: string): Policy {
  try {
    return parsePolicy(text)
  } catch (err) {
    if (err instanceof PolicyLanguageError) throw new PolicyFileError(file, err.issues)
    throw err
  }
}
