import ApprovalsApprove from './approve.js'

export default class ApprovalsDeny extends ApprovalsApprove {
  static override description = 'Deny a request: it can no longer be approved or used.'

  static override examples = [
    '<%= config.bin %> approvals deny apr_Xc2...',
    '<%= config.bin %> approvals deny apr_Xc2... --comment "not during the release freeze"',
  ]

  protected override readonly decision = 'deny'
}
