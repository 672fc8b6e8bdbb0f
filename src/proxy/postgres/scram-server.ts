/**
 * The server side of SCRAM-SHA-256 (RFC 5802/7677, as PostgreSQL speaks it: no channel binding), for
 * `--local-password`: local clients prove they know the password without sending it.
 */
import {createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual} from 'node:crypto'

import {ScramError} from './scram.js'

/** What the server keeps of a password: salt, iteration count, StoredKey and ServerKey. */
export interface ScramSecret {
  readonly salt: Buffer
  readonly iterations: number
  readonly storedKey: Buffer
  readonly serverKey: Buffer
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

/** Derives the SCRAM secret of a password (PBKDF2: do it once, not per connection). */
export function scramSecret(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations = 4096,
): ScramSecret {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256')
  return {
    salt,
    iterations,
    storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(),
    serverKey: hmac(salted, 'Server Key'),
  }
}

/** Splits `a=value,b=value` into attributes, keeping their order. */
function attributes(message: string): [string, string][] {
  return message.split(',').map((part) => {
    if (part.length < 2 || part[1] !== '=') throw new ScramError('malformed SCRAM message')
    return [part.slice(0, 1), part.slice(2)]
  })
}

/** One SCRAM-SHA-256 exchange on the server side. */
export class ScramServer {
  private nonce = ''
  private gs2Header = ''
  private clientFirstBare = ''
  private serverFirstMessage = ''

  constructor(
    private readonly secret: ScramSecret,
    private readonly serverNonce: string = randomBytes(18).toString('base64'),
  ) {}

  /** Consumes the client-first-message and returns the server-first-message. */
  serverFirst(clientFirst: string): string {
    const m = /^([ny]),(?:a=[^,]*)?,(.*)$/s.exec(clientFirst)
    if (m === null)
      throw new ScramError(
        clientFirst.startsWith('p=')
          ? 'channel binding is not supported by this listener'
          : 'malformed client-first-message',
      )
    this.gs2Header = clientFirst.slice(0, clientFirst.length - (m[2] as string).length)
    this.clientFirstBare = m[2] as string
    const attrs = attributes(this.clientFirstBare)
    if (attrs[0]?.[0] === 'm') throw new ScramError('SCRAM extensions are not supported')
    const clientNonce = attrs.find(([k]) => k === 'r')?.[1]
    if (clientNonce === undefined || clientNonce === '' || clientNonce.includes(','))
      throw new ScramError('the client sent no nonce')
    this.nonce = clientNonce + this.serverNonce
    const s = this.secret
    this.serverFirstMessage = `r=${this.nonce},s=${s.salt.toString('base64')},i=${s.iterations}`
    return this.serverFirstMessage
  }

  /**
   * Consumes the client-final-message; returns the server-final-message when the proof is right.
   * Returns null when the password is wrong; throws ScramError when the message is malformed.
   */
  serverFinal(clientFinal: string): string | null {
    if (this.nonce === '') throw new ScramError('client-final-message before client-first-message')
    const at = clientFinal.lastIndexOf(',p=')
    if (at < 0) throw new ScramError('the client sent no proof')
    const withoutProof = clientFinal.slice(0, at)
    const attrs = new Map(attributes(withoutProof))
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64'))
      throw new ScramError('channel binding data does not match')
    if (attrs.get('r') !== this.nonce) throw new ScramError('the nonce does not match')
    const proof = Buffer.from(clientFinal.slice(at + 3), 'base64')
    if (proof.length !== 32) throw new ScramError('malformed client proof')
    const authMessage = `${this.clientFirstBare},${this.serverFirstMessage},${withoutProof}`
    const signature = hmac(this.secret.storedKey, authMessage)
    const clientKey = Buffer.alloc(32)
    for (let i = 0; i < 32; i++) clientKey[i] = (proof[i] as number) ^ (signature[i] as number)
    const storedKey = createHash('sha256').update(clientKey).digest()
    if (!timingSafeEqual(storedKey, this.secret.storedKey)) return null
    return `v=${hmac(this.secret.serverKey, authMessage).toString('base64')}`
  }
}
