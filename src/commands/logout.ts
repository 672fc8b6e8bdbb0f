import {Flags} from '@oclif/core'

import {logout, type LogoutResult} from '../auth/account.js'
import {BaseCommand} from '../cli/base-command.js'
import {resolveSettings} from '../config/index.js'

export default class Logout extends BaseCommand {
  static override description =
    'End the session: revoke the refresh token at the control plane, then delete the local tokens (even if the control plane is down).'

  static override examples = [
    '<%= config.bin %> logout',
    '<%= config.bin %> logout --api https://dbgate.example.com',
  ]

  static override flags = {
    api: Flags.string({
      description: 'Control plane to log out of (default: DBGATE_API, config.yaml, or the last login).',
    }),
  }

  /** Logs out and reports whether the server revoked the session. */
  async run(): Promise<LogoutResult> {
    const {flags} = await this.parse(Logout)
    const settings = resolveSettings({api: flags.api})
    const result = await logout({...settings, env: process.env})
    if (!result.wasLoggedIn)
      this.status(`Not logged in${result.apiUrl === null ? '' : ` to ${result.apiUrl}`}; nothing to do.`)
    else if (result.revoked)
      this.status(`Logged out of ${result.apiUrl}; the session was revoked and local tokens deleted.`)
    else {
      this.status(`Logged out of ${result.apiUrl}: local tokens deleted.`)
      if (result.revokeError !== undefined) {
        this.status(`Warning: could not revoke the session at the control plane: ${result.revokeError}`)
      }
    }
    if (result.machineTokenInEnv)
      this.status('Note: DBGATE_TOKEN is still set in the environment and still works.')
    return result
  }
}
