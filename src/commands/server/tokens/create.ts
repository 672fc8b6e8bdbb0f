import {Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {UsageError} from '../../../errors.js'
import type {MachineTokenInfo} from '../../../control/api-types.js'
import {parseDuration} from '../../../server/config.js'
import {createMachineToken} from '../../../server/machine-tokens.js'
import {storeFlags, withStore} from '../../../server/admin-store.js'

/** `--json` result: the secret (shown this once) and its metadata. */
export interface TokenCreateResult extends MachineTokenInfo {
  token: string
}

/** Creates a machine token directly in the control plane's store. */
export default class ServerTokensCreate extends BaseCommand {
  static override description =
    "Create a machine token for CI (prints it once; only its hash is kept). Works on the server's store directly."

  static override examples = [
    '<%= config.bin %> server tokens create --name ci-deploy --groups deploy --ttl 30d',
    '<%= config.bin %> server tokens create --name nightly --groups eng,reports --ttl never --json',
  ]

  static override flags = {
    name: Flags.string({description: 'token name (letters, digits, . _ -)', required: true}),
    groups: Flags.string({description: 'groups of the service identity (comma-separated)', default: ''}),
    ttl: Flags.string({description: 'lifetime: 90s, 10m, 12h, 30d, 2w, or never', default: '90d'}),
    ...storeFlags,
  }

  /** Creates the token and prints the secret on stdout. */
  async run(): Promise<TokenCreateResult> {
    const {flags} = await this.parse(ServerTokensCreate)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(flags.name))
      throw new UsageError(`--name "${flags.name}": use letters, digits, ".", "_", "-" (max 63)`)
    const ttl = flags.ttl === 'never' ? null : parseDuration(flags.ttl)
    if (ttl === undefined)
      throw new UsageError(`--ttl "${flags.ttl}" is not a duration (e.g. 30d) or "never"`)
    const groups = flags.groups
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean)
    const created = await withStore(flags, (store) =>
      createMachineToken(
        store,
        {name: flags.name, groups, ttlSeconds: ttl, createdBy: 'local-admin'},
        Date.now(),
      ),
    )
    if (!this.jsonEnabled()) {
      this.log(created.token)
      this.logToStderr(
        `Created machine token ${created.info.name} (${created.info.id}), groups: ${groups.join(', ') || 'none'}, ` +
          `expires: ${created.info.expires_at ?? 'never'}. It is shown only this once; set it as DBGATE_TOKEN.`,
      )
    }
    return {token: created.token, ...created.info}
  }
}
