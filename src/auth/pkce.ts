/**
 * PKCE (RFC 7636, S256) and the random state and nonce of a login: all from the OS's CSPRNG.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'

/** An unguessable URL-safe string carrying `bytes` of randomness (base64url, no padding). */
export function randomUrlSafe(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** A fresh code verifier: 32 random bytes → 43 characters of the RFC 7636 unreserved alphabet. */
export function createCodeVerifier(): string {
  return randomUrlSafe(32)
}

/** The S256 code challenge of a verifier: BASE64URL(SHA256(ASCII(verifier))). */
export function codeChallengeS256(verifier: string): string {
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) {
    throw new RangeError('A PKCE code verifier must be 43-128 characters of [A-Za-z0-9-._~].')
  }
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

/** Everything one browser login needs to keep secret until the callback arrives. */
export interface LoginSecrets {
  readonly codeVerifier: string
  readonly codeChallenge: string
  readonly state: string
  readonly nonce: string
}

/** Draws a verifier, its challenge, a state and a nonce for one login attempt. */
export function createLoginSecrets(): LoginSecrets {
  const codeVerifier = createCodeVerifier()
  return {
    codeVerifier,
    codeChallenge: codeChallengeS256(codeVerifier),
    state: randomUrlSafe(),
    nonce: randomUrlSafe(),
  }
}

/** Compares two secrets in constant time (a state or nonce from the network against ours). */
export function sameSecret(expected: string, actual: string | null | undefined): boolean {
  if (typeof actual !== 'string') return false
  const a = createHash('sha256').update(expected).digest()
  const b = createHash('sha256').update(actual).digest()
  return timingSafeEqual(a, b) && expected === actual
}
