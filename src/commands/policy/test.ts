import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {paint} from '../../cli/output.js'
import {
  DIALECTS,
  PolicyTester,
  formatDecision,
  readInputFile,
  type DecisionReport,
  type StatementContext,
} from '../../cli/policy-test.js'
import {readPolicyFile} from '../../config/policy-file.js'
import {ExitCode, UsageError} from '../../errors.js'
import {ACTORS} from '../../policy/types.js'

export default class PolicyTest extends BaseCommand {
  static override description = `Evaluate SQL against a policy file without a database.

Prints the decision (allow, deny or review), the rule that decided, and the operations the statement was split into. With --input, reads one JSON object per line ({"sql": ..., "dialect": ..., "actor": ..., "identity": ..., "groups": [...], "target": ..., "schema": ...}; fields other than "sql" default to the flags) and prints one JSON decision per line, in order. Exits 0 when every decision was computed, whatever it is (--exit-code makes deny exit 3 and review exit 4), 1 when an input line was bad, 2 for a bad policy file or bad flags.`

  static override examples = [
    `<%= config.bin %> policy test --policy policy.yaml --sql "drop table users"`,
    `<%= config.bin %> policy test --policy policy.yaml --sql "delete from orders" --actor agent --json`,
    `<%= config.bin %> policy test --policy policy.yaml --dialect mysql --schema shop --sql "update users set plan = 'pro'"`,
    `<%= config.bin %> policy test --policy policy.yaml --input statements.jsonl > decisions.jsonl`,
    `<%= config.bin %> policy test --policy policy.yaml --sql "truncate audit" --exit-code || echo blocked`,
  ]

  static override flags = {
    policy: Flags.string({description: 'Policy file (YAML or JSON).', required: true}),
    sql: Flags.string({
      description: 'The query to decide (may hold several statements).',
      exclusive: ['input'],
    }),
    input: Flags.string({description: 'A JSON Lines file of statements to decide, one object per line.'}),
    dialect: Flags.string({description: 'SQL dialect.', options: DIALECTS, default: 'postgres'}),
    actor: Flags.string({description: 'Who runs the statement.', options: ACTORS, default: 'human'}),
    identity: Flags.string({description: 'Identity running the statement, e.g. alice@example.com.'}),
    groups: Flags.string({description: 'Comma-separated groups of the identity.'}),
    target: Flags.string({description: 'Target name the statement runs against.'}),
    schema: Flags.string({
      description: 'Schema for unqualified table names (default: public for postgres, mysql for mysql).',
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
    const policy = readPolicyFile(flags.policy)
    const sc: StatementContext = {
      dialect: flags.dialect as StatementContext['dialect'],
      actor: flags.actor as StatementContext['actor'],
      identity: flags.identity,
      groups: flags.groups
        ?.split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
      target: flags.target,
      schema: flags.schema,
    }
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
