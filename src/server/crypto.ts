import {createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {DbgateError, ExitCode, messageOf} from '../errors.js'

/**
 * Secrets at rest and on the wire: random opaque tokens, SHA-256 hashes of them (what the store keeps),
 * and the server key (AES-256-GCM) that encrypts target credentials and signing keys.
 */

/** A URL-safe random string carrying `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** Hex SHA-256 of a token: what the store keeps instead of the token. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** Base64url SHA-256, as PKCE S256 uses. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

/** Constant-time comparison of two strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The key was unreadable, malformed, or not the one the store's data was encrypted with. */
export class ServerKeyError extends DbgateError {
  /** Builds the error. */
  constructor(message: string, suggestions: readonly string[] = []) {
    super('E_SERVER_KEY', message, {exitCode: ExitCode.error, suggestions})
    this.name = 'ServerKeyError'
  }
}

/** AES-256-GCM with a 96-bit random IV; the associated data binds a ciphertext to what it belongs to. */
export class ServerKey {
  private constructor(private readonly key: Buffer) {}

  /** Wraps 32 raw key bytes. */
  static fromBytes(key: Buffer): ServerKey {
    if (key.length !== 32) throw new ServerKeyError(`the server key must be 32 bytes, got ${key.length}`)
    return new ServerKey(key)
  }

  /** Parses DBGATE_SERVER_KEY: 64 hex digits or base64/base64url of 32 bytes. */
  static parse(text: string): ServerKey {
    const t = text.trim()
    const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64url')
    if (bytes.length !== 32)
      throw new ServerKeyError('DBGATE_SERVER_KEY must be 32 bytes as 64 hex digits or base64', [
        'Generate one with: openssl rand -hex 32',
      ])
    return new ServerKey(bytes)
  }

  /** DBGATE_SERVER_KEY if set, else `<dataDir>/server.key`, created (0600) on first start. */
  static load(dataDir: string, env: NodeJS.ProcessEnv): ServerKey {
    const fromEnv = env.DBGATE_SERVER_KEY
    if (fromEnv !== undefined && fromEnv !== '') return ServerKey.parse(fromEnv)
    const file = join(dataDir, 'server.key')
    try {
      return ServerKey.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      if (err instanceof ServerKeyError) throw new ServerKeyError(`${file}: ${err.message}`)
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT'))
        throw new ServerKeyError(`cannot read ${file}: ${messageOf(err)}`)
    }
    mkdirSync(dataDir, {recursive: true, mode: 0o700})
    const key = randomBytes(32)
    // wx: never overwrite a key another process created a moment ago.
    try {
      writeFileSync(file, `${key.toString('hex')}\n`, {mode: 0o600, flag: 'wx'})
      chmodSync(file, 0o600)
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'EEXIST') return ServerKey.load(dataDir, env)
      throw new ServerKeyError(`cannot write ${file}: ${messageOf(err)}`)
    }
    return new ServerKey(key)
  }

  /** Encrypts to base64url(iv ‖ tag ‖ ciphertext). */
  encrypt(plain: string, aad: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    cipher.setAAD(Buffer.from(aad, 'utf8'))
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
  }

  /** Decrypts what encrypt() produced with the same associated data; throws if anything was altered. */
  decrypt(sealed: string, aad: string): string {
    const raw = Buffer.from(sealed, 'base64url')
    if (raw.length < 28) throw new ServerKeyError('ciphertext too short')
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12))
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
  }
}
