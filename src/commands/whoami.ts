import {Flags} from '@oclif/core'

import {describeStorage, whoami, type WhoamiResult} from '../auth/account.js'
import {BaseCommand} from '../cli/base-command.js'
import {resolveSettings} from '../config/index.js'

export default class Whoami extends BaseCommand {
  static override description =
    'Show who you are logged in as: identity, kind (user or service), groups, roles, token expiry, and where the token is stored.'

  static override examples = [
    '<%= config.bin %> whoami',
    '<%= config.bin %> whoami --json',
    'DBGATE_TOKEN=dbg_mt_... <%= config.bin %> whoami   # a CI job with a machine token',
  ]

  static override flags = {
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Asks the control plane who the session speaks for. */
  async run(): Promise<WhoamiResult> {
    const {flags} = await this.parse(Whoami)
    const settings = resolveSettings({api: flags.api})
    const me = await whoami({...settings, env: process.env})
    if (!this.jsonEnabled()) {
      const source = {kind: me.storage, path: me.storagePath, reason: me.storageReason}
      const lines = [
        `${me.name}${me.email ? ` <${me.email}>` : ''} (${me.kind}, ${me.sub})`,
        `groups:     ${me.groups.join(', ') || '(none)'}`,
        `roles:      ${me.roles.join(', ') || '(none)'}`,
        `token:      expires ${me.tokenExpiresAt}${me.storage === 'env' ? '' : ' (refreshes automatically)'}`,
        `            ${describeStorage(source)}`,
        `api:        ${me.apiUrl}`,
      ]
      this.log(lines.join('\n'))
    }
    return me
  }
}
