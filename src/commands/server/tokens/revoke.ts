import {Args} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import type {MachineTokenInfo} from '../../../control/api-types.js'
import {revokeMachineToken} from '../../../server/machine-tokens.js'
import {storeFlags, withStore} from '../../../server/admin-store.js'

/** Revokes a machine token; access tokens it was exchanged for stop working at once. */
export default class ServerTokensRevoke extends BaseCommand {
  static override description =
    'Revoke a machine token by id or name (its access tokens stop working at once).'
  static override examples = [
    '<%= config.bin %> server tokens revoke ci-deploy',
    '<%= config.bin %> server tokens revoke mt_0123abcd',
  ]
  static override args = {token: Args.string({description: 'token id or name', required: true})}
  static override flags = {...storeFlags}

  /** Revokes and reports. */
  async run(): Promise<MachineTokenInfo> {
    const {args, flags} = await this.parse(ServerTokensRevoke)
    const info = await withStore(flags, (store) => revokeMachineToken(store, args.token, Date.now()))
    this.status(`Revoked machine token ${info.name} (${info.id}).`)
    return info
  }
}
