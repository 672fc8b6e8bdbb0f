import type {IncomingMessage} from 'node:http'

import type {FastifyInstance} from 'fastify'
import {exportJWK, generateKeyPair, type JWK} from 'jose'
import Provider, {type KoaContextWithOIDC} from 'oidc-provider'

import type {DevUser} from '../config.js'
import {randomToken, safeEqual} from '../crypto.js'
import {escapeHtml, messagePage, page, PAGE_HEADERS} from '../html.js'
import {DevIdpAdapter, type Entry} from './dev-idp-adapter.js'

/**
 * The embedded development identity provider (`--dev`): a real OpenID Connect provider (oidc-provider)
 * mounted under /dev-idp on the control plane's own port, with the users and groups of the config file
 * and a plain HTML login form. The control plane logs users in through it exactly as through any IdP.
 */

/** Where the provider is mounted. */
export const DEV_IDP_PATH = '/dev-idp'
/** The client id the control plane uses at the dev IdP. */
export const DEV_IDP_CLIENT_ID = 'dbgate-control-plane'
const SCOPES = 'openid profile email groups'

/** The dev provider; the oidc-provider instance is created once the public URL is known. */
export class DevIdp {
  /** The control plane's client secret at this provider (random per process). */
  readonly clientSecret = randomToken(24)
  private provider: Provider | undefined
  private handler: ReturnType<Provider['callback']> | undefined
  private signingJwk: JWK | undefined
  private readonly storage = new Map<string, Entry>()

  /** Creates the holder for these users. */
  constructor(private readonly users: readonly DevUser[]) {}

  /** Generates the provider's signing key; call before start(). */
  async init(): Promise<void> {
    const {privateKey} = await generateKeyPair('ES256', {extractable: true})
    this.signingJwk = {
      ...(await exportJWK(privateKey)),
      kid: `dev-${randomToken(6)}`,
      alg: 'ES256',
      use: 'sig',
    }
  }

  /** Creates the provider for `publicUrl` (the control plane's), with the control plane as its one client. */
  start(publicUrl: string): void {
    const users = this.users
    this.provider = new Provider(`${publicUrl}${DEV_IDP_PATH}`, {
      clients: [
        {
          client_id: DEV_IDP_CLIENT_ID,
          client_secret: this.clientSecret,
          redirect_uris: [`${publicUrl}/auth/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
          id_token_signed_response_alg: 'ES256',
        },
      ],
      adapter: (model: string) => new DevIdpAdapter(model, this.storage),
      jwks: {keys: [this.signingJwk]},
      cookies: {keys: [randomToken(32)]},
      ttl: {
        AccessToken: 600,
        AuthorizationCode: 60,
        IdToken: 600,
        Interaction: 600,
        Grant: 3600,
        Session: 3600,
      },
      scopes: ['openid', 'profile', 'email', 'groups'],
      claims: {
        openid: ['sub'],
        profile: ['name', 'preferred_username'],
        email: ['email'],
        groups: ['groups'],
      },
      conformIdTokenClaims: false,
      pkce: {required: () => true},
      features: {devInteractions: {enabled: false}},
      interactions: {
        url: (_ctx: unknown, interaction: {uid: string}) => `${DEV_IDP_PATH}/interaction/${interaction.uid}`,
      },
      findAccount: (_ctx: unknown, id: string) => {
        const user = users.find((u) => u.username === id)
        if (!user) return undefined
        return {
          accountId: id,
          claims: () => ({
            sub: id,
            name: user.name ?? id,
            preferred_username: id,
            ...(user.email === undefined ? {} : {email: user.email}),
            groups: user.groups,
          }),
        }
      },
      // First-party client: consent is granted automatically.
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const clientId = ctx.oidc.client?.clientId
        const accountId = ctx.oidc.session?.accountId
        if (clientId === undefined || accountId === undefined) return undefined
        const {Grant} = this.requireProvider()
        const grant = new Grant({clientId, accountId})
        grant.addOIDCScope(SCOPES)
        await grant.save()
        return grant
      },
      renderError: (ctx: {type: string; body: string}, out: Record<string, string>) => {
        ctx.type = 'html'
        ctx.body = messagePage(
          'Sign-in error',
          `${out.error ?? 'error'}: ${out.error_description ?? ''}`,
          true,
        )
      },
    })
    this.handler = this.provider.callback()
  }

  /** Hands a raw request under /dev-idp to the provider (with the mount prefix stripped). */
  handle(raw: IncomingMessage, res: Parameters<ReturnType<Provider['callback']>>[1]): void {
    if (!this.handler) {
      res.statusCode = 503
      res.end()
      return
    }
    const url = raw.url ?? '/'
    Object.assign(raw, {originalUrl: url, url: url.slice(DEV_IDP_PATH.length) || '/'})
    void this.handler(raw, res)
  }

  /** Checks a username and password against the config file's users. */
  verify(username: string, password: string): DevUser | undefined {
    const user = this.users.find((u) => u.username === username)
    // Compare even for unknown users so timing does not reveal which names exist.
    const ok = safeEqual(password, user?.password ?? randomToken(12))
    return user && ok ? user : undefined
  }

  /** The provider, once started. */
  requireProvider(): Provider {
    if (!this.provider) throw new Error('the development IdP has not started')
    return this.provider
  }
}

function loginForm(uid: string, error?: string): string {
  const action = `${DEV_IDP_PATH}/interaction/${encodeURIComponent(uid)}/login`
  return page(
    'Sign in to dbgate (development)',
    `${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autofocus required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" name="action" value="login" id="login">Sign in</button>
<button type="submit" name="action" value="cancel" id="cancel" formnovalidate>Cancel</button>
</form>
<p class="muted">This is dbgate's built-in development identity provider. Do not use it in production.</p>`,
  )
}

interface LoginBody {
  username?: string
  password?: string
  action?: string
}

/** Registers /dev-idp: the login pages (fastify routes) and everything else (handed to oidc-provider). */
export function registerDevIdp(app: FastifyInstance, idp: DevIdp): void {
  const hide = {hide: true}
  app.get<{Params: {uid: string}}>(
    `${DEV_IDP_PATH}/interaction/:uid`,
    {schema: hide},
    async (request, reply) => {
      const details = await idp.requireProvider().interactionDetails(request.raw, reply.raw)
      if (details.uid !== request.params.uid) throw new Error('interaction mismatch')
      return reply.headers(PAGE_HEADERS).send(loginForm(details.uid))
    },
  )

  app.post<{Params: {uid: string}; Body: LoginBody}>(
    `${DEV_IDP_PATH}/interaction/:uid/login`,
    {
      schema: {
        ...hide,
        body: {
          type: 'object',
          properties: {username: {type: 'string'}, password: {type: 'string'}, action: {type: 'string'}},
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const provider = idp.requireProvider()
      const details = await provider.interactionDetails(request.raw, reply.raw)
      const body = request.body
      if (body.action === 'cancel') {
        const to = await provider.interactionResult(
          request.raw,
          reply.raw,
          {error: 'access_denied', error_description: 'the user cancelled the sign-in'},
          {mergeWithLastSubmission: false},
        )
        return reply.redirect(to, 303)
      }
      const user = idp.verify(body.username ?? '', body.password ?? '')
      if (!user)
        return reply
          .code(401)
          .headers(PAGE_HEADERS)
          .send(loginForm(details.uid, 'Wrong username or password.'))
      const to = await provider.interactionResult(
        request.raw,
        reply.raw,
        {login: {accountId: user.username}},
        {mergeWithLastSubmission: false},
      )
      return reply.redirect(to, 303)
    },
  )

  // Everything else under /dev-idp goes to oidc-provider before fastify reads the body.
  void app.register((scope, _opts, done) => {
    scope.addHook('onRequest', async (request, reply) => {
      reply.hijack()
      idp.handle(request.raw, reply.raw)
      return reply
    })
    scope.all(`${DEV_IDP_PATH}/*`, {schema: hide}, (_request, reply) => reply)
    done()
  })
}
