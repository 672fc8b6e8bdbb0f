import {join} from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {resolvePaths} from '../../config/index.js'
import {loadServerConfig, withDevMode} from '../../server/config.js'
import {startServer} from '../../server/server.js'

/** Result of `dbgate server start` (after it has been stopped). */
export interface ServerStartResult {
  url: string
  store: 'sqlite' | 'postgres'
  stopped: true
}

/** Runs the control plane until SIGINT or SIGTERM. */
export default class ServerStart extends BaseCommand {
  static override description =
    'Run the dbgate control plane (SSO, tokens, targets). Prints the URL on stderr and runs until SIGINT/SIGTERM.'

  static override examples = [
    '<%= config.bin %> server start --dev',
    '<%= config.bin %> server start --config examples/server.yaml --listen 127.0.0.1:8787',
    '<%= config.bin %> server start --config server.yaml --database-url postgres://dbgate@db/dbgate',
  ]

  static override flags = {
    config: Flags.string({char: 'c', description: 'server config file (YAML)', env: 'DBGATE_SERVER_CONFIG'}),
    data: Flags.string({
      description: 'data directory (embedded store, server.key)',
      env: 'DBGATE_SERVER_DATA',
    }),
    'database-url': Flags.string({
      description: 'PostgreSQL URL: use it as the store (for several replicas)',
      env: 'DBGATE_DATABASE_URL',
    }),
    listen: Flags.string({
      description: 'host:port to listen on (port 0: any free port)',
      env: 'DBGATE_LISTEN',
    }),
    dev: Flags.boolean({description: 'embed the development identity provider (users from the config file)'}),
    'log-level': Flags.string({
      description: 'server log level (logs go to stderr)',
      options: ['silent', 'error', 'warn', 'info', 'debug'],
      default: 'warn',
    }),
  }

  /** Starts, waits for a signal, stops gracefully. */
  async run(): Promise<ServerStartResult> {
    const {flags} = await this.parse(ServerStart)
    const config = withDevMode(loadServerConfig(flags.config), flags.dev)
    const dataDir = flags.data ?? join(resolvePaths().stateDir, 'server')
    const server = await startServer({
      config,
      dataDir,
      databaseUrl: flags['database-url'],
      listen: flags.listen,
      logger: flags['log-level'] === 'silent' ? false : {level: flags['log-level'], stream: process.stderr},
      configFile: flags.config,
      loadConfig: () => withDevMode(loadServerConfig(flags.config), flags.dev),
    })
    // SIGHUP reloads policies and target role mappings; a bad file keeps the old config.
    const onHup = (): void =>
      void server
        .reload()
        .then((outcome) =>
          this.logToStderr(
            outcome.kind === 'reloaded'
              ? `SIGHUP: reloaded ${outcome.policies} policies, ${outcome.targets} targets`
              : `SIGHUP: reload refused, the old config stays:\n${outcome.error}`,
          ),
        )
    process.on('SIGHUP', onHup)
    this.logToStderr(`dbgate control plane listening on ${server.url}`)
    this.logToStderr(
      `store: ${server.ctx.store.kind}${server.ctx.store.kind === 'sqlite' ? ` in ${dataDir}` : ''}`,
    )
    if (config.dev)
      this.logToStderr(
        `development IdP: ${server.url}/dev-idp (users: ${config.dev.users.map((u) => u.username).join(', ')})`,
      )
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    process.off('SIGHUP', onHup)
    this.logToStderr(`${signal}: shutting down`)
    await server.close()
    return {url: server.url, store: server.ctx.store.kind, stopped: true}
  }
}
