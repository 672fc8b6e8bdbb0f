import {createHmac, timingSafeEqual} from 'node:crypto'
import {createServer, type Server} from 'node:http'

/**
 * A local HTTP receiver standing in for Slack and a ticketing webhook: it verifies each delivery's signature
 * the way a real receiver would (HMAC-SHA256 of `timestamp.body`, a timestamp within five minutes, no
 * replayed signature) and keeps what it accepted. `failFirst` answers 503 to that many deliveries first.
 */

/** One accepted delivery. */
export interface Delivery {
  readonly body: Record<string, unknown>
  readonly timestamp: number
  readonly signature: string
}

/** A running receiver. */
export interface Receiver {
  readonly url: string
  readonly accepted: Delivery[]
  /** Deliveries refused, with why. */
  readonly refused: string[]
  /** Attempts seen, accepted or not. */
  attempts: number
  /** Resolves when `n` deliveries were accepted. */
  waitFor(n: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

function verify(
  secret: string,
  ts: string,
  body: string,
  sig: string,
  seen: Set<string>,
): string | undefined {
  if (!/^\d+$/.test(ts)) return 'no timestamp'
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return 'stale timestamp'
  const want = Buffer.from(`v1=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`)
  const got = Buffer.from(sig)
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad signature'
  if (seen.has(sig)) return 'replayed'
  seen.add(sig)
  return undefined
}

/** Starts a receiver on 127.0.0.1:0 that checks signatures with `secret`. */
export async function startReceiver(secret: string, failFirst = 0): Promise<Receiver> {
  const seen = new Set<string>()
  const accepted: Delivery[] = []
  const refused: string[] = []
  const waiters: (() => void)[] = []
  const state = {attempts: 0}
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      state.attempts++
      if (state.attempts <= failFirst) return void res.writeHead(503).end()
      const body = Buffer.concat(chunks).toString('utf8')
      const ts = String(req.headers['x-dbgate-timestamp'] ?? '')
      const sig = String(req.headers['x-dbgate-signature'] ?? '')
      const problem = verify(secret, ts, body, sig, seen)
      if (problem !== undefined) {
        refused.push(problem)
        return void res.writeHead(401).end(problem)
      }
      accepted.push({
        body: JSON.parse(body) as Record<string, unknown>,
        timestamp: Number(ts),
        signature: sig,
      })
      res.writeHead(200).end('ok')
      for (const w of waiters.splice(0)) w()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    accepted,
    refused,
    get attempts() {
      return state.attempts
    },
    set attempts(v: number) {
      state.attempts = v
    },
    waitFor: async (n, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs
      while (accepted.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${accepted.length} of ${n} deliveries arrived`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 200)
        })
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
  return receiver
}

/** A webhook sink nobody listens to (port 9): every attempt fails, so the request records notify_failed. */
export function deadSink(secret: string, rules: string[]): Record<string, unknown> {
  return {name: 'dead', kind: 'webhook', url: 'http://127.0.0.1:9/hook', secret, rules}
}
