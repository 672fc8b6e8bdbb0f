/**
 * TARGET mode's connection of the audit trail to the control plane: the device key (created and registered
 * for the caller's identity on first use, which covers machine tokens that never ran `dbgate login`), lane
 * registration, batch upload with an access token that is renewed before it expires, and the status lines
 * the user hears when uploads start failing and when they work again.
 */
import {ensureAuditDevice, registerLane} from '../audit/device-registration.js'
import type {TrailUpload} from '../audit/trail.js'
import {getAuthenticatedClient, type AuthContext, type AuthenticatedClient} from '../auth/session.js'
import type {AuditBatchRequest} from '../control/api-types.js'
import {uploadAuditBatch} from '../control/audit.js'
import type {ControlClient} from '../control/client.js'
import {ControlPlaneError, OAuthError} from '../control/errors.js'
import {DbgateError, NotLoggedInError, UnreachableError} from '../errors.js'

/** Renew the upload's access token this long before it expires. */
const RENEW_BEFORE_MS = 60_000

/**
 * Why an upload failed, in words safe to print: our own unreachable message (the URL and a socket code),
 * else only the HTTP status and API error code; never a token, a server's free text or an event.
 */
export function describeUploadFailure(err: unknown): string {
  if (err instanceof UnreachableError) return err.message.replace(/^Cannot reach/, 'cannot reach')
  if (err instanceof ControlPlaneError) {
    if (err.status === 401) return `the control plane refused the credentials (HTTP 401, ${err.apiCode})`
    if (err.status === 403) return `the control plane refused the upload (HTTP 403, ${err.apiCode})`
    if (err.status >= 500) return `the control plane failed (HTTP ${err.status})`
    return `the control plane refused the batch (HTTP ${err.status}, ${err.apiCode})`
  }
  if (err instanceof NotLoggedInError)
    return 'the control plane refused the credentials (HTTP 401: not logged in, or the session expired)'
  if (err instanceof OAuthError) return `renewing the access token was refused (${err.oauthError})`
  if (err instanceof DbgateError) return `${err.code}`
  return 'an unexpected error'
}

/**
 * One status line when uploads start failing (not one per retry) and one when they work again. The events
 * are safe meanwhile: they stay in the local spool, and statements keep running.
 */
export class UploadStatus {
  private failing = false

  /** `print` writes one line (stderr). */
  constructor(private readonly print: (line: string) => void) {}

  /** An upload attempt failed. */
  failed(err: unknown): void {
    if (this.failing) return
    this.failing = true
    this.print(
      `dbgate: audit upload failed: ${describeUploadFailure(err)}. The events stay in the local spool and are ` +
        `retried in the background; statements keep running.`,
    )
  }

  /** An upload was acknowledged. */
  succeeded(): void {
    if (!this.failing) return
    this.failing = false
    this.print('dbgate: audit uploads to the control plane work again; the spooled events are being sent.')
  }
}

/** The control-plane side of a TARGET-mode trail, for the identity `auth` speaks for. */
export async function trailUpload(
  ctx: AuthContext,
  stateDir: string,
  auth: AuthenticatedClient,
  print?: (line: string) => void,
): Promise<TrailUpload> {
  let current = auth
  const client = async (): Promise<ControlClient> => {
    if (current.accessTokenExpiresAt - Date.now() < RENEW_BEFORE_MS)
      current = await getAuthenticatedClient(ctx)
    return current.client
  }
  const who = {sub: auth.identity.sub, email: auth.identity.email}
  const key = await ensureAuditDevice(auth.client, {stateDir, env: ctx.env, keychain: ctx.keychain}, who)
  const status = print === undefined ? undefined : new UploadStatus(print)
  return {
    key,
    register: async (deviceId) => {
      if (deviceId !== key.deviceId) await registerLane(await client(), key, deviceId)
    },
    send: async (batch) => {
      try {
        // The request type is the mutable JSON of the same shape.
        const answer = await uploadAuditBatch(await client(), batch as unknown as AuditBatchRequest)
        status?.succeeded()
        return answer
      } catch (err) {
        status?.failed(err)
        throw err
      }
    },
  }
}
