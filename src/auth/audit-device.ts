/**
 * The audit device at login: the device key registered for the identity that logged in (its own device
 * restored if another identity used this install since), that device's events left unuploaded uploaded
 * now with its own key, and how many events of other identities wait here for them to log in again.
 */
import {ensureAuditDevice, registerLane} from '../audit/device-registration.js'
import {uploadWaitingLanes, waitingDevices} from '../audit/waiting-spools.js'
import type {AuditBatchRequest, Identity} from '../control/api-types.js'
import {uploadAuditBatch} from '../control/audit.js'
import type {ControlClient} from '../control/client.js'
import {messageOf} from '../errors.js'
import type {AuthContext} from './session.js'

/** What login reports about the audit device. */
export type LoginDevice =
  | {
      readonly id: string
      readonly key_id: string
      readonly store: string
      /** Events recorded earlier as this identity on this install, uploaded now. */
      readonly uploaded: number
      /** Events of this identity still waiting (a lane held by a running process, or the upload failed). */
      readonly waiting: number
      /** Events of other identities that wait for them to log in again on this install. */
      readonly others_waiting: readonly {
        readonly identity: string
        readonly email?: string | undefined
        readonly events: number
      }[]
    }
  | {readonly error: string}

/**
 * Creates (first time), restores or registers the device key for `identity`, and uploads what it left.
 * A failure does not fail the login: a TARGET-mode proxy registers the key again before it spools anything.
 */
export async function setUpAuditDevice(
  ctx: AuthContext,
  client: ControlClient,
  identity: Identity,
): Promise<LoginDevice | undefined> {
  const stateDir = ctx.stateDir
  if (stateDir === undefined) return undefined
  const env = {stateDir, env: ctx.env, keychain: ctx.keychain}
  try {
    const key = await ensureAuditDevice(client, env, {sub: identity.sub, email: identity.email})
    const {uploaded, waiting} = await uploadWaitingLanes(stateDir, key, {
      // The request type is the mutable JSON of the same shape.
      send: (batch) => uploadAuditBatch(client, batch as unknown as AuditBatchRequest),
      register: async (deviceId) => {
        if (deviceId !== key.deviceId) await registerLane(client, key, deviceId)
      },
    })
    const others = waitingDevices(env).map((d) => ({
      identity: d.owner?.sub ?? 'an earlier identity',
      ...(d.owner?.email === undefined ? {} : {email: d.owner.email}),
      events: d.events,
    }))
    return {id: key.deviceId, key_id: key.keyId, store: key.store, uploaded, waiting, others_waiting: others}
  } catch (err) {
    return {error: messageOf(err)}
  }
}
