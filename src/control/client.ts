/**
 * The control plane's HTTP client (undici): one base URL, an optional bearer token, JSON in and out, and every
 * failure mapped to a DbgateError with a stable code (401 → exit 5, unreachable → exit 6, others → exit 1).
 */
import {request, type Dispatcher} from 'undici'

import {UsageError} from '../errors.js'
import type {
  ApprovalDetail,
  ApprovalInfo,
  ApprovalsResponse,
  ApprovalStatus,
  CreateApprovalRequest,
  DiscoveryDocument,
  MeResponse,
  TargetsResponse,
  UseApprovalRequest,
  UseApprovalResponse,
} from './api-types.js'
import {BadResponseError, httpError, networkError} from './errors.js'

/** How long to wait for the control plane's headers or body before calling it unreachable. */
const DEFAULT_TIMEOUT_MS = 30_000

/** Options of a ControlClient. */
export interface ControlClientOptions {
  /** The control plane's base URL, e.g. https://dbgate.example.com. */
  readonly baseUrl: string
  /** Sent as `Authorization: Bearer ...` on every request when set. */
  readonly accessToken?: string | undefined
  readonly timeoutMs?: number | undefined
}

/** A request body: JSON, or form-encoded fields (what OAuth endpoints speak). */
export type RequestBody = {readonly json: unknown} | {readonly form: Readonly<Record<string, string>>}

/** Removes a trailing slash so URLs built from the base never contain `//`. */
export function normalizeApiUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`"${url}" is not a valid API URL (expected e.g. https://dbgate.example.com).`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`"${url}" is not an http(s) API URL.`)
  }
  return parsed.href.replace(/\/+$/, '')
}

/** A small typed client of the control plane's HTTP API. */
export class ControlClient {
  readonly baseUrl: string
  readonly #accessToken: string | undefined
  readonly #timeoutMs: number

  constructor(options: ControlClientOptions) {
    this.baseUrl = normalizeApiUrl(options.baseUrl)
    this.#accessToken = options.accessToken
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** A copy of this client that sends the given access token. */
  withAccessToken(accessToken: string): ControlClient {
    return new ControlClient({baseUrl: this.baseUrl, accessToken, timeoutMs: this.#timeoutMs})
  }

  /** GET a path under the base URL (or an absolute URL) and parse its JSON answer. */
  async get<T>(pathOrUrl: string): Promise<T> {
    return this.send<T>('GET', pathOrUrl, undefined)
  }

  /** POST a JSON or form body and parse the JSON answer. */
  async post<T>(pathOrUrl: string, body: RequestBody): Promise<T> {
    return this.send<T>('POST', pathOrUrl, body)
  }

  /** `GET /.well-known/dbgate`: where the login endpoints are. */
  async discover(): Promise<DiscoveryDocument> {
    const doc = await this.get<Partial<DiscoveryDocument>>('/.well-known/dbgate')
    for (const key of [
      'issuer',
      'authorization_endpoint',
      'token_endpoint',
      'device_authorization_endpoint',
      'jwks_uri',
      'revocation_endpoint',
    ] as const) {
      if (typeof doc[key] !== 'string') {
        throw new BadResponseError(
          `${this.baseUrl}/.well-known/dbgate has no "${key}": is this a dbgate control plane?`,
        )
      }
    }
    return doc as DiscoveryDocument
  }

  /** `GET /api/v1/me`: who the bearer token speaks for. */
  async me(): Promise<MeResponse> {
    return this.get<MeResponse>('/api/v1/me')
  }

  /** `GET /api/v1/targets`: the targets the caller may reach. */
  async targets(): Promise<TargetsResponse> {
    return this.get<TargetsResponse>('/api/v1/targets')
  }

  /** `POST /api/v1/approvals`: ask for approval of a statement. */
  async createApproval(body: CreateApprovalRequest): Promise<ApprovalInfo> {
    return this.post<ApprovalInfo>('/api/v1/approvals', {json: body})
  }

  /** `GET /api/v1/approvals`: the requests the caller may see. */
  async listApprovals(status?: ApprovalStatus): Promise<ApprovalsResponse> {
    return this.get<ApprovalsResponse>(`/api/v1/approvals${status === undefined ? '' : `?status=${status}`}`)
  }

  /** `GET /api/v1/approvals/:id`: one request with its transitions. */
  async getApproval(id: string): Promise<ApprovalDetail> {
    return this.get<ApprovalDetail>(`/api/v1/approvals/${encodeURIComponent(id)}`)
  }

  /** `POST /api/v1/approvals/:id/approve|deny`. */
  async decideApproval(id: string, decision: 'approve' | 'deny', comment?: string): Promise<ApprovalInfo> {
    const body = comment === undefined ? {} : {comment}
    return this.post<ApprovalInfo>(`/api/v1/approvals/${encodeURIComponent(id)}/${decision}`, {json: body})
  }

  /** `POST /api/v1/approvals/use`: spend one use of a grant for this statement. */
  async useApproval(body: UseApprovalRequest): Promise<UseApprovalResponse> {
    return this.post<UseApprovalResponse>('/api/v1/approvals/use', {json: body})
  }

  /** Sends one request; the single place that turns transport and HTTP failures into DbgateErrors. */
  async send<T>(method: Dispatcher.HttpMethod, pathOrUrl: string, body: RequestBody | undefined): Promise<T> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`
    const headers: Record<string, string> = {accept: 'application/json'}
    if (this.#accessToken !== undefined) headers.authorization = `Bearer ${this.#accessToken}`
    let payload: string | undefined
    if (body !== undefined && 'json' in body) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body.json)
    } else if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      payload = new URLSearchParams(body.form).toString()
    }
    let status: number
    let contentType: string
    let text: string
    try {
      const res = await request(url, {
        method,
        headers,
        body: payload,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      })
      status = res.statusCode
      const ct = res.headers['content-type']
      contentType = Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? '')
      text = await res.body.text()
    } catch (err) {
      throw networkError(this.baseUrl, err)
    }
    if (status < 200 || status >= 300) throw httpError(this.baseUrl, status, contentType, text)
    if (text === '') return {} as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new BadResponseError(
        `The control plane at ${this.baseUrl} answered ${method} ${new URL(url).pathname} with a non-JSON body (${contentType || 'no content type'}).`,
      )
    }
  }
}
