import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {parseWhen, verifyTrail, type AuditVerifyResult} from '../../cli/audit-service.js'
import {resolveSettings} from '../../config/index.js'
import {DbgateError} from '../../errors.js'

export default class AuditVerify extends BaseCommand {
  static override description =
    "Check the signatures and chains of the stored audit trail and of every approval request's transitions (auditor or admin) and of this machine's spool; names every missing, altered, out-of-order, replayed or forged record."

  static override examples = [
    '<%= config.bin %> audit verify',
    '<%= config.bin %> audit verify --since 7d --json',
    "<%= config.bin %> audit verify --local   # standalone: only this machine's spools, no login needed",
  ]

  static override flags = {
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
    local: Flags.boolean({
      description: "Check only this machine's spools (standalone mode: no control plane, no login).",
    }),
    since: Flags.string({
      description: 'Check only events (and incidents) from this time on (30m, 2h, 7d or ISO 8601).',
    }),
  }

  /** Verifies and prints one line per problem; fails (exit 1) when anything is wrong. */
  async run(): Promise<AuditVerifyResult> {
    const {flags} = await this.parse(AuditVerify)
    const settings = resolveSettings({api: flags.api})
    const result = await verifyTrail(settings, parseWhen('since', flags.since, Date.now()), flags.local)
    if (!this.jsonEnabled()) {
      const s = result.server
      if (s !== null) {
        const a = s.approvals
        this.log(
          `server: ${s.ok ? 'ok' : 'PROBLEMS'}: ${s.verified} events of ${s.devices} devices verified, ` +
            `${a.transitions} transitions of ${a.requests} approval requests`,
        )
        for (const p of s.problems) this.log(`  ${p}`)
      }
      this.log(`local spool: ${result.local.ok ? 'ok' : 'PROBLEMS'}: ${result.local.events} events`)
      for (const p of result.local.problems) this.log(`  ${p}`)
    }
    if (!result.ok && !this.jsonEnabled())
      throw new DbgateError('E_AUDIT_VERIFY_FAILED', 'the audit trail has problems (listed above)')
    return result
  }
}
