/**
 * What `dbgate audit search` and `dbgate audit verify` do: time parsing, the control-plane calls, and the
 * read-only check of the local spool (it never recovers or truncates: a proxy may be writing it).
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseSegmentName, scanFrames} from '../audit/spool-frame.js'
import {ChainVerifier, type VerifyReport} from '../audit/verify.js'
import {getAuthenticatedClient} from '../auth/session.js'
import type {Settings} from '../config/index.js'
import type {AuditSearchResponse, AuditVerifyResponse} from '../control/api-types.js'
import {searchAudit, verifyStoredAudit, type AuditSearchFilters} from '../control/audit.js'
import {UsageError} from '../errors.js'

const UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** `2h`, `30m`, `7d` (before `now`) or an ISO 8601 time → ISO 8601. */
export function parseWhen(flag: string, value: string | undefined, now: number): string | undefined {
  if (value === undefined) return undefined
  const rel = /^(\d+)([smhdw])$/.exec(value.trim())
  if (rel) return new Date(now - Number(rel[1]) * (UNITS[rel[2] as string] as number)).toISOString()
  const t = Date.parse(value)
  if (!Number.isFinite(t))
    throw new UsageError(`--${flag} "${value}" is neither a duration (2h, 7d) nor an ISO 8601 time.`)
  return new Date(t).toISOString()
}

/** Runs a search, following cursors until `limit` events are collected. */
export async function searchTrail(
  settings: Settings,
  filters: AuditSearchFilters,
  limit: number,
): Promise<AuditSearchResponse> {
  const {client} = await getAuthenticatedClient({...settings, env: process.env})
  const events: AuditSearchResponse['events'] = []
  let cursor: string | undefined
  for (;;) {
    const page = await searchAudit(client, {...filters, limit: Math.min(500, limit - events.length), cursor})
    events.push(...page.events)
    if (page.next_cursor === null || events.length >= limit) return {events, next_cursor: page.next_cursor}
    cursor = page.next_cursor
  }
}

/** The spool directories under a state directory: standalone lanes and device lanes (src/audit/trail.ts). */
function spoolDirs(stateDir: string): string[] {
  const audit = join(stateDir, 'audit')
  let names: string[]
  try {
    names = readdirSync(audit, {withFileTypes: true})
      .filter((d) => d.isDirectory() && d.name !== 'lanes' && d.name !== 'device-lanes')
      .map((d) => d.name)
  } catch {
    return []
  }
  return names.filter((n) => n === 'spool' || n.startsWith('spool-') || n.startsWith('device-')).sort()
}

/**
 * One spool directory's chain, read-only and a segment at a time (a segment is at most a few MiB; the
 * verifier keeps two hashes per event). A torn tail (a write in progress) is not a problem. With `since`
 * (ISO 8601), only events from then on are checked.
 */
function verifySpoolDir(dir: string, since: number | undefined): VerifyReport & {events: number} {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return {ok: true, verified: 0, problems: [], messages: [], events: 0}
  }
  const segments = names
    .map((name) => ({name, first: parseSegmentName(name)}))
    .filter((s): s is {name: string; first: number} => s.first !== undefined)
    .sort((a, b) => a.first - b.first)
  const verifier = new ChainVerifier()
  const unreadable: string[] = []
  let events = 0
  let firstSeq: number | undefined
  segments.forEach((s, i) => {
    const scan = scanFrames(readFileSync(join(dir, s.name)))
    for (const {event} of scan.records) {
      if (since !== undefined && Date.parse(event.time) < since) continue
      firstSeq ??= event.seq
      verifier.add(event)
      events++
    }
    // Only the newest segment may end in a torn record (a write in progress, or a crash before recovery).
    const torn = i === segments.length - 1 && /short|shorter/.test(scan.stopped ?? '')
    if (scan.stopped !== undefined && !torn)
      unreadable.push(`spool ${s.name}: unreadable from byte ${scan.validBytes} (${scan.stopped})`)
  })
  const report = verifier.finish({firstSeq: since === undefined ? segments[0]?.first : firstSeq})
  const messages = [...unreadable, ...report.messages]
  return {...report, ok: messages.length === 0, messages, events}
}

/** Every spool of this machine, each checked as its own chain; problems are prefixed by the spool's name. */
export function verifyLocalSpool(stateDir: string, since?: string): VerifyReport & {events: number} {
  const sinceMs = since === undefined ? undefined : Date.parse(since)
  const dirs = spoolDirs(stateDir)
  let events = 0
  let verified = 0
  const messages: string[] = []
  const problems: VerifyReport['problems'][number][] = []
  for (const name of dirs) {
    const r = verifySpoolDir(join(stateDir, 'audit', name), sinceMs)
    events += r.events
    verified += r.verified
    problems.push(...r.problems)
    // The first lane keeps the unprefixed lines it always had; other lanes name themselves.
    messages.push(...r.messages.map((m) => (name === 'spool' ? m : `${name}: ${m}`)))
  }
  return {ok: messages.length === 0, verified, problems, messages, events}
}

/** What `audit verify` reports. */
export interface AuditVerifyResult {
  ok: boolean
  /** null with --local: the control plane was not asked. */
  server: AuditVerifyResponse | null
  local: {ok: boolean; events: number; problems: string[]}
}

/** Verifies the stored trail (auditor or admin) and this machine's spools; `localOnly` needs no login. */
export async function verifyTrail(
  settings: Settings,
  since: string | undefined,
  localOnly = false,
): Promise<AuditVerifyResult> {
  let server: AuditVerifyResponse | null = null
  if (!localOnly) {
    const {client} = await getAuthenticatedClient({...settings, env: process.env})
    server = await verifyStoredAudit(client, since)
  }
  const local = verifyLocalSpool(settings.stateDir, since)
  return {
    ok: (server?.ok ?? true) && local.ok,
    server,
    local: {ok: local.ok, events: local.events, problems: [...local.messages]},
  }
}
