import {Flags} from '@oclif/core'
import open from 'open'

import {describeStorage, login, type LoginResult} from '../auth/account.js'
import type {DeviceCodePrompt} from '../auth/device-flow.js'
import {BaseCommand} from '../cli/base-command.js'
import {resolveSettings} from '../config/index.js'

export default class Login extends BaseCommand {
  static override description =
    'Log in to the dbgate control plane: browser SSO (authorization code with PKCE on a loopback redirect), or --device for machines without a browser.'

  static override examples = [
    '<%= config.bin %> login --api https://dbgate.example.com',
    '<%= config.bin %> login --device',
    '<%= config.bin %> login --no-browser   # print the URL, open it yourself',
  ]

  static override flags = {
    api: Flags.string({
      description: 'Control plane URL (default: DBGATE_API, `api:` in config.yaml, or the last login).',
    }),
    device: Flags.boolean({
      description: 'Use the device flow: approve a code from any browser, even on another machine.',
    }),
    'no-browser': Flags.boolean({
      description: 'Do not open a browser; only print the login URL (also DBGATE_NO_BROWSER=1).',
    }),
  }

  /** Logs in and returns who is logged in and where the tokens went. */
  async run(): Promise<LoginResult> {
    const {flags} = await this.parse(Login)
    const settings = resolveSettings({api: flags.api})
    const noBrowser = flags['no-browser'] || process.env.DBGATE_NO_BROWSER === '1'
    const result = await login(
      {...settings, env: process.env},
      {
        mode: flags.device ? 'device' : 'browser',
        onAuthorizationUrl: async (url) => {
          this.logToStderr(
            noBrowser
              ? `Open this URL in a browser to log in:\n\n  ${url}\n`
              : `Opening your browser to log in. If it does not open, visit:\n\n  ${url}\n`,
          )
          this.logToStderr('Waiting for the login to finish in the browser (times out in 5 minutes)...')
          if (!noBrowser) await openBrowser(url)
        },
        onDeviceCode: (prompt: DeviceCodePrompt) => {
          this.logToStderr(
            `To log in, open ${prompt.verificationUri} in any browser and enter the code:\n\n  ${prompt.userCode}\n\n` +
              `or open this URL directly:\n\n  ${prompt.verificationUriComplete}\n`,
          )
          this.logToStderr(
            `Waiting for approval (the code expires in ${Math.round(prompt.expiresIn / 60)} minutes)...`,
          )
        },
      },
    )
    const who = result.identity.email
      ? `${result.identity.name} <${result.identity.email}>`
      : result.identity.name
    this.status(`Logged in to ${result.apiUrl} as ${who}.`)
    this.status(`Tokens ${describeStorage(result.storage)}`)
    for (const line of auditDeviceLines(result.device)) this.status(line)
    return result
  }
}

/** What the user should know about the audit trail of this machine after logging in. */
function auditDeviceLines(device: LoginResult['device']): string[] {
  if (device === undefined) return []
  if ('error' in device)
    return [
      `Warning: the audit device key could not be registered now (${device.error}); dbgate connect retries.`,
    ]
  const events = (n: number) => `${n} audit event${n === 1 ? '' : 's'}`
  const lines: string[] = []
  if (device.uploaded > 0)
    lines.push(`Uploaded ${events(device.uploaded)} recorded earlier as you on this machine.`)
  if (device.waiting > 0)
    lines.push(
      `${events(device.waiting)} recorded earlier as you on this machine still wait; dbgate connect and exec upload them.`,
    )
  for (const o of device.others_waiting) {
    const who = o.email ?? o.identity
    lines.push(
      `${events(o.events)} recorded as ${who} on this machine wait in the local spool: they are uploaded when ${who} logs in here again, never as you.`,
    )
  }
  return lines
}

/** Opens the system browser; a failure only means the user opens the printed URL by hand. */
async function openBrowser(url: string): Promise<void> {
  try {
    await open(url)
  } catch {
    // The URL is already printed.
  }
}
