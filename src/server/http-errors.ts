import type {ApiErrorCode, OAuthErrorCode} from '../control/api-types.js'
import {DbgateError, ExitCode} from '../errors.js'

/**
 * An error answered as `{error: {code, message}}` with its HTTP status. It is also a DbgateError, so the
 * server-admin commands that call the same services report it with a stable code and exit code.
 */
export class ApiError extends DbgateError {
  /** Builds the error. */
  constructor(
    readonly status: number,
    readonly apiCode: ApiErrorCode,
    message: string,
  ) {
    super(`E_${apiCode.toUpperCase()}`, message, {exitCode: status < 500 ? ExitCode.usage : ExitCode.error})
    this.name = 'ApiError'
  }
}

/** 409 naming the clash. */
export function conflict(message: string): ApiError {
  return new ApiError(409, 'conflict', message)
}

/** 401 with a reason. */
export function unauthorized(message: string): ApiError {
  return new ApiError(401, 'unauthorized', message)
}

/** 403 with a reason. */
export function forbidden(message: string): ApiError {
  return new ApiError(403, 'forbidden', message)
}

/** 404 naming what was missing. */
export function notFound(message: string): ApiError {
  return new ApiError(404, 'not_found', message)
}

/** 400 naming what was wrong. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, 'bad_request', message)
}

/** 503: a target database could not be reached. */
export function unavailable(message: string): ApiError {
  return new ApiError(503, 'unavailable', message)
}

/** An error answered in OAuth format `{error, error_description}` (RFC 6749 §5.2) on /auth/* endpoints. */
export class OAuthError extends Error {
  /** Builds the error; status defaults to 400. */
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description)
    this.name = 'OAuthError'
  }
}
