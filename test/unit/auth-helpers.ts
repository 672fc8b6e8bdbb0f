/**
 * A tiny scripted HTTP server for auth unit tests: it answers each request with the next scripted reply
 * and records what it was sent. Used only for states a real control plane cannot produce on cue.
 */
import {createServer, type IncomingMessage, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

/** One scripted answer. */
export interface Reply {
  status: number
  body: unknown
  /** Sent as is instead of JSON. */
  raw?: string
  contentType?: string
}

/** A request the server received. */
export interface Received {
  method: string
  path: string
  headers: IncomingMessage['headers']
  form: Record<string, string>
}

/** A running scripted server. */
export interface ScriptedServer {
  url: string
  received: Received[]
  close(): Promise<void>
}

/** Starts a server answering each request with `route(request)`. */
export async function scriptedServer(route: (req: Received) => Reply): Promise<ScriptedServer> {
  const received: Received[] = []
  const server: Server = createServer((req, res) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (text += chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const form =
        req.headers['content-type'] === 'application/json'
          ? (JSON.parse(text || '{}') as Record<string, string>)
          : Object.fromEntries(new URLSearchParams(text))
      const r: Received = {method: req.method ?? 'GET', path: url.pathname, headers: req.headers, form}
      received.push(r)
      const reply = route(r)
      res.writeHead(reply.status, {'content-type': reply.contentType ?? 'application/json'})
      res.end(reply.raw ?? JSON.stringify(reply.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A token response as the control plane sends it. */
export function tokenReply(accessToken: string, refreshToken: string | undefined, expiresIn = 900): Reply {
  return {
    status: 200,
    body: {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      ...(refreshToken === undefined ? {} : {refresh_token: refreshToken}),
      identity: {sub: 'alice', name: 'Alice', kind: 'user', groups: ['eng'], roles: ['user']},
    },
  }
}

/** An OAuth error answer. */
export function oauthError(error: string, status = 400): Reply {
  return {status, body: {error, error_description: `scripted ${error}`}}
}
