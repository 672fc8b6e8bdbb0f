import {BaseCommand} from '../../../cli/base-command.js'
import {formatTable} from '../../../cli/output.js'
import type {MachineTokenInfo} from '../../../control/api-types.js'
import {listMachineTokens} from '../../../server/machine-tokens.js'
import {storeFlags, withStore} from '../../../server/admin-store.js'

/** Lists machine tokens (never their secrets). */
export default class ServerTokensList extends BaseCommand {
  static override description = 'List machine tokens: name, groups, expiry, revocation, last use.'
  static override examples = [
    '<%= config.bin %> server tokens list',
    '<%= config.bin %> server tokens list --json',
  ]
  static override flags = {...storeFlags}

  /** Prints a table, or returns the list for --json. */
  async run(): Promise<{tokens: MachineTokenInfo[]}> {
    const {flags} = await this.parse(ServerTokensList)
    const tokens = await withStore(flags, (store) => listMachineTokens(store))
    if (!this.jsonEnabled())
      this.log(
        formatTable(
          ['id', 'name', 'groups', 'created', 'expires', 'revoked', 'last used'],
          tokens.map((t) => [
            t.id,
            t.name,
            t.groups.join(','),
            t.created_at,
            t.expires_at ?? 'never',
            t.revoked_at,
            t.last_used_at,
          ]),
        ),
      )
    return {tokens}
  }
}
