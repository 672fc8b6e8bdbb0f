/**
 * The browser login: OAuth 2.0 authorization code with PKCE (S256), state and nonce, redirected to a
 * loopback listener; the code is exchanged at the token endpoint and the id_token verified.
 */
import {CLI_CLIENT_ID, GrantType, type DiscoveryDocument} from '../control/api-types.js'
import type {ControlClient} from '../control/client.js'
import {fetchJwks, verifyIdToken} from './id-token.js'
import {LoginError, startLoopback} from './loopback.js'
import {createLoginSecrets, type LoginSecrets} from './pkce.js'
import {checkTokenResponse, sessionFromTokens, type StoredSession} from './tokens.js'

/** How long a browser login may take before the CLI gives up. */
export const LOGIN_TIMEOUT_MS = 5 * 60_000

/** What a browser login needs from its caller. */
export interface BrowserLoginOptions {
  readonly client: ControlClient
  readonly discovery: DiscoveryDocument
  /** Shows the authorization URL (print it, open a browser) once the listener is up. */
  readonly onAuthorizationUrl: (url: string) => void | Promise<void>
  /** Keeps the new session; runs before the browser is told the login succeeded. */
  readonly onSession: (session: StoredSession) => void | Promise<void>
  readonly timeoutMs?: number | undefined
  readonly now?: (() => number) | undefined
}

/** The URL the browser opens to start the login. */
export function authorizationUrl(endpoint: string, redirectUri: string, secrets: LoginSecrets): string {
  const url = new URL(endpoint)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', CLI_CLIENT_ID)
  url.searchParams.set('redirect_uri', redirectUri)
  url.searchParams.set('code_challenge', secrets.codeChallenge)
  url.searchParams.set('code_challenge_method', 'S256')
  url.searchParams.set('state', secrets.state)
  url.searchParams.set('nonce', secrets.nonce)
  url.searchParams.set('scope', 'openid')
  return url.href
}

/** Runs one browser login to completion and returns the new session. */
export async function browserLogin(options: BrowserLoginOptions): Promise<StoredSession> {
  const {client, discovery} = options
  const now = options.now ?? Date.now
  const secrets = createLoginSecrets()
  const loopback = await startLoopback(secrets.state)
  let session: StoredSession | undefined
  try {
    const finish = async (code: string): Promise<string> => {
      const body = await client.post(discovery.token_endpoint, {
        form: {
          grant_type: GrantType.authorizationCode,
          code,
          code_verifier: secrets.codeVerifier,
          redirect_uri: loopback.redirectUri,
          client_id: CLI_CLIENT_ID,
        },
      })
      const tokens = checkTokenResponse(body)
      if (tokens.id_token === undefined) {
        throw new LoginError(
          'E_ID_TOKEN_INVALID',
          'The control plane answered the login without an id_token.',
        )
      }
      const jwks = await fetchJwks(client, discovery.jwks_uri)
      await verifyIdToken(tokens.id_token, jwks, {issuer: discovery.issuer, nonce: secrets.nonce})
      session = sessionFromTokens(client.baseUrl, discovery, tokens, now())
      await options.onSession(session)
      return `Logged in as ${tokens.identity.name || tokens.identity.sub}. You can close this tab.`
    }
    const waiting = loopback.waitForCallback(finish, options.timeoutMs ?? LOGIN_TIMEOUT_MS)
    // If showing the URL fails, `finally` cancels the wait; its rejection must not go unhandled.
    waiting.catch(() => undefined)
    await options.onAuthorizationUrl(
      authorizationUrl(discovery.authorization_endpoint, loopback.redirectUri, secrets),
    )
    await waiting
  } finally {
    loopback.close()
  }
  if (session === undefined) throw new LoginError('E_LOGIN_FAILED', 'The login ended without a session.')
  return session
}
