import {readFileSync} from 'node:fs'

import {PolicyFileError, messageOf} from '../errors.js'
import {PolicyLanguageError, parsePolicy} from '../policy/language.js'
import type {Policy} from '../policy/types.js'

/** Reads and validates a policy file (YAML or JSON, told apart by content); throws PolicyFileError naming the file. */
export function readPolicyFile(file: string): Policy {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(err)
    throw new PolicyFileError(file, [{path: '', message: `cannot be read: ${reason}`}])
  }
  return parsePolicyText(text, file)
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
