import {Flags} from '@oclif/core'

import {getAuthenticatedClient} from '../auth/session.js'
import {BaseCommand} from '../cli/base-command.js'
import {formatTable} from '../cli/output.js'
import {resolveSettings} from '../config/index.js'
import type {TargetsResponse} from '../control/api-types.js'

export default class Targets extends BaseCommand {
  static override description = 'List the database targets your identity may reach.'

  static override examples = ['<%= config.bin %> targets', '<%= config.bin %> targets --json']

  static override flags = {
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Fetches the caller's targets from the control plane. */
  async run(): Promise<TargetsResponse> {
    const {flags} = await this.parse(Targets)
    const settings = resolveSettings({api: flags.api})
    const {client} = await getAuthenticatedClient({...settings, env: process.env})
    const result = await client.targets()
    if (result.targets.length === 0) this.status('No targets are available to you.')
    else if (!this.jsonEnabled()) {
      const rows = result.targets.map((t) => [t.name, t.protocol, t.host, t.port, t.database])
      if (process.stdout.isTTY) this.log(formatTable(['name', 'protocol', 'host', 'port', 'database'], rows))
      else for (const r of rows) this.log(r.join('\t'))
    }
    return result
  }
}
