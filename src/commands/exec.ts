import {readFileSync} from 'node:fs'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {sessionFlags, targetArg} from '../cli/proxy-flags.js'
import {
  EXEC_FORMATS,
  execSql,
  execThrough,
  renderResults,
  type ExecFormat,
  type ExecResult,
} from '../cli/exec-service.js'
import {agentName, proxyMode, startTargetProxy, withTargetSession} from '../cli/target-session.js'
import {resolveSettings, type Settings} from '../config/index.js'
import {UsageError, messageOf} from '../errors.js'

export default class Exec extends BaseCommand {
  static override description = `Run SQL through the guard once, for scripts and CI.

With TARGET (logged in, or with DBGATE_TOKEN for CI), the control plane mints a short-lived database user for this run and signs the policy that applies to you; the user is revoked when the statements are done, and no database password is needed anywhere. With --url and --policy, runs standalone against a URL and a local policy file. A machine token's runs have actor "ci"; --agent NAME (or DBGATE_AGENT) makes the actor "agent" acting for the logged-in user. The statements go through the same guarded engine as "dbgate connect". Several statements may be given; each result is printed in order (json: one JSON array of row objects per line). Exit codes: 0 ok, 1 SQL error (the server's message is shown) or target unknown or not allowed (the message lists yours), 2 usage, 3 denied by policy (the message names the rule), 4 approval required (a request was created, or the --approval grant does not fit: the message says why), 5 not logged in, 6 database unreachable. Every flag can also be set through its DBGATE_* environment variable. Audit events are written to the local spool before each result is released: DBGATE_AUDIT_DURABILITY=synced also waits for the disk, and DBGATE_AUDIT_SYNC_MS (default 100) paces the background disk syncs of the default.`

  static override examples = [
    `<%= config.bin %> exec prod-pg --sql "select id, email from users limit 5"`,
    `DBGATE_TOKEN=dbg_mt_... <%= config.bin %> exec prod-pg --api https://dbgate.example.com --file migrate-check.sql --format json`,
    `<%= config.bin %> exec prod-pg --agent claude --sql "select count(*) from orders"`,
    `<%= config.bin %> exec prod-pg --approval apr_Xc2... --sql "delete from orders where id = 42"`,
    `<%= config.bin %> exec --url postgres://app:secret@db.internal/shop --policy policy.yaml --sql "select id, email from users limit 5"`,
    `<%= config.bin %> exec --url mysql://app:secret@db.internal:3306/shop --policy policy.yaml --sql "show tables"`,
    `<%= config.bin %> exec --url postgres://app:secret@db.internal/shop --policy policy.yaml --file report.sql --format csv > report.csv`,
    `echo "select count(*) from orders" | <%= config.bin %> exec --url postgres://app:secret@db.internal/shop --policy policy.yaml --format json`,
  ]

  static override args = {target: targetArg}

  static override flags = {
    ...sessionFlags,
    sql: Flags.string({description: 'SQL to run (one or several statements).', exclusive: ['file']}),
    file: Flags.string({description: 'File with the SQL to run.'}),
    approval: Flags.string({
      description:
        'Run a statement that needs approval with the grant of this approved request (`dbgate request-approval`); the SQL must be the approved statement.',
    }),
    format: Flags.string({
      description: 'Output format.',
      options: EXEC_FORMATS,
      default: 'table',
      env: 'DBGATE_FORMAT',
    }),
    'max-message-bytes': Flags.integer({
      description: 'Largest protocol message accepted.',
      env: 'DBGATE_MAX_MESSAGE_BYTES',
      min: 1024,
    }),
  }

  /** Runs the SQL and prints the results. */
  async run(): Promise<ExecResult> {
    const {args, flags} = await this.parse(Exec)
    const mode = proxyMode(args.target, flags.url, flags.policy)
    if (flags.approval !== undefined && mode.kind !== 'target')
      throw new UsageError('--approval needs a TARGET: approvals live on the control plane.')
    const sql = await readSql(flags.sql, flags.file)
    const settings = resolveSettings({api: flags.api, maxMessageBytes: flags['max-message-bytes']})
    const result =
      mode.kind === 'target'
        ? await this.onTarget(mode.target, sql, settings, flags.agent, flags.approval)
        : await execSql(sql, {
            url: mode.url,
            policyFile: mode.policy,
            maxMessageBytes: settings.maxMessageBytes,
            stateDir: settings.stateDir,
          })
    if (!this.jsonEnabled()) process.stdout.write(renderResults(result.results, flags.format as ExecFormat))
    return result
  }

  /** Control-plane mode: one session for this run, revoked at the end whatever happened. */
  private async onTarget(
    target: string,
    sql: string,
    settings: Settings,
    agent: string | undefined,
    approvalId: string | undefined,
  ): Promise<ExecResult> {
    const options = {target, agent: agentName(agent, process.env), settings, env: process.env}
    const {value, revoked} = await withTargetSession(options, (ts) =>
      execThrough(sql, (listen) =>
        startTargetProxy(ts, {
          ...listen,
          maxMessageBytes: settings.maxMessageBytes,
          stateDir: settings.stateDir,
          approvalId,
          onAuditStatus: (line) => this.logToStderr(line),
          onReviewNotice: (line) => this.logToStderr(line),
        }),
      ),
    )
    if (!revoked)
      this.logToStderr(
        `Warning: the control plane could not revoke this run's database user now; it expires on its own.`,
      )
    return value
  }
}

async function readSql(sql: string | undefined, file: string | undefined): Promise<string> {
  if (sql !== undefined) return nonEmpty(sql, '--sql')
  if (file !== undefined) {
    try {
      return nonEmpty(readFileSync(file, 'utf8'), file)
    } catch (err) {
      if (err instanceof UsageError) throw err
      throw new UsageError(`Cannot read --file ${file}: ${messageOf(err)}`)
    }
  }
  if (process.stdin.isTTY) throw new UsageError('Give the SQL with --sql, --file, or on stdin.')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return nonEmpty(Buffer.concat(chunks).toString('utf8'), 'stdin')
}

function nonEmpty(sql: string, from: string): string {
  if (sql.trim() === '') throw new UsageError(`No SQL in ${from}.`)
  return sql
}
