import {spawn} from 'node:child_process'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {isLoopback, startStandaloneProxy} from '../cli/proxy-service.js'
import {resolveSettings} from '../config/index.js'
import {DbgateError, UsageError} from '../errors.js'

/** What `dbgate connect --json` reports when it ends. */
export interface ConnectResult {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  readonly clientExitCode?: number | undefined
}

export default class Connect extends BaseCommand {
  static override description = `Open a guarded local port in front of a PostgreSQL database (standalone mode).

Every statement a client sends through the port is checked against the policy before it reaches the database; denied statements get an error (SQLSTATE 42501) and the session goes on. Prints how to connect on stderr and stays up until Ctrl-C. With "-- CLIENT ARGS", runs the client with PGHOST, PGPORT, PGUSER and PGDATABASE set and exits with the client's exit code. The upstream password is never given to the client. Every flag can also be set through its DBGATE_* environment variable.`

  static override examples = [
    `<%= config.bin %> connect --url postgres://app:secret@db.internal:5432/shop --policy policy.yaml`,
    `<%= config.bin %> connect --url postgres://app:secret@db.internal/shop --policy policy.yaml --port 6543`,
    `<%= config.bin %> connect --url postgres://app:secret@db.internal/shop --policy policy.yaml -- psql -c "select 1"`,
    `DBGATE_URL=postgres://app:secret@db.internal/shop DBGATE_POLICY=policy.yaml <%= config.bin %> connect -- pgbench -S -T 10`,
  ]

  static override strict = false

  static override flags = {
    url: Flags.string({
      description: 'Target: postgres://user:password@host:port/database?sslmode=...',
      env: 'DBGATE_URL',
      required: true,
    }),
    policy: Flags.string({description: 'Policy file (YAML or JSON).', env: 'DBGATE_POLICY', required: true}),
    port: Flags.integer({
      description: 'Local port (0 picks a free one).',
      env: 'DBGATE_PORT',
      default: 0,
      min: 0,
      max: 65535,
    }),
    host: Flags.string({
      description: 'Local address to listen on (loopback unless you really mean otherwise).',
      env: 'DBGATE_HOST',
    }),
    'local-password': Flags.string({
      description: 'Require this password from local clients.',
      env: 'DBGATE_LOCAL_PASSWORD',
    }),
    'max-message-bytes': Flags.integer({
      description: 'Largest protocol message accepted from a client.',
      env: 'DBGATE_MAX_MESSAGE_BYTES',
      min: 1024,
    }),
  }

  /** Starts the proxy, then waits for Ctrl-C or for the client command to end. */
  async run(): Promise<ConnectResult> {
    const {flags} = await this.parse(Connect)
    // oclif's parsed argv may reorder repeated client flags: take the client command verbatim after `--`.
    const dashes = this.argv.indexOf('--')
    const clientArgs = dashes < 0 ? [] : this.argv.slice(dashes + 1)
    const settings = resolveSettings({host: flags.host, maxMessageBytes: flags['max-message-bytes']})
    if (!isLoopback(settings.listenHost))
      this.logToStderr(
        `Warning: listening on ${settings.listenHost}: other machines may reach this guarded port.`,
      )
    const proxy = await startStandaloneProxy({
      url: flags.url,
      policyFile: flags.policy,
      host: settings.listenHost,
      port: flags.port,
      maxMessageBytes: settings.maxMessageBytes,
      stateDir: settings.stateDir,
      localPassword: flags['local-password'],
    })
    const {listener, target} = proxy
    const result = {host: listener.host, port: listener.port, database: target.database, user: target.user}
    this.status(
      `dbgate: guarding ${target.host}:${target.port}/${target.database} on ${listener.host}:${listener.port}`,
    )
    this.status(
      `Connect with: psql "host=${listener.host} port=${listener.port} user=${target.user} dbname=${target.database}"`,
    )
    if (clientArgs.length === 0) {
      this.status('Press Ctrl-C to stop.')
      await waitForSignal()
      this.status('dbgate: closing sessions')
      await proxy.close('dbgate connect was stopped')
      return result
    }
    let code: number
    try {
      code = await runClient(clientArgs, {
        PGHOST: listener.host,
        PGPORT: String(listener.port),
        PGUSER: target.user,
        PGDATABASE: target.database,
        ...(flags['local-password'] === undefined ? {} : {PGPASSWORD: flags['local-password']}),
      })
    } finally {
      await proxy.close('the client command ended')
    }
    if (code !== 0) this.exit(code)
    return {...result, clientExitCode: code}
  }
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve()
    }
    process.on('SIGINT', done)
    process.on('SIGTERM', done)
  })
}

function runClient(args: readonly string[], env: Record<string, string>): Promise<number> {
  const [cmd, ...rest] = args
  if (cmd === undefined) throw new UsageError('No client command after --.')
  return new Promise((resolve, reject) => {
    const childEnv = {...process.env, ...env}
    const child = spawn(cmd, rest, {stdio: 'inherit', env: childEnv})
    // Ctrl-C reaches the client through the terminal; dbgate waits for it to end.
    const ignore = (): void => undefined
    process.on('SIGINT', ignore)
    child.on('error', (err: NodeJS.ErrnoException) => {
      process.off('SIGINT', ignore)
      reject(
        err.code === 'ENOENT'
          ? new UsageError(`Client command not found: ${cmd}`)
          : new DbgateError('E_CLIENT', `Cannot run ${cmd}: ${err.message}`),
      )
    })
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore)
      resolve(code ?? (signal === null ? 1 : 128 + 2))
    })
  })
}
