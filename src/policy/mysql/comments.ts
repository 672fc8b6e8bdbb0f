/**
 * Executable comments: which of them a server runs depends on whether it is MySQL or MariaDB and on
 * its version, which the analyzer does not know. So it reads the query once for every server that
 * could be on the other end and judges all readings (fail closed): content a server would run is
 * never missed, and content a server would skip cannot hide what follows it.
 */
import type {ExecComment, Token} from './lexer.js'

/** Which executable comments one reading runs, by index in `execComments`. */
export type Reading = readonly boolean[]

/** More readings than this means a query built to be expensive to analyze: refuse it. */
const MAX_READINGS = 16

/** Whether a MySQL server of `version` runs the comment (MySQL does not know `/*M!`). */
function mysqlRuns(c: ExecComment, version: number): boolean {
  if (c.mariadbOnly) return false
  return c.version === null || c.version <= version
}

/** Whether a MariaDB server of `version` runs the comment; it skips MySQL-only versions 5.7 to 9.x. */
function mariadbRuns(c: ExecComment, version: number): boolean {
  if (c.version === null) return true
  if (c.version > version) return false
  return c.mariadbOnly || c.version < 50700 || c.version > 99999
}

/**
 * The distinct readings of a query: for both servers, every version threshold that changes which
 * comments run. Returns null when there are too many.
 */
export function readings(comments: readonly ExecComment[]): readonly Reading[] | null {
  if (comments.length === 0) return [[]]
  const versions = [0, ...new Set(comments.map((c) => c.version ?? 0))].sort((a, b) => a - b)
  const seen = new Map<string, Reading>()
  for (const v of versions) {
    for (const runs of [mysqlRuns, mariadbRuns]) {
      const reading = comments.map((c) => runs(c, v))
      seen.set(reading.map((r) => (r ? '1' : '0')).join(''), reading)
    }
    if (seen.size > MAX_READINGS) return null
  }
  return [...seen.values()]
}

/** The tokens one reading sees: tokens of skipped comments dropped, leaving a gap in their place. */
export function tokensOf(tokens: readonly Token[], reading: Reading): readonly Token[] {
  if (!reading.some((r) => !r)) return tokens
  const out: Token[] = []
  let gap = false
  for (const t of tokens) {
    if (t.exec >= 0 && reading[t.exec] !== true) {
      gap = true
      continue
    }
    out.push(gap && !t.gap ? {...t, gap: true} : t)
    gap = false
  }
  return out
}
