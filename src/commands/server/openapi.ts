import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {openApiDocument} from '../../server/openapi.js'

/** Prints the control plane's OpenAPI document, generated from its route schemas. */
export default class ServerOpenapi extends BaseCommand {
  static override enableJsonFlag = false
  static override description =
    "Print the control plane's OpenAPI 3 document (generated from the route schemas)."
  static override examples = ['<%= config.bin %> server openapi > docs/openapi.json']
  static override flags = {
    pretty: Flags.boolean({description: 'indent the JSON', default: true, allowNo: true}),
  }

  /** Builds the app without listening and prints its document. */
  async run(): Promise<void> {
    const {flags} = await this.parse(ServerOpenapi)
    const doc = await openApiDocument()
    this.log(flags.pretty ? JSON.stringify(doc, null, 2) : JSON.stringify(doc))
  }
}
