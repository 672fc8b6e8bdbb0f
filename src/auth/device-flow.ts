/**
 * The device authorization grant (RFC 8628) for machines without a browser: show a code, let the user
 * approve it elsewhere, and poll the token endpoint at the pace the server asks for.
 */
import {
  CLI_CLIENT_ID,
  GrantType,
  type DeviceAuthorizationResponse,
  type DiscoveryDocument,
  type TokenResponse,
} from '../control/api-types.js'
import type {ControlClient} from '../control/client.js'
import {BadResponseError, OAuthError} from '../control/errors.js'
import {fetchJwks, verifyIdToken} from './id-token.js'
import {LoginError} from './loopback.js'
import {checkTokenResponse, sessionFromTokens, type StoredSession} from './tokens.js'

/** RFC 8628 §3.5: each slow_down adds five seconds to the polling interval. */
const SLOW_DOWN_STEP_S = 5

/** What the user must see to approve the login elsewhere. */
export interface DeviceCodePrompt {
  readonly verificationUri: string
  readonly verificationUriComplete: string
  readonly userCode: string
  /** Seconds until the code expires. */
  readonly expiresIn: number
}

/** What a device login needs from its caller. */
export interface DeviceLoginOptions {
  readonly client: ControlClient
  readonly discovery: DiscoveryDocument
  readonly onPrompt: (prompt: DeviceCodePrompt) => void | Promise<void>
  readonly sleep?: ((ms: number) => Promise<void>) | undefined
  readonly now?: (() => number) | undefined
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function checkDeviceAuthorization(body: unknown): DeviceAuthorizationResponse {
  const r = body as Partial<DeviceAuthorizationResponse> | null
  if (
    typeof r?.device_code !== 'string' ||
    typeof r.user_code !== 'string' ||
    typeof r.verification_uri !== 'string' ||
    typeof r.expires_in !== 'number'
  ) {
    throw new BadResponseError(
      'The control plane answered the device authorization request without a device code.',
    )
  }
  return r as DeviceAuthorizationResponse
}

function deviceCodeExpired(): LoginError {
  return new LoginError('E_LOGIN_TIMEOUT', 'The device code expired before the login was approved.', [
    'Run `dbgate login --device` again and approve the code sooner.',
  ])
}

/**
 * Polls the token endpoint until the user approves, denies, or the code expires. Exported on its own so
 * the state machine can be tested against a server that answers pending and slow_down on cue.
 */
export async function pollDeviceToken(
  client: ControlClient,
  tokenEndpoint: string,
  auth: Pick<DeviceAuthorizationResponse, 'device_code' | 'expires_in' | 'interval'>,
  sleep: (ms: number) => Promise<void> = realSleep,
  now: () => number = Date.now,
): Promise<TokenResponse> {
  let intervalS = Math.max(1, typeof auth.interval === 'number' ? auth.interval : 5)
  const deadline = now() + auth.expires_in * 1000
  for (;;) {
    await sleep(intervalS * 1000)
    if (now() >= deadline) break
    try {
      const body = await client.post(tokenEndpoint, {
        form: {grant_type: GrantType.deviceCode, device_code: auth.device_code, client_id: CLI_CLIENT_ID},
      })
      return checkTokenResponse(body)
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      switch (err.oauthError) {
        case 'authorization_pending':
          continue
        case 'slow_down':
          intervalS += SLOW_DOWN_STEP_S
          continue
        case 'expired_token':
          throw deviceCodeExpired()
        case 'access_denied':
          throw new LoginError('E_LOGIN_DENIED', 'The login was denied in the browser.')
        default:
          throw err
      }
    }
  }
  throw deviceCodeExpired()
}

/** Runs one device login to completion and returns the new session. */
export async function deviceLogin(options: DeviceLoginOptions): Promise<StoredSession> {
  const {client, discovery} = options
  const now = options.now ?? Date.now
  const auth = checkDeviceAuthorization(
    await client.post(discovery.device_authorization_endpoint, {
      form: {client_id: CLI_CLIENT_ID, scope: 'openid'},
    }),
  )
  await options.onPrompt({
    verificationUri: auth.verification_uri,
    verificationUriComplete: auth.verification_uri_complete ?? auth.verification_uri,
    userCode: auth.user_code,
    expiresIn: auth.expires_in,
  })
  const tokens = await pollDeviceToken(
    client,
    discovery.token_endpoint,
    auth,
    options.sleep ?? realSleep,
    now,
  )
  if (tokens.id_token !== undefined) {
    const jwks = await fetchJwks(client, discovery.jwks_uri)
    await verifyIdToken(tokens.id_token, jwks, {issuer: discovery.issuer, nonce: undefined})
  }
  return sessionFromTokens(client.baseUrl, discovery, tokens, now())
}
