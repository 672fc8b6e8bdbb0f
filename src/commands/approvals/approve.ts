import {Args, Flags} from '@oclif/core'

import {decideApproval} from '../../cli/approvals-service.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveSettings} from '../../config/index.js'
import type {ApprovalInfo} from '../../control/api-types.js'

export default class ApprovalsApprove extends BaseCommand {
  static override description =
    'Approve a request (never your own). When a rule needs several approvers, each approves once; the grant exists after the last.'

  static override examples = [
    '<%= config.bin %> approvals approve apr_Xc2...',
    '<%= config.bin %> approvals approve apr_Xc2... --comment "checked with the on-call DBA"',
  ]

  static override args = {id: Args.string({description: 'The request id (apr_...).', required: true})}

  static override flags = {
    comment: Flags.string({description: 'Why (kept with the decision and in the audit trail).'}),
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** What this command records; `approvals deny` is this command with `deny`. */
  protected readonly decision: 'approve' | 'deny' = 'approve'

  /** Records the decision as the logged-in identity. */
  async run(): Promise<ApprovalInfo> {
    const {args, flags} = await this.parse(ApprovalsApprove)
    const ctx = {settings: resolveSettings({api: flags.api}), env: process.env}
    const info = await decideApproval(ctx, args.id, this.decision, flags.comment)
    const count = info.votes.filter((v) => v.decision === 'approve').length
    this.status(
      info.status === 'pending'
        ? `Recorded: ${count} of ${info.settings.approvers} approvals for ${info.id}.`
        : `Request ${info.id} is now ${info.status}.`,
    )
    return info
  }
}
