import type {BundleIssuer} from './bundles/issue.js'
import type {LiveConfig, ReloadOutcome} from './bundles/live-config.js'
import type {ServerConfig} from './config.js'
import type {Reaper} from './credentials/reaper.js'
import type {CredentialService} from './credentials/service.js'
import type {ServerKey} from './crypto.js'
import type {SigningKeys} from './keys.js'
import type {IdentityProvider} from './oidc/rp.js'
import type {Store} from './store/index.js'
import type {TokenIssuer} from './tokens.js'
import type {ApprovalExpiry} from './approvals/expiry.js'

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
  /** The reloadable part of the config (policies, target role mappings, session settings). */
  readonly live: LiveConfig
  /** Signs policy bundles. */
  readonly bundles: BundleIssuer
  /** Mints, renews and revokes per-session database users. */
  readonly credentials: CredentialService
  /** Removes what ended or crashed sessions left behind. */
  readonly reaper: Reaper
  /** Expires approval requests and grants at their deadline (absent where nothing runs, e.g. OpenAPI). */
  readonly approvalExpiry?: ApprovalExpiry | undefined
  /** Re-reads the config file; a bad file keeps the old config (SIGHUP, POST /api/v1/admin/reload). */
  reload(): Promise<ReloadOutcome>
}
