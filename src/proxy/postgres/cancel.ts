/**
 * Cancel keys: each client gets the proxy's own BackendKeyData; a CancelRequest carrying it is sent
 * on to the upstream server with the upstream key, over a new connection as the protocol requires.
 */
import {randomBytes, randomInt} from 'node:crypto'

import type {PgTarget} from './target.js'
import {openTransport} from './upstream.js'
import {cancelRequest} from './wire.js'

interface Upstream {
  readonly target: PgTarget
  readonly pid: number
  readonly secret: number
  /** Set while the session handles a cancel itself (a statement held for approval never reached the server). */
  local: (() => boolean) | undefined
}

/** A key handed to a client, and how to forget it when the session ends. */
export interface IssuedKey {
  readonly pid: number
  readonly secret: number
  release(): void
  /** While set, a cancel with this key first goes to `handler`; `true` means it was handled, not forwarded. */
  intercept(handler: (() => boolean) | undefined): void
}

/** The cancel keys of one engine's sessions. */
export class CancelMap {
  private readonly keys = new Map<string, Upstream>()

  /** Issues a proxy key for an upstream key. */
  register(target: PgTarget, upstreamPid: number, upstreamSecret: number): IssuedKey {
    for (;;) {
      const pid = randomInt(1, 0x7fffffff)
      const secret = randomBytes(4).readInt32BE(0)
      const key = `${pid}:${secret}`
      if (this.keys.has(key)) continue
      const up: Upstream = {target, pid: upstreamPid, secret: upstreamSecret, local: undefined}
      this.keys.set(key, up)
      return {
        pid,
        secret,
        release: () => this.keys.delete(key),
        intercept: (handler) => {
          up.local = handler
        },
      }
    }
  }

  /** Sends the cancel upstream if the key is known; resolves false for unknown keys (silently, like a server). */
  async cancel(pid: number, secret: number): Promise<boolean> {
    const up = this.keys.get(`${pid}:${secret}`)
    if (up === undefined) return false
    if (up.local?.() === true) return true
    const socket = await openTransport(up.target)
    await new Promise<void>((resolve) => {
      socket.on('error', () => resolve())
      socket.on('close', () => resolve())
      socket.end(cancelRequest(up.pid, up.secret))
    })
    return true
  }
}
