import {randomInt, randomUUID} from 'node:crypto'

import {CLI_CLIENT_ID, type DeviceAuthorizationResponse, type TokenResponse} from '../control/api-types.js'
import type {ServerContext} from './context.js'
import {randomToken, sha256Hex} from './crypto.js'
import {OAuthError} from './http-errors.js'
import {startSession} from './sessions.js'
import {StoreConflictError, type DeviceRecord} from './store/index.js'

/**
 * The device authorization grant (RFC 8628): codes, the user-code lookup behind GET/POST /device, and the
 * CLI's polling with authorization_pending / slow_down / expired_token / access_denied.
 */

// RFC 8628 §6.1: consonants only, no vowels (no words), no easily confused letters.
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'

function newUserCode(): string {
  let s = ''
  for (let i = 0; i < 8; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return s
}

/** "abcd-efgh", "ABCDEFGH", " abcd efgh " → "ABCDEFGH"; undefined if it cannot be a user code. */
export function normaliseUserCode(input: string): string | undefined {
  const s = input.toUpperCase().replace(/[\s-]/g, '')
  return /^[A-Z]{8}$/.test(s) ? s : undefined
}

/** "ABCDEFGH" → "ABCD-EFGH". */
export function displayUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`
}

/** `POST /auth/device/code`. */
export async function startDeviceAuthorization(
  ctx: ServerContext,
  clientId: string,
): Promise<DeviceAuthorizationResponse> {
  if (clientId !== CLI_CLIENT_ID)
    throw new OAuthError('invalid_client', `unknown client_id; use ${CLI_CLIENT_ID}`, 401)
  const now = ctx.now()
  const t = ctx.config.tokens
  const deviceCode = `dbg_dc_${randomToken(32)}`
  for (let attempt = 0; ; attempt++) {
    const userCode = newUserCode()
    const record: DeviceRecord = {
      id: randomUUID(),
      deviceCodeHash: sha256Hex(deviceCode),
      userCode,
      status: 'pending',
      identity: null,
      intervalSeconds: t.device_poll_interval,
      lastPolledAt: null,
      expiresAt: now + t.device_code_ttl * 1000,
    }
    try {
      await ctx.store.createDevice(record)
    } catch (err) {
      // A pending user code clashed (1 in 2.5e10 per pending code): draw another.
      if (err instanceof StoreConflictError && attempt < 5) continue
      throw err
    }
    const display = displayUserCode(userCode)
    const verification = `${ctx.publicUrl()}/device`
    return {
      device_code: deviceCode,
      user_code: display,
      verification_uri: verification,
      verification_uri_complete: `${verification}?user_code=${encodeURIComponent(display)}`,
      expires_in: t.device_code_ttl,
      interval: t.device_poll_interval,
    }
  }
}

/** The device_code grant: one poll. */
export async function deviceCodeGrant(
  ctx: ServerContext,
  p: {device_code?: string; client_id?: string},
): Promise<TokenResponse> {
  if (p.client_id !== CLI_CLIENT_ID)
    throw new OAuthError('invalid_client', `unknown client_id; use ${CLI_CLIENT_ID}`, 401)
  if (!p.device_code) throw new OAuthError('invalid_request', 'device_code is required')
  const now = ctx.now()
  const device = await ctx.store.findDeviceByCodeHash(sha256Hex(p.device_code))
  if (!device) throw new OAuthError('invalid_grant', 'unknown device_code')
  if (device.expiresAt <= now)
    throw new OAuthError('expired_token', 'the device code has expired; start again')
  switch (device.status) {
    case 'denied':
      throw new OAuthError('access_denied', 'the user denied the request')
    case 'consumed':
      throw new OAuthError('invalid_grant', 'the device code was already used')
    case 'pending': {
      const tooSoon =
        device.lastPolledAt !== null && now - device.lastPolledAt < device.intervalSeconds * 1000
      const interval = tooSoon ? device.intervalSeconds + 5 : device.intervalSeconds
      await ctx.store.recordDevicePoll(device.id, now, interval)
      if (tooSoon) throw new OAuthError('slow_down', `poll at most every ${interval} seconds`)
      throw new OAuthError('authorization_pending', 'the user has not approved the request yet')
    }
    case 'approved': {
      if (!device.identity || !(await ctx.store.consumeDevice(device.id)))
        throw new OAuthError('invalid_grant', 'the device code was already used')
      return startSession(ctx, device.identity, undefined)
    }
  }
}
