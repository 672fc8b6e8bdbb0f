import type {FastifyInstance} from 'fastify'

import {UsageError} from '../errors.js'
import {buildApp, type AppOptions} from './app.js'
import type {ServerConfig} from './config.js'
import type {ServerContext} from './context.js'
import {ServerKey} from './crypto.js'
import {SigningKeys} from './keys.js'
import {DEV_IDP_CLIENT_ID, DEV_IDP_PATH, DevIdp} from './oidc/dev-idp.js'
import {OidcRelyingParty, type IdentityProvider} from './oidc/rp.js'
import {BundleIssuer} from './bundles/issue.js'
import {LiveConfig, type ReloadOutcome} from './bundles/live-config.js'
import {BundleSigner} from './bundles/signer.js'
import {Reaper, type ReapReport} from './credentials/reaper.js'
import {CredentialService} from './credentials/service.js'
import {openStore, type StoreLocation} from './store/index.js'
import {syncConfigTargets} from './targets.js'
import {TokenIssuer} from './tokens.js'
import {ApprovalExpiry} from './approvals/expiry.js'

/**
 * Starting and stopping the control plane: server key, store (migrated), signing keys, config targets,
 * identity provider, then the HTTP listener. `--listen 127.0.0.1:0` picks a free port; `url` tells which.
 */

/** How to start. */
export interface StartOptions {
  config: ServerConfig
  /** Holds server.key, and the embedded store unless databaseUrl is given. */
  dataDir: string
  databaseUrl?: string | undefined
  /** host:port; overrides the config file's `listen`; default 127.0.0.1:8787. */
  listen?: string | undefined
  env?: NodeJS.ProcessEnv
  now?: () => number
  logger?: AppOptions['logger']
  /** Re-reads the config file for a reload (SIGHUP, POST /api/v1/admin/reload); without it reload fails. */
  loadConfig?: (() => ServerConfig) | undefined
  /** Names the config file in errors. */
  configFile?: string | undefined
}

/** A running control plane. */
export interface RunningServer {
  /** The public base URL (public_url, or http://host:port actually bound). */
  readonly url: string
  readonly port: number
  readonly app: FastifyInstance
  readonly ctx: ServerContext
  readonly devIdp: DevIdp | undefined
  /** The reaper pass run at start (cleans up what a previous process minted). */
  readonly firstReap: Promise<ReapReport | undefined>
  /** Reloads policies and target role mappings from the config file (what SIGHUP should call). */
  reload(): Promise<ReloadOutcome>
  /** Stops accepting, finishes in-flight requests, closes the store. */
  close(): Promise<void>
}

/** Parses "host:port", "[::1]:port", ":port" or "port". */
export function parseListen(text: string): {host: string; port: number} {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text)
  const port = Number(m?.[3])
  if (!m || !Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(
      `--listen "${text}" is not host:port (e.g. 127.0.0.1:8787, or port 0 for any free port)`,
    )
  return {host: m[1] || m[2] || '127.0.0.1', port}
}

function identityProvider(
  config: ServerConfig,
  devIdp: DevIdp | undefined,
  publicUrl: () => string,
): IdentityProvider {
  const redirectUri = (): string => `${publicUrl()}/auth/callback`
  if (devIdp)
    return new OidcRelyingParty({
      issuer: () => `${publicUrl()}${DEV_IDP_PATH}`,
      clientId: DEV_IDP_CLIENT_ID,
      clientSecret: devIdp.clientSecret,
      groupsClaim: 'groups',
      scopes: ['openid', 'profile', 'email', 'groups'],
      redirectUri,
      allowHttp: true,
      // The dev provider always shows its form, so switching between test users is easy.
      extraParams: {prompt: 'login'},
    })
  if (config.oidc) {
    const o = config.oidc
    return new OidcRelyingParty({
      issuer: () => o.issuer,
      clientId: o.client_id,
      clientSecret: o.client_secret,
      groupsClaim: o.groups_claim,
      scopes: o.scopes,
      redirectUri,
      allowHttp: new URL(o.issuer).protocol === 'http:',
    })
  }
  throw new UsageError('no identity provider: set `oidc:` (or `dev:`) in the config file, or pass --dev', [
    'See docs/server.md and examples/server.yaml.',
  ])
}

/** Opens everything and listens. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const now = options.now ?? Date.now
  const env = options.env ?? process.env
  const {config} = options
  const listen = parseListen(options.listen ?? config.listen ?? '127.0.0.1:8787')
  const serverKey = ServerKey.load(options.dataDir, env)
  const location: StoreLocation = options.databaseUrl
    ? {kind: 'postgres', url: options.databaseUrl}
    : {kind: 'sqlite', dataDir: options.dataDir}
  const store = await openStore(location, now())
  let app: FastifyInstance | undefined
  try {
    const keys = new SigningKeys(store, serverKey, config.tokens.key_rotation)
    await keys.init(now())
    await syncConfigTargets(store, config.targets, serverKey, now())
    const devIdp = config.dev ? new DevIdp(config.dev.users) : undefined
    await devIdp?.init()
    let publicUrl: string | undefined = config.publicUrl
    const getPublicUrl = (): string => {
      if (publicUrl === undefined) throw new Error('the public URL is not known before the server listens')
      return publicUrl
    }
    const live = new LiveConfig(config, now(), options.configFile)
    const credentials = new CredentialService({store, serverKey, live, now})
    const reaper = new Reaper(store, credentials, now)
    const approvalExpiry = new ApprovalExpiry({store, now, live, publicUrl: getPublicUrl})
    const loadConfig = options.loadConfig
    const ctx: ServerContext = {
      config,
      store,
      serverKey,
      keys,
      tokens: new TokenIssuer(keys, getPublicUrl),
      idp: identityProvider(config, devIdp, getPublicUrl),
      now,
      publicUrl: getPublicUrl,
      live,
      bundles: new BundleIssuer(live, await BundleSigner.init(store, serverKey, now()), getPublicUrl),
      credentials,
      reaper,
      approvalExpiry,
      reload: () =>
        live.reload(
          loadConfig ??
            (() => {
              throw new Error('this server was started without a config file to reload')
            }),
          (next) => syncConfigTargets(store, next.targets, serverKey, now()),
          now(),
        ),
    }
    app = await buildApp(ctx, {devIdp, logger: options.logger})
    await app.listen({host: listen.host, port: listen.port})
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : listen.port
    const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host
    publicUrl ??= `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    devIdp?.start(publicUrl)
    const timer = setInterval(() => {
      void store.purgeExpired(now()).catch(() => undefined)
      void keys.rotateIfDue(now()).catch(() => undefined)
    }, 10 * 60_000)
    timer.unref()
    const running = app
    const reap = (): Promise<ReapReport | undefined> =>
      reaper.run().then(
        (report) => {
          if (report.revoked.length > 0) running.log.info({revoked: report.revoked}, 'reaper revoked users')
          if (report.failed.length > 0)
            running.log.warn({failed: report.failed}, 'reaper could not revoke users')
          return report
        },
        (err: unknown) => {
          running.log.error({err}, 'reaper pass failed')
          return undefined
        },
      )
    const firstReap = reap()
    void approvalExpiry.start()
    const reaperTimer = setInterval(() => void reap(), config.sessions.reaper_interval * 1000)
    reaperTimer.unref()
    return {
      url: publicUrl,
      port,
      app: running,
      ctx,
      devIdp,
      firstReap,
      reload: () => ctx.reload(),
      close: async () => {
        clearInterval(timer)
        clearInterval(reaperTimer)
        await approvalExpiry.stop()
        await reaper.settle()
        await running.close()
        await store.close()
      },
    }
  } catch (err) {
    await app?.close().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }
}
