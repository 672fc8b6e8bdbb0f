import {readFileSync} from 'node:fs'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {EXEC_FORMATS, execSql, renderResults, type ExecFormat, type ExecResult} from '../cli/exec-service.js'
import {resolveSettings} from '../config/index.js'
import {UsageError, messageOf} from '../errors.js'

export default class Exec extends BaseCommand {
  static override description = `Run SQL through the guard once, for scripts and CI (standalone mode).

The statements go through the same guarded engine as "dbgate connect". Several statements may be given; each result is printed in order (json: one JSON array of row objects per line). Exit codes: 0 ok, 1 SQL error (the server's message is shown), 2 usage, 3 denied by policy (the message names the rule), 4 approval required, 6 database unreachable. Every flag can also be set through its DBGATE_* environment variable.`

  static override examples = [
    `<%= config.bin %> exec --url postgres://app:secret@db.internal/shop --policy policy.yaml --sql "select id, email from users limit 5"`,
    `<%= config.bin %> exec --url postgres://app:secret@db.internal/shop --policy policy.yaml --file report.sql --format csv > report.csv`,
    `echo "select count(*) from orders" | <%= config.bin %> exec --url postgres://app:secret@db.internal/shop --policy policy.yaml --format json`,
  ]

  static override flags = {
    url: Flags.string({
      description: 'Target: postgres://user:password@host:port/database?sslmode=...',
      env: 'DBGATE_URL',
      required: true,
    }),
    policy: Flags.string({description: 'Policy file (YAML or JSON).', env: 'DBGATE_POLICY', required: true}),
    sql: Flags.string({description: 'SQL to run (one or several statements).', exclusive: ['file']}),
    file: Flags.string({description: 'File with the SQL to run.'}),
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
    const {flags} = await this.parse(Exec)
    const sql = await readSql(flags.sql, flags.file)
    const settings = resolveSettings({maxMessageBytes: flags['max-message-bytes']})
    const result = await execSql(sql, {
      url: flags.url,
      policyFile: flags.policy,
      maxMessageBytes: settings.maxMessageBytes,
      stateDir: settings.stateDir,
    })
    if (!this.jsonEnabled()) process.stdout.write(renderResults(result.results, flags.format as ExecFormat))
    return result
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
