/**
 * TARGET mode's connection of the audit trail to the control plane: the device key (created and registered
 * for the caller's identity on first use, which covers machine tokens that never ran `dbgate login`), lane
 * registration, and batch upload with an access token that is renewed before it expires.
 */
import {ensureAuditDevice, registerLane} from '../audit/device-registration.js'
import type {TrailUpload} from '../audit/trail.js'
import {getAuthenticatedClient, type AuthContext, type AuthenticatedClient} from '../auth/session.js'
import type {AuditBatchRequest} from '../control/api-types.js'
import {uploadAuditBatch} from '../control/audit.js'
import type {ControlClient} from '../control/client.js'

/** Renew the upload's access token this long before it expires. */
const RENEW_BEFORE_MS = 60_000

/** The control-plane side of a TARGET-mode trail, for the identity `auth` speaks for. */
export async function trailUpload(
  ctx: AuthContext,
  stateDir: string,
  auth: AuthenticatedClient,
  onError?: (err: unknown, attempt: number) => void,
): Promise<TrailUpload> {
  let current = auth
  const client = async (): Promise<ControlClient> => {
    if (current.accessTokenExpiresAt - Date.now() < RENEW_BEFORE_MS)
      current = await getAuthenticatedClient(ctx)
    return current.client
  }
  const key = await ensureAuditDevice(auth.client, {stateDir, env: ctx.env, keychain: ctx.keychain})
  return {
    key,
    register: async (deviceId) => {
      if (deviceId !== key.deviceId) await registerLane(await client(), key, deviceId)
    },
    // The request type is the mutable JSON of the same shape.
    send: async (batch) => uploadAuditBatch(await client(), batch as unknown as AuditBatchRequest),
    onError,
  }
}
