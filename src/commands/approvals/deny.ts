import {Args, Flags} from '@oclif/core'

import {decideApproval} from '../../cli/approvals-service.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveSettings} from '../../config/index.js'
import type {ApprovalInfo} from '../../control/api-types.js'

export default class ApprovalsDeny extends BaseCommand {
  static override description = 'Deny a request: it can no longer be approved or used.'

  static override examples = [
    '<%= config.bin %> approvals deny apr_Xc2...',
    '<%= config.bin %> approvals deny apr_Xc2... --comment "checked with the on-call DBA"',
  ]

  static override args = {id: Args.string({description: 'The request id (apr_...).', required: true})}

  static override flags = {
    comment: Flags.string({description: 'Why (kept with the decision and in the audit trail).'}),
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Records the decision as the logged-in identity. */
  async run(): Promise<ApprovalInfo> {
    const {args, flags} = await this.parse(ApprovalsDeny)
    const ctx = {settings: resolveSettings({api: flags.api}), env: process.env}
    const info = await decideApproval(ctx, args.id, 'deny', flags.comment)
    const count = info.votes.filter((v) => v.decision === 'approve').length
    this.status(
      info.status === 'pending'
        ? `Recorded: ${count} of ${info.settings.approvers} approvals for ${info.id}.`
        : `Request ${info.id} is now ${info.status}.`,
    )
    return info
  }
}
