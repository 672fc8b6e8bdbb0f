import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {parseWhen, searchTrail} from '../../cli/audit-service.js'
import {formatTable} from '../../cli/output.js'
import {resolveSettings} from '../../config/index.js'
import type {AuditSearchResponse} from '../../control/api-types.js'

/** How a process is shown in one cell. */
function processCell(p: unknown): string {
  // Approval transitions carry the one line the proxy described the process with.
  if (typeof p === 'string') return p
  if (typeof p !== 'object' || p === null) return ''
  const proc = p as {
    found?: boolean
    exe?: string | null
    pid?: number
    reason?: string
    parents?: {exe?: string | null}[]
  }
  if (proc.found !== true) return `unknown (${proc.reason ?? 'not found'})`
  const name = (exe: string | null | undefined): string => (exe ?? '?').split('/').pop() ?? '?'
  const parent = proc.parents?.[0]
  return `${name(proc.exe)} (${proc.pid ?? '?'})${parent ? ` < ${name(parent.exe)}` : ''}`
}

export default class AuditSearch extends BaseCommand {
  static override description =
    'Search the audit trail, newest first, with the approval transitions (requested, notified, approved, denied, expired, used) as `review` events. Auditors and admins see everyone; users see their own events and requests.'

  static override examples = [
    '<%= config.bin %> audit search --since 2h',
    '<%= config.bin %> audit search --decision deny --target prod-pg',
    '<%= config.bin %> audit search --text "users ssn" --user alice@example.com --json',
  ]

  static override flags = {
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
    user: Flags.string({description: 'Only events of this identity: an email or a subject id.'}),
    target: Flags.string({description: 'Only events on this target.'}),
    table: Flags.string({description: 'Only statements touching this table (schema.table).'}),
    decision: Flags.string({description: 'Only this policy decision.', options: ['allow', 'deny', 'review']}),
    actor: Flags.string({description: 'Only this kind of actor.', options: ['human', 'agent', 'ci']}),
    since: Flags.string({description: 'From this time: a duration ago (30m, 2h, 7d) or ISO 8601.'}),
    until: Flags.string({description: 'Before this time: a duration ago or ISO 8601.'}),
    text: Flags.string({description: 'Words that must all occur in the statement (full-text search).'}),
    limit: Flags.integer({description: 'At most this many events.', default: 50, min: 1, max: 10_000}),
  }

  /** Runs the search and prints one line per event. */
  async run(): Promise<AuditSearchResponse> {
    const {flags} = await this.parse(AuditSearch)
    const settings = resolveSettings({api: flags.api})
    const now = Date.now()
    const result = await searchTrail(
      settings,
      {
        user: flags.user,
        target: flags.target,
        table: flags.table,
        decision: flags.decision as 'allow' | 'deny' | 'review' | undefined,
        actor: flags.actor as 'human' | 'agent' | 'ci' | undefined,
        since: parseWhen('since', flags.since, now),
        until: parseWhen('until', flags.until, now),
        text: flags.text,
      },
      flags.limit,
    )
    if (result.events.length === 0) this.status('No events match.')
    else if (!this.jsonEnabled()) {
      const rows = result.events.map(({event: e}) => [
        String(e.time),
        String(e.identity),
        String(e.actor),
        String(e.target),
        // An approval transition shows as `review: approved` (requested, notified, denied, expired, used).
        typeof e.approval_event === 'string' ? `review: ${e.approval_event}` : String(e.decision ?? e.type),
        processCell(e.process),
        Array.isArray(e.masked_columns) ? e.masked_columns.join(',') : '',
        typeof e.statement === 'string' ? e.statement : '',
      ])
      const cols = ['time', 'identity', 'actor', 'target', 'decision', 'process', 'masked', 'statement']
      if (process.stdout.isTTY) this.log(formatTable(cols, rows))
      else for (const r of rows) this.log(r.join('\t'))
    }
    return result
  }
}
