/**
 * The loopback redirect of a browser login (RFC 8252 §7.3): an HTTP server on 127.0.0.1 and a random port
 * that receives exactly one `/callback`, checks its state, lets the caller finish the login, and shows the
 * outcome as a page in the browser.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {DbgateError, messageOf} from '../errors.js'
import {sameSecret} from './pkce.js'

/** A login that failed in the browser or at the callback. */
export class LoginError extends DbgateError {
  constructor(code: string, message: string, suggestions: readonly string[] = ['Run `dbgate login` again.']) {
    super(code, message, {suggestions})
    this.name = 'LoginError'
  }
}

/** A running loopback listener. */
export interface Loopback {
  /** The redirect_uri to send to the authorization endpoint. */
  readonly redirectUri: string
  /**
   * Resolves once a callback with the right state arrived and `finish(code)` succeeded (its result is the
   * success line shown in the browser); rejects on a wrong state, an error callback, a failed `finish`, or
   * after `timeoutMs`. Closes the listener either way.
   */
  waitForCallback(finish: (code: string) => Promise<string>, timeoutMs: number): Promise<void>
  /** Stops listening (idempotent). */
  close(): void
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** The page the browser shows when the login finishes, one way or the other. */
export function resultPage(ok: boolean, message: string): string {
  const title = ok ? 'dbgate: logged in' : 'dbgate: login failed'
  const colour = ok ? '#1a7f37' : '#cf222e'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:36rem;line-height:1.5}h1{color:${colour}}</style>
</head><body><h1>${ok ? 'Logged in' : 'Login failed'}</h1><p id="message">${escapeHtml(message)}</p>
${ok ? '' : '<p>Return to your terminal and run <code>dbgate login</code> again.</p>'}</body></html>
`
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close',
  })
  res.end(html)
}

/** Checks one callback's query; returns the code, or the error to show and throw. */
export function readCallback(
  query: URLSearchParams,
  expectedState: string,
): {code: string} | {error: LoginError} {
  if (!sameSecret(expectedState, query.get('state'))) {
    return {
      error: new LoginError(
        'E_LOGIN_STATE',
        'The login response does not belong to the login this terminal started (state mismatch).',
      ),
    }
  }
  const error = query.get('error')
  if (error !== null) {
    const description = query.get('error_description')
    const what =
      error === 'access_denied' ? 'The login was denied or cancelled' : `The login failed (${error})`
    return {error: new LoginError('E_LOGIN_FAILED', description ? `${what}: ${description}` : `${what}.`)}
  }
  const code = query.get('code')
  if (code === null || code === '') {
    return {error: new LoginError('E_LOGIN_FAILED', 'The login response carries no authorization code.')}
  }
  return {code}
}

/** Starts the loopback listener on 127.0.0.1 and a random port. */
export async function startLoopback(expectedState: string): Promise<Loopback> {
  let onRequest: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => send(res, 503, '')
  const server: Server = createServer((req, res) => onRequest(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const {port} = server.address() as AddressInfo
  const redirectUri = `http://127.0.0.1:${port}/callback`
  let cancel = (): void => undefined
  const close = (): void => {
    cancel()
    server.close()
    server.closeIdleConnections()
  }

  const waitForCallback = (finish: (code: string) => Promise<string>, timeoutMs: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let done = false
      let busy = false
      const timer = setTimeout(() => {
        settle(
          new LoginError(
            'E_LOGIN_TIMEOUT',
            `No login completed in the browser within ${Math.round(timeoutMs / 1000)} seconds.`,
          ),
        )
      }, timeoutMs)
      const settle = (err?: Error): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        // Stop listening now, but let the result page reach the browser before dropping what is left open.
        server.close()
        server.closeIdleConnections()
        setTimeout(() => server.closeAllConnections(), 1000).unref()
        if (err === undefined) resolve()
        else reject(err)
      }
      cancel = () => settle(new LoginError('E_LOGIN_CANCELLED', 'The login was cancelled.'))
      onRequest = (req, res) => {
        const url = new URL(req.url ?? '/', redirectUri)
        if (url.pathname !== '/callback') return send(res, 404, resultPage(false, 'Not found.'))
        if (done || busy) return send(res, 409, resultPage(false, 'This login has already finished.'))
        const checked = readCallback(url.searchParams, expectedState)
        if ('error' in checked) {
          send(res, 400, resultPage(false, checked.error.message))
          return settle(checked.error)
        }
        busy = true
        finish(checked.code).then(
          (message) => {
            send(res, 200, resultPage(true, message))
            settle()
          },
          (err: unknown) => {
            send(res, 400, resultPage(false, messageOf(err)))
            settle(err instanceof Error ? err : new Error(messageOf(err)))
          },
        )
      }
    })

  return {redirectUri, waitForCallback, close}
}
