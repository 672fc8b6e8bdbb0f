/**
 * What both engines' upstream connections share: the two ways opening one fails (each engine turns them
 * into its own protocol's error for the client) and the TLS handshake over a connected socket.
 */
import type {Socket} from 'node:net'
import {connect as tlsConnect, type ConnectionOptions, type TLSSocket} from 'node:tls'

/** The upstream could not be reached (network, TLS); the client gets 08001. */
export class UpstreamUnreachableError extends Error {
  readonly kind = 'unreachable'
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'UpstreamUnreachableError'
  }
}

/** The upstream answered with an error (bad password, unknown database...); `frame` is its ErrorResponse. */
export class UpstreamRejectedError extends Error {
  readonly kind = 'rejected'
  constructor(
    message: string,
    readonly frame: Buffer | undefined,
    readonly sqlState: string,
  ) {
    super(message)
    this.name = 'UpstreamRejectedError'
  }
}

/**
 * Resolves with `socket` once it emits `ready` ('connect', or 'secureConnect' after a TLS handshake), with
 * Nagle off and later errors left to the session; rejects with UpstreamUnreachableError, worded by `says`,
 * on an error or after `timeoutMs` (the socket is then destroyed).
 */
export function whenReady<S extends Socket>(
  socket: S,
  ready: 'connect' | 'secureConnect',
  timeoutMs: number,
  says: {readonly timeout: string; readonly error: (err: Error) => string},
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new UpstreamUnreachableError(says.timeout))
    }, timeoutMs)
    const onError = (err: Error): void => {
      clearTimeout(timer)
      reject(new UpstreamUnreachableError(says.error(err), {cause: err}))
    }
    socket.once(ready, () => {
      clearTimeout(timer)
      socket.off('error', onError)
      socket.on('error', () => undefined)
      socket.setNoDelay(true)
      resolve(socket)
    })
    socket.once('error', onError)
  })
}

/** Runs the TLS handshake over a connected socket (both engines); UpstreamUnreachableError on failure. */
export function upgradeTls(options: ConnectionOptions, timeoutMs: number): Promise<TLSSocket> {
  return whenReady(tlsConnect(options), 'secureConnect', timeoutMs, {
    timeout: 'timed out during the TLS handshake',
    error: (err) => `TLS: ${err.message}`,
  })
}
