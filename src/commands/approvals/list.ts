import {Flags} from '@oclif/core'

import {APPROVAL_COLUMNS, approvalRow, listApprovals} from '../../cli/approvals-service.js'
import {BaseCommand} from '../../cli/base-command.js'
import {formatTable} from '../../cli/output.js'
import {resolveSettings} from '../../config/index.js'
import type {ApprovalsResponse, ApprovalStatus} from '../../control/api-types.js'

export default class ApprovalsList extends BaseCommand {
  static override description =
    'List approval requests: every request for approvers, auditors and admins; your own otherwise.'

  static override examples = [
    '<%= config.bin %> approvals list',
    '<%= config.bin %> approvals list --status pending --json',
  ]

  static override flags = {
    status: Flags.string({
      description: 'Only requests in this state.',
      options: ['pending', 'approved', 'denied', 'expired'],
    }),
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Lists the requests the caller may see. */
  async run(): Promise<ApprovalsResponse> {
    const {flags} = await this.parse(ApprovalsList)
    const ctx = {settings: resolveSettings({api: flags.api}), env: process.env}
    const approvals = await listApprovals(ctx, flags.status as ApprovalStatus | undefined)
    if (approvals.length === 0) this.status('No approval requests.')
    else if (!this.jsonEnabled()) this.log(formatTable(APPROVAL_COLUMNS, approvals.map(approvalRow)))
    return {approvals}
  }
}
