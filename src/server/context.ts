import type {ServerConfig} from './config.js'
import type {ServerKey} from './crypto.js'
import type {SigningKeys} from './keys.js'
import type {IdentityProvider} from './oidc/rp.js'
import type {Store} from './store/index.js'
import type {TokenIssuer} from './tokens.js'

/** What every route plugin needs, built once per server (app.ts). */
export interface ServerContext {
  readonly config: ServerConfig
  readonly store: Store
  readonly serverKey: ServerKey
  readonly keys: SigningKeys
  readonly tokens: TokenIssuer
  /** The identity provider users log in with (external OIDC, or the embedded dev provider). */
  readonly idp: IdentityProvider
  /** The clock, epoch milliseconds; tests move it. */
  readonly now: () => number
  /** The externally visible base URL, without a trailing slash (known once the server listens). */
  publicUrl(): string
}
