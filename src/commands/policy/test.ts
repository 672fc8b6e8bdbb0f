import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {paint} from '../../cli/output.js'
import {
  DIALECTS,
  PolicyTester,
  formatDecision,
  readInputFile,
  targetDialect,
  type DecisionReport,
  type StatementContext,
} from '../../cli/policy-test.js'
import {agentName, fetchTargetBundle} from '../../cli/target-session.js'
import {resolveSettings} from '../../config/index.js'
import {readPolicyFile} from '../../config/policy-file.js'
import {ExitCode, UsageError} from '../../errors.js'
import {ACTORS, type Policy} from '../../policy/types.js'

export default class PolicyTest extends BaseCommand {
  static override description = `Evaluate SQL against a policy file, or the policy a target would get, without a database.

With --policy, decides against that file (--target, --identity, --groups and --actor only set the context). Without --policy, --target T asks the control plane for the signed policy bundle a session on T would get now (logged in, or with DBGATE_TOKEN), verifies it, and decides against it with the identity, groups and actor the bundle states (--agent NAME asks for an agent's bundle); for a MySQL/MariaDB target the dialect defaults to mysql and unqualified tables to the target's database.

Prints the decision (allow, deny or review), the rule that decided, and the operations the statement was split into. With --input, reads one JSON object per line ({"sql": ..., "dialect": ..., "actor": ..., "identity": ..., "groups": [...], "target": ..., "schema": ...}; fields other than "sql" default to the flags) and prints one JSON decision per line, in order. Exits 0 when every decision was computed, whatever it is (--exit-code makes deny exit 3 and review exit 4), 1 when an input line was bad, 2 for a bad policy file or bad flags.`

  static override examples = [
    `<%= config.bin %> policy test --policy policy.yaml --sql "drop table users"`,
    `<%= config.bin %> policy test --target prod-pg --sql "delete from orders where id = 7" --json`,
    `<%= config.bin %> policy test --policy policy.yaml --sql "delete from orders" --actor agent --json`,
    `<%= config.bin %> policy test --policy policy.yaml --dialect mysql --schema shop --sql "update users set plan = 'pro'"`,
    `<%= config.bin %> policy test --policy policy.yaml --input statements.jsonl > decisions.jsonl`,
    `<%= config.bin %> policy test --policy policy.yaml --sql "truncate audit" --exit-code || echo blocked`,
  ]

  static override flags = {
    policy: Flags.string({
      description: 'Policy file (YAML or JSON); without it, --target asks the control plane.',
    }),
    api: Flags.string({
      description: 'Control plane URL, with --target (default: DBGATE_API, config.yaml, or the last login).',
    }),
    agent: Flags.string({
      description: "With --target: the agent's bundle (actor agent).",
      env: 'DBGATE_AGENT',
    }),
    sql: Flags.string({
      description: 'The query to decide (may hold several statements).',
      exclusive: ['input'],
    }),
    input: Flags.string({description: 'A JSON Lines file of statements to decide, one object per line.'}),
    dialect: Flags.string({
      description:
        'SQL dialect (default: mysql for a MySQL/MariaDB target from the control plane, else postgres).',
      options: DIALECTS,
    }),
    actor: Flags.string({description: 'Who runs the statement.', options: ACTORS, default: 'human'}),
    identity: Flags.string({description: 'Identity running the statement, e.g. alice@example.com.'}),
    groups: Flags.string({description: 'Comma-separated groups of the identity.'}),
    target: Flags.string({
      description:
        'Target name the statement runs against; without --policy, its bundle from the control plane.',
    }),
    schema: Flags.string({
      description:
        "Schema for unqualified table names (default: public for postgres; for mysql the target's database from the control plane, else mysql).",
    }),
    'exit-code': Flags.boolean({description: 'Exit 3 when the decision is deny and 4 when it is review.'}),
  }

  /** Set once data has been written to stdout, so oclif does not print a second JSON document. */
  private streamed = false

  /** Decides the statement(s) and prints the decision(s). */
  async run(): Promise<DecisionReport | undefined> {
    const {flags} = await this.parse(PolicyTest)
    if (flags.sql === undefined && flags.input === undefined) {
      throw new UsageError('Give the statement with --sql, or a JSON Lines file with --input.')
    }
    const {policy, sc} = await this.policyAndContext(flags)
    const tester = await PolicyTester.create(policy)
    if (flags.input !== undefined) {
      const reports = tester.decideLines(readInputFile(flags.input), sc)
      this.streamed = true
      process.stdout.write(reports.map((r) => JSON.stringify(r) + '\n').join(''))
      const bad = reports.filter((r) => 'error' in r)
      if (bad.length > 0) {
        this.logToStderr(`${bad.length} of ${reports.length} input lines could not be decided.`)
        this.exit(ExitCode.error)
      }
      return undefined
    }
    const report = tester.decide(flags.sql ?? '', sc)
    const code = flags['exit-code'] ? exitCodeOf(report) : ExitCode.ok
    if (!this.jsonEnabled()) this.log(formatDecision(report, paint))
    if (code === ExitCode.ok) return report
    if (this.jsonEnabled()) this.logJson(report)
    this.streamed = true
    this.exit(code)
  }

  /** The policy to decide against and the context: the file and the flags, or the target's bundle. */
  private async policyAndContext(flags: {
    policy?: string | undefined
    target?: string | undefined
    api?: string | undefined
    agent?: string | undefined
    dialect?: string | undefined
    actor: string
    identity?: string | undefined
    groups?: string | undefined
    schema?: string | undefined
  }): Promise<{policy: Policy; sc: StatementContext}> {
    if (flags.policy !== undefined) {
      const dialect = (flags.dialect ?? 'postgres') as StatementContext['dialect']
      const groups = flags.groups
        ?.split(',')
        .map((g) => g.trim())
        .filter((g) => g !== '')
      const actor = flags.actor as StatementContext['actor']
      const {identity, target, schema} = flags
      return {policy: readPolicyFile(flags.policy), sc: {dialect, actor, identity, groups, target, schema}}
    }
    if (flags.target === undefined)
      throw new UsageError('Give a policy file with --policy, or a target with --target (logged in).')
    const settings = resolveSettings({api: flags.api})
    const agent = agentName(flags.agent, process.env)
    const {payload, policy, summary} = await fetchTargetBundle({
      target: flags.target,
      agent,
      settings,
      env: process.env,
    })
    this.status(
      `Policy "${payload.policy_name}" (${payload.policy_version}) for ${payload.target}, as ${payload.identity} (actor ${payload.actor}).`,
    )
    const {dialect, schema} = targetDialect(summary, flags)
    const sc: StatementContext = {
      dialect,
      actor: payload.actor,
      identity: payload.identity,
      groups: payload.groups,
      target: payload.target,
      schema,
    }
    return {policy, sc}
  }

  protected override logJson(json: unknown): void {
    if (!this.streamed) super.logJson(json)
  }
}

function exitCodeOf(report: DecisionReport): ExitCode {
  switch (report.decision) {
    case 'deny':
      return ExitCode.denied
    case 'review':
      return ExitCode.approvalRequired
    case 'allow':
      return ExitCode.ok
  }
}
