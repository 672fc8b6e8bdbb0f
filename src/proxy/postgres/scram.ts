/**
 * The client side of SCRAM-SHA-256 (RFC 5802/7677, as PostgreSQL uses it: no channel binding,
 * empty authzid and username) and of md5 password hashing.
 */
import {createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual} from 'node:crypto'

/** A SCRAM exchange failed: the server's messages were malformed or its signature wrong. */
export class ScramError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScramError'
  }
}

/** The mechanism name PostgreSQL offers. */
export const SCRAM_SHA_256 = 'SCRAM-SHA-256'

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of message.split(',')) {
    const eq = part.indexOf('=')
    if (eq !== 1) throw new ScramError(`malformed SCRAM attribute "${part.slice(0, 20)}"`)
    out.set(part.slice(0, 1), part.slice(2))
  }
  return out
}

/** One SCRAM-SHA-256 client exchange. */
export class ScramClient {
  private readonly nonce: string
  private readonly clientFirstBare: string
  private serverSignature: Buffer | undefined

  constructor(
    private readonly password: string,
    nonce: string = randomBytes(18).toString('base64'),
    /** PostgreSQL ignores the SCRAM user name (it uses the startup packet's); libpq sends an empty one. */
    user = '',
  ) {
    this.nonce = nonce
    this.clientFirstBare = `n=${user},r=${this.nonce}`
  }

  /** The client-first-message (data of SASLInitialResponse). */
  clientFirst(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8')
  }

  /** Consumes the server-first-message and returns the client-final-message. */
  clientFinal(serverFirst: string): Buffer {
    const attrs = attributes(serverFirst)
    const serverNonce = attrs.get('r')
    const salt = attrs.get('s')
    const iterations = Number(attrs.get('i'))
    if (serverNonce === undefined || !serverNonce.startsWith(this.nonce) || serverNonce === this.nonce)
      throw new ScramError('the server nonce does not extend the client nonce')
    if (salt === undefined || salt === '') throw new ScramError('the server sent no salt')
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000)
      throw new ScramError('the server sent an invalid iteration count')
    const salted = pbkdf2Sync(
      this.password.normalize('NFKC'),
      Buffer.from(salt, 'base64'),
      iterations,
      32,
      'sha256',
    )
    const clientKey = hmac(salted, 'Client Key')
    const storedKey = createHash('sha256').update(clientKey).digest()
    const withoutProof = `c=biws,r=${serverNonce}`
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`
    const signature = hmac(storedKey, authMessage)
    const proof = Buffer.alloc(32)
    for (let i = 0; i < 32; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number)
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage)
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8')
  }

  /** Checks the server-final-message's signature; throws if the server did not prove the password. */
  verifyServerFinal(serverFinal: string): void {
    const attrs = attributes(serverFinal)
    const err = attrs.get('e')
    if (err !== undefined) throw new ScramError(`the server rejected the exchange: ${err}`)
    const v = attrs.get('v')
    if (v === undefined || this.serverSignature === undefined) throw new ScramError('no server signature')
    const got = Buffer.from(v, 'base64')
    if (got.length !== 32 || !timingSafeEqual(got, this.serverSignature))
      throw new ScramError('the server signature does not match')
  }
}

/** The md5 password response: "md5" + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user, 'utf8')
    .digest('hex')
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner, 'utf8'), salt]))
    .digest('hex')}`
}
