/**
 * The token endpoint's grants (refresh, machine token) and the session we keep between commands.
 */
import {
  CLI_CLIENT_ID,
  GrantType,
  type DiscoveryDocument,
  type Identity,
  type TokenResponse,
} from '../control/api-types.js'
import type {ControlClient} from '../control/client.js'
import {BadResponseError, OAuthError} from '../control/errors.js'
import {DbgateError, ExitCode, NotLoggedInError} from '../errors.js'

/** Refresh an access token this long before it expires, so a request never leaves with a dying token. */
export const REFRESH_MARGIN_MS = 30_000

/** What a user sees when the refresh token is gone; NotLoggedInError adds "Run `dbgate login`." */
export const SESSION_EXPIRED = 'Your session has expired.'

/** A logged-in session as kept in the token store (one per API URL). Never printed. */
export interface StoredSession {
  readonly version: 1
  /** The control plane's base URL, normalised (no trailing slash). */
  readonly apiUrl: string
  readonly issuer: string
  readonly tokenEndpoint: string
  readonly revocationEndpoint: string
  readonly accessToken: string
  /** When accessToken expires, ms since the epoch. */
  readonly accessTokenExpiresAt: number
  readonly refreshToken: string | undefined
  readonly identity: Identity
}

/** True when the access token has expired or will within the refresh margin. */
export function needsRefresh(expiresAt: number, now: number, marginMs = REFRESH_MARGIN_MS): boolean {
  return expiresAt - now <= marginMs
}

/** Checks the fields of a token response we rely on; a control plane that omits them is broken. */
export function checkTokenResponse(body: unknown): TokenResponse {
  const r = body as Partial<TokenResponse> | null
  const id = r?.identity as Partial<Identity> | undefined
  if (
    typeof r?.access_token !== 'string' ||
    typeof r.expires_in !== 'number' ||
    typeof id?.sub !== 'string' ||
    !Array.isArray(id.groups) ||
    !Array.isArray(id.roles)
  ) {
    throw new BadResponseError(
      'The control plane answered the token request without an access token and identity.',
    )
  }
  return r as TokenResponse
}

/** Builds the session to store from a token response. */
export function sessionFromTokens(
  apiUrl: string,
  discovery: Pick<DiscoveryDocument, 'issuer' | 'token_endpoint' | 'revocation_endpoint'>,
  tokens: TokenResponse,
  now: number,
): StoredSession {
  return {
    version: 1,
    apiUrl,
    issuer: discovery.issuer,
    tokenEndpoint: discovery.token_endpoint,
    revocationEndpoint: discovery.revocation_endpoint,
    accessToken: tokens.access_token,
    accessTokenExpiresAt: now + tokens.expires_in * 1000,
    refreshToken: tokens.refresh_token,
    identity: tokens.identity,
  }
}

/** An OAuth refusal that means the grant itself is dead (revoked, expired, reused), not a transient fault. */
function isDeadGrant(err: unknown): boolean {
  return (
    err instanceof NotLoggedInError ||
    (err instanceof OAuthError &&
      ['invalid_grant', 'invalid_client', 'unauthorized_client'].includes(err.oauthError))
  )
}

/** Exchanges the refresh token for new tokens; a dead refresh token is NotLoggedInError (exit 5). */
export async function refreshSession(
  client: ControlClient,
  session: StoredSession,
  now: number,
): Promise<StoredSession> {
  if (session.refreshToken === undefined) {
    throw new NotLoggedInError(SESSION_EXPIRED)
  }
  let body: unknown
  try {
    body = await client.post(session.tokenEndpoint, {
      form: {
        grant_type: GrantType.refreshToken,
        refresh_token: session.refreshToken,
        client_id: CLI_CLIENT_ID,
      },
    })
  } catch (err) {
    if (isDeadGrant(err)) throw new NotLoggedInError(SESSION_EXPIRED)
    throw err
  }
  const tokens = checkTokenResponse(body)
  const next = sessionFromTokens(
    session.apiUrl,
    {
      issuer: session.issuer,
      token_endpoint: session.tokenEndpoint,
      revocation_endpoint: session.revocationEndpoint,
    },
    tokens,
    now,
  )
  // Without rotation the server keeps the old refresh token valid; keep using it.
  return next.refreshToken === undefined ? {...next, refreshToken: session.refreshToken} : next
}

/** Exchanges a machine token (DBGATE_TOKEN) for an access token that lives only in this process. */
export async function exchangeMachineToken(
  client: ControlClient,
  discovery: DiscoveryDocument,
  machineToken: string,
): Promise<TokenResponse> {
  try {
    const body = await client.post(discovery.token_endpoint, {
      form: {grant_type: GrantType.machineToken, machine_token: machineToken, client_id: CLI_CLIENT_ID},
    })
    return checkTokenResponse(body)
  } catch (err) {
    if (isDeadGrant(err)) {
      throw new DbgateError(
        'E_NOT_LOGGED_IN',
        'The machine token in DBGATE_TOKEN was refused by the control plane: it is unknown, expired or revoked.',
        {
          exitCode: ExitCode.notLoggedIn,
          suggestions: ['Ask an admin for a new token (`dbgate server tokens create`).'],
        },
      )
    }
    throw err
  }
}
