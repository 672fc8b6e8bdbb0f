import {Args, Flags} from '@oclif/core'

import {describeApproval, showApproval} from '../../cli/approvals-service.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveSettings} from '../../config/index.js'
import type {ApprovalDetail} from '../../control/api-types.js'

export default class ApprovalsShow extends BaseCommand {
  static override description =
    'Show one approval request: statement, requester, rule, votes and every transition.'

  static override examples = [
    '<%= config.bin %> approvals show apr_Xc2...',
    '<%= config.bin %> approvals show apr_Xc2... --json',
  ]

  static override args = {id: Args.string({description: 'The request id (apr_...).', required: true})}

  static override flags = {
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Fetches and prints the request. */
  async run(): Promise<ApprovalDetail> {
    const {args, flags} = await this.parse(ApprovalsShow)
    const detail = await showApproval(
      {settings: resolveSettings({api: flags.api}), env: process.env},
      args.id,
    )
    if (!this.jsonEnabled()) this.log(describeApproval(detail))
    return detail
  }
}
