import {readFileSync} from 'node:fs'

import {Args, Flags} from '@oclif/core'
import ora from 'ora'

import {requestApproval, readStatement, waitForApproval} from '../cli/approvals-service.js'
import {BaseCommand} from '../cli/base-command.js'
import {agentName} from '../cli/target-session.js'
import {resolveSettings} from '../config/index.js'
import type {ApprovalInfo} from '../control/api-types.js'

export default class RequestApproval extends BaseCommand {
  static override description = `Ask for approval of a statement the policy sends to review.

The control plane judges the statement with your policy on TARGET, records the request (who, which statement, which rule, why) and notifies the approvers. Another identity with the approver role (or a group the rule names) approves it with "dbgate approvals approve ID" or on the request's page; you never approve your own. Once approved, run it with "dbgate exec TARGET --approval ID" (the exact statement; another one is refused). With --wait the command waits for the decision (a spinner on a terminal) and exits 0 when approved, 3 when denied, 1 when the request expired.`

  static override examples = [
    `<%= config.bin %> request-approval prod-pg --sql "delete from orders where id = 42" --reason "duplicate order, ticket OPS-1234"`,
    `<%= config.bin %> request-approval prod-pg --file fix.sql --reason "data fix" --wait && <%= config.bin %> exec prod-pg --file fix.sql --approval "$ID"`,
  ]

  static override args = {
    target: Args.string({description: 'Target name (see `dbgate targets`).', required: true}),
  }

  static override flags = {
    sql: Flags.string({description: 'The statement to approve.', exclusive: ['file']}),
    file: Flags.string({description: 'File with the statement to approve.'}),
    reason: Flags.string({description: 'Why it must run (shown to approvers).', required: true}),
    wait: Flags.boolean({description: 'Wait for the decision: exit 0 approved, 3 denied, 1 expired.'}),
    agent: Flags.string({description: 'Name of the AI agent acting for you.', env: 'DBGATE_AGENT'}),
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Creates the request, and waits for its decision with --wait. */
  async run(): Promise<ApprovalInfo> {
    const {args, flags} = await this.parse(RequestApproval)
    const sql = readStatement(flags.sql, flags.file, (f) => readFileSync(f, 'utf8'))
    const ctx = {settings: resolveSettings({api: flags.api}), env: process.env}
    const info = await requestApproval(ctx, {
      target: args.target,
      sql,
      reason: flags.reason,
      agent: agentName(flags.agent, process.env),
    })
    if (!this.jsonEnabled()) this.log(info.id)
    this.status(`Request ${info.id} created (rule ${info.rule ?? 'default action'}); approvers: ${info.url}`)
    if (!flags.wait) return info
    const spinner =
      process.stderr.isTTY && !this.jsonEnabled()
        ? ora({text: `Waiting for approval of ${info.id}`, stream: process.stderr}).start()
        : undefined
    try {
      const done = await waitForApproval(ctx, info.id)
      spinner?.succeed(`Request ${info.id} approved`)
      this.status(`Run it with: dbgate exec ${args.target} --approval ${info.id} (the same statement)`)
      return done
    } catch (err) {
      spinner?.fail(`Request ${info.id} was not approved`)
      throw err
    }
  }
}
