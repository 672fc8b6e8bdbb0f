import * as oidc from 'openid-client'

import {messageOf} from '../../errors.js'
import type {StoredIdentity} from '../store/index.js'

/**
 * The control plane as an OpenID Connect relying party (openid-client): discovery, authorization code with
 * PKCE, state and nonce, groups from a configurable claim (a dotted path such as `realm_access.roles`
 * works too), falling back to the userinfo endpoint when the id token lacks the claim.
 */

/** The per-login secrets the server keeps while the browser is at the IdP. */
export interface IdpChecks {
  state: string
  nonce: string
  codeVerifier: string
}

/** An identity provider users log in with. */
export interface IdentityProvider {
  /** The URL to send the browser to. */
  authorizationUrl(checks: IdpChecks): Promise<string>
  /** Completes the login from the callback URL and returns who logged in. */
  finish(callbackUrl: URL, checks: IdpChecks): Promise<StoredIdentity>
}

/** How to reach and talk to the IdP. */
export interface RelyingPartySettings {
  /** The issuer URL; a function because the dev IdP's is known only once the server listens. */
  issuer: () => string
  clientId: string
  clientSecret: string | undefined
  groupsClaim: string
  scopes: readonly string[]
  /** The control plane's /auth/callback, absolute. */
  redirectUri: () => string
  /** Allow plain http (the embedded dev IdP on 127.0.0.1). */
  allowHttp: boolean
  /** Extra authorization parameters (the dev IdP asks for `prompt=login`). */
  extraParams?: Readonly<Record<string, string>>
}

/** The IdP said no, or the exchange failed: shown to the user as access_denied. */
export class IdpError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message)
    this.name = 'IdpError'
  }
}

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path]
  let v: unknown = claims
  for (const part of path.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined
  return v
}

function groupsFrom(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean)
  if (Array.isArray(v)) return v.filter((g): g is string => typeof g === 'string')
  return undefined
}

/** An OIDC relying party for one issuer; discovery happens on first use and is retried after a failure. */
export class OidcRelyingParty implements IdentityProvider {
  private configuration: Promise<oidc.Configuration> | undefined

  /** Creates the relying party; nothing is fetched yet. */
  constructor(private readonly settings: RelyingPartySettings) {}

  /** The authorization URL with PKCE S256, state and nonce. */
  async authorizationUrl(checks: IdpChecks): Promise<string> {
    const config = await this.config()
    return oidc
      .buildAuthorizationUrl(config, {
        redirect_uri: this.settings.redirectUri(),
        scope: this.settings.scopes.join(' '),
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
        state: checks.state,
        nonce: checks.nonce,
        ...this.settings.extraParams,
      })
      .toString()
  }

  /** Exchanges the code, validates the id token (signature, issuer, audience, nonce) and reads the identity. */
  async finish(callbackUrl: URL, checks: IdpChecks): Promise<StoredIdentity> {
    const config = await this.config()
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      })
    } catch (err) {
      throw new IdpError(`the identity provider's answer was not accepted: ${messageOf(err)}`)
    }
    const claims = tokens.claims()
    if (!claims) throw new IdpError('the identity provider returned no id token')
    let all: Record<string, unknown> = {...claims}
    let groups = groupsFrom(claimAt(all, this.settings.groupsClaim))
    if (groups === undefined || all.name === undefined) {
      try {
        all = {...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...all}
        groups = groupsFrom(claimAt(all, this.settings.groupsClaim))
      } catch {
        // No userinfo endpoint, or it refused: go on with what the id token said.
      }
    }
    const str = (k: string): string | undefined => {
      const v = all[k]
      return typeof v === 'string' ? v : undefined
    }
    const email = str('email')
    return {
      sub: claims.sub,
      name: str('name') ?? str('preferred_username') ?? email ?? claims.sub,
      ...(email === undefined ? {} : {email}),
      kind: 'user',
      groups: groups ?? [],
    }
  }

  private config(): Promise<oidc.Configuration> {
    if (!this.configuration) {
      const s = this.settings
      const auth = s.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(s.clientSecret)
      this.configuration = oidc
        .discovery(new URL(s.issuer()), s.clientId, undefined, auth, {
          execute: s.allowHttp ? [oidc.allowInsecureRequests] : [],
        })
        .catch((err: unknown) => {
          this.configuration = undefined
          throw new IdpError(`cannot discover the identity provider at ${s.issuer()}: ${messageOf(err)}`)
        })
    }
    return this.configuration
  }
}
