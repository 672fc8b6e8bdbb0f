import {spawn} from 'node:child_process'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {sessionFlags, targetArg} from '../cli/proxy-flags.js'
import {isLoopback, startStandaloneProxy, type StandaloneProxy} from '../cli/proxy-service.js'
import {agentName, proxyMode, startTargetProxy, withTargetSession} from '../cli/target-session.js'
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
  static override description = `Open a guarded local port in front of a PostgreSQL or MySQL/MariaDB database.

With TARGET (logged in, or with DBGATE_TOKEN), the control plane mints a short-lived database user for this session and signs the policy that applies to you: no database password is needed anywhere, the user is renewed while the port is open and revoked when it closes. With --url and --policy, runs standalone against a URL and a local policy file. Every statement a client sends through the port is checked against the policy before it reaches the database; denied statements get an error (SQLSTATE 42501) and the session goes on. Prints how to connect on stderr and stays up until Ctrl-C. The engine follows the URL scheme (postgres:// or mysql://); MySQL denials are error 1142. With "-- CLIENT ARGS", runs the client with PGHOST, PGPORT, PGUSER and PGDATABASE set (MYSQL_HOST and MYSQL_TCP_PORT for mysql:// targets) and exits with the client's exit code. The upstream password is never given to the client. For several targets at once, run one connect per target. Every flag can also be set through its DBGATE_* environment variable. Audit events are written to the local spool before each result is released: DBGATE_AUDIT_DURABILITY=synced also waits for the disk, and DBGATE_AUDIT_SYNC_MS (default 100) paces the background disk syncs of the default.`

  static override examples = [
    `<%= config.bin %> connect prod-pg`,
    `<%= config.bin %> connect prod-pg --port 6543 -- psql -c "select current_user"`,
    `<%= config.bin %> connect prod-pg --agent claude`,
    `<%= config.bin %> connect --url postgres://app:secret@db.internal:5432/shop --policy policy.yaml`,
    `<%= config.bin %> connect --url postgres://app:secret@db.internal/shop --policy policy.yaml -- psql -c "select 1"`,
    `<%= config.bin %> connect --url mysql://app:secret@db.internal:3306/shop --policy policy.yaml -- mysql`,
    `DBGATE_URL=postgres://app:secret@db.internal/shop DBGATE_POLICY=policy.yaml <%= config.bin %> connect -- pgbench -S -T 10`,
  ]

  static override args = {target: targetArg}

  static override flags = {
    ...sessionFlags,
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
    // The client command after `--` is taken verbatim (oclif would read its first word as TARGET).
    const dashes = this.argv.indexOf('--')
    const clientArgs = dashes < 0 ? [] : this.argv.slice(dashes + 1)
    const {args, flags} = await this.parse(Connect, dashes < 0 ? this.argv : this.argv.slice(0, dashes))
    const mode = proxyMode(args.target, flags.url, flags.policy)
    const settings = resolveSettings({
      api: flags.api,
      host: flags.host,
      maxMessageBytes: flags['max-message-bytes'],
    })
    if (!isLoopback(settings.listenHost))
      this.logToStderr(
        `Warning: listening on ${settings.listenHost}: other machines may reach this guarded port.`,
      )
    const listen = {
      host: settings.listenHost,
      port: flags.port,
      maxMessageBytes: settings.maxMessageBytes,
      stateDir: settings.stateDir,
    }
    const localPassword = flags['local-password']
    if (mode.kind === 'standalone') {
      const proxy = await startStandaloneProxy({
        ...listen,
        url: mode.url,
        policyFile: mode.policy,
        localPassword,
      })
      return this.finish(await this.serve(proxy, clientArgs, localPassword))
    }
    const options = {
      target: mode.target,
      agent: agentName(flags.agent, process.env),
      settings,
      env: process.env,
    }
    const {value, revoked} = await withTargetSession(options, async (ts) => {
      const proxy = await startTargetProxy(ts, {
        ...listen,
        localPassword,
        onAuditStatus: (line) => this.logToStderr(line),
        onReviewNotice: (line) => this.logToStderr(line),
        onRenewFailed: (err) =>
          this.logToStderr(
            `dbgate: renewing the session on ${mode.target} failed (${err.message}); new connections are refused, open ones work until ${new Date(ts.session.credentials.expiresAt).toISOString()}. Reconnect with \`dbgate connect ${mode.target}\`.`,
          ),
        onPolicyChanged: (b) =>
          this.status(
            `dbgate: the control plane changed the policy: now ${b.payload.policy_name} (${b.payload.policy_version}), for every open session`,
          ),
      })
      this.status(
        `dbgate: session ${ts.session.sessionId} on ${mode.target} as ${ts.upstream.login.user} (actor ${ts.evalContext.actor}, policy ${ts.session.bundle.payload.policy_name})`,
      )
      return this.serve(proxy, clientArgs, localPassword)
    })
    this.status(
      revoked
        ? `dbgate: database user ${value.user} revoked`
        : `Warning: the control plane could not revoke ${value.user} now; it expires on its own.`,
    )
    return this.finish(value)
  }

  /** Exits with the client command's code when it failed (after everything was closed and revoked). */
  private finish(result: ConnectResult): ConnectResult {
    if (result.clientExitCode !== undefined && result.clientExitCode !== 0) this.exit(result.clientExitCode)
    return result
  }

  /** Prints how to connect, then waits for Ctrl-C or runs the client; closes the proxy either way. */
  private async serve(
    proxy: StandaloneProxy,
    clientArgs: readonly string[],
    localPassword: string | undefined,
  ): Promise<ConnectResult> {
    const {listener, target} = proxy
    const result = {host: listener.host, port: listener.port, database: target.database, user: target.user}
    this.status(
      `dbgate: guarding ${target.host}:${target.port}/${target.database} on ${listener.host}:${listener.port}`,
    )
    this.status(
      proxy.protocol === 'mysql'
        ? `Connect with: mysql -h ${listener.host} -P ${listener.port} -u ${target.user}${target.database === '' ? '' : ` ${target.database}`}`
        : `Connect with: psql "host=${listener.host} port=${listener.port} user=${target.user} dbname=${target.database}"`,
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
      code = await runClient(
        clientArgs,
        proxy.protocol === 'mysql'
          ? {
              // The mysql/mariadb clients read host and port from these; the database defaults to the URL's.
              MYSQL_HOST: listener.host,
              MYSQL_TCP_PORT: String(listener.port),
              ...(localPassword === undefined ? {} : {MYSQL_PWD: localPassword}),
            }
          : {
              PGHOST: listener.host,
              PGPORT: String(listener.port),
              PGUSER: target.user,
              PGDATABASE: target.database,
              ...(localPassword === undefined ? {} : {PGPASSWORD: localPassword}),
            },
      )
    } finally {
      await proxy.close('the client command ended')
    }
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
