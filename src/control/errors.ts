/**
 * How control-plane answers become DbgateErrors: one mapping, so every command reports the same failure
 * with the same code and exit code.
 */
import {DbgateError, ExitCode, NotLoggedInError, UnreachableError} from '../errors.js'

/** Socket-level failures that mean "the control plane is not there", not "it said no". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

/** The control plane answered, but with an error (HTTP status and its API error code). */
export class ControlPlaneError extends DbgateError {
  readonly status: number
  readonly apiCode: string

  constructor(status: number, apiCode: string, message: string, suggestions: readonly string[] = []) {
    super(`E_API_${apiCode.toUpperCase()}`, message, {exitCode: ExitCode.error, suggestions})
    this.name = 'ControlPlaneError'
    this.status = status
    this.apiCode = apiCode
  }
}

/** An OAuth-format error from /auth/* (RFC 6749 §5.2): the flows switch on `oauthError`. */
export class OAuthError extends DbgateError {
  readonly status: number
  /** An OAuthErrorCode as a rule, but a server may send codes we do not know. */
  readonly oauthError: string

  constructor(status: number, oauthError: string, description: string | undefined) {
    const detail = description === undefined || description === '' ? '' : `: ${description}`
    super('E_OAUTH', `The control plane refused the request (${oauthError})${detail}`, {
      exitCode: ExitCode.error,
    })
    this.name = 'OAuthError'
    this.status = status
    this.oauthError = oauthError
  }
}

/** The control plane answered something that is not the JSON it promised. */
export class BadResponseError extends DbgateError {
  constructor(message: string) {
    super('E_BAD_RESPONSE', message, {
      exitCode: ExitCode.error,
      suggestions: ['Check that the API URL points at a dbgate control plane (`dbgate login --api URL`).'],
    })
    this.name = 'BadResponseError'
  }
}

/** True when a thrown network error means the control plane could not be reached at all. */
export function isUnreachable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const code = (err as {code?: unknown}).code
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true
  const cause = (err as {cause?: unknown}).cause
  return cause !== undefined && cause !== err && isUnreachable(cause)
}

/** Wraps a network failure of a request to `baseUrl` as UnreachableError (exit 6), or rethrows it. */
export function networkError(baseUrl: string, err: unknown): Error {
  if (isUnreachable(err)) {
    const code = (err as {code?: string}).code ?? 'network error'
    return new UnreachableError(`the control plane at ${baseUrl}`, code, err)
  }
  return err instanceof Error ? err : new Error(String(err))
}

function shorten(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

/** Maps a non-2xx answer (status, content type, raw body) to the DbgateError a user should see. */
export function httpError(baseUrl: string, status: number, contentType: string, text: string): DbgateError {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    const shown =
      text === ''
        ? 'an empty body'
        : `a non-JSON body (${contentType || 'no content type'}): ${shorten(text)}`
    if (status === 401) return new NotLoggedInError()
    return new BadResponseError(`The control plane at ${baseUrl} answered HTTP ${status} with ${shown}`)
  }
  const err = (body as {error?: unknown} | null)?.error
  // OAuth endpoints answer {error: "invalid_grant", error_description}; API endpoints {error: {code, message}}.
  if (typeof err === 'string') {
    const description = (body as {error_description?: unknown}).error_description
    return new OAuthError(status, err, typeof description === 'string' ? description : undefined)
  }
  const code = typeof err === 'object' && err !== null ? (err as {code?: unknown}).code : undefined
  const message = typeof err === 'object' && err !== null ? (err as {message?: unknown}).message : undefined
  if (status === 401) return new NotLoggedInError()
  if (typeof code === 'string' && typeof message === 'string') {
    return new ControlPlaneError(status, code, `The control plane refused the request: ${message}`)
  }
  return new BadResponseError(
    `The control plane at ${baseUrl} answered HTTP ${status} with an unexpected JSON body: ${shorten(text)}`,
  )
}
