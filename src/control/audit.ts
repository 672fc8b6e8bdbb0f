/**
 * The audit trail's calls to the control plane: register the device key, upload signed batches, search and
 * verify the stored trail. Thin typed wrappers over ControlClient (its errors carry stable codes).
 */
import type {
  AuditBatchRequest,
  AuditBatchResponse,
  AuditDeviceResponse,
  AuditSearchResponse,
  AuditVerifyResponse,
} from './api-types.js'
import type {ControlClient} from './client.js'

/** Registers the device's public key (raw base64url) for the caller; idempotent. */
export function registerAuditDevice(
  client: ControlClient,
  deviceId: string,
  publicKey: string,
): Promise<AuditDeviceResponse> {
  return client.post<AuditDeviceResponse>('/api/v1/audit/devices', {
    json: {device_id: deviceId, public_key: publicKey},
  })
}

/** Uploads one signed batch; resolves with the acknowledged seq. */
export function uploadAuditBatch(
  client: ControlClient,
  batch: AuditBatchRequest,
): Promise<AuditBatchResponse> {
  return client.post<AuditBatchResponse>('/api/v1/audit/batches', {json: batch})
}

/** Filters of `GET /api/v1/audit/events` (times as ISO 8601). */
export interface AuditSearchFilters {
  readonly user?: string | undefined
  readonly target?: string | undefined
  readonly table?: string | undefined
  readonly decision?: 'allow' | 'deny' | 'review' | undefined
  readonly actor?: 'human' | 'agent' | 'ci' | undefined
  readonly since?: string | undefined
  readonly until?: string | undefined
  readonly text?: string | undefined
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
}

/** One page of a search, newest first. */
export function searchAudit(
  client: ControlClient,
  filters: AuditSearchFilters,
): Promise<AuditSearchResponse> {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, String(v as string | number))
  const qs = q.toString()
  return client.get<AuditSearchResponse>(`/api/v1/audit/events${qs === '' ? '' : `?${qs}`}`)
}

/** Re-checks the stored trail (auditor or admin). */
export function verifyStoredAudit(client: ControlClient, since?: string): Promise<AuditVerifyResponse> {
  const qs = since === undefined ? '' : `?${new URLSearchParams({since}).toString()}`
  return client.get<AuditVerifyResponse>(`/api/v1/audit/verify${qs}`)
}
