/**
 * The scrambles of the password plugins: mysql_native_password (both sides) and
 * caching_sha2_password (client side: fast path, and the RSA-encrypted full authentication).
 */
import {createHash, publicEncrypt, constants, timingSafeEqual} from 'node:crypto'

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1')
  for (const p of parts) h.update(p)
  return h.digest()
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i % b.length] as number)
  return out
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); empty for an empty password. */
export function nativeScramble(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0)
  const stage1 = sha1(Buffer.from(password, 'utf8'))
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)))
}

/** Checks a client's mysql_native_password response against the expected password, in constant time. */
export function checkNativeScramble(password: string, scramble: Buffer, response: Buffer): boolean {
  const expected = nativeScramble(password, scramble)
  return expected.length === response.length && timingSafeEqual(expected, response)
}

/** caching_sha2_password fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
export function cachingSha2Scramble(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0)
  const stage1 = sha256(Buffer.from(password, 'utf8'))
  return xor(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)))
}

/** caching_sha2_password full authentication without TLS: (pw + NUL) XOR scramble, RSA-OAEP encrypted. */
export function rsaEncryptPassword(password: string, scramble: Buffer, publicKeyPem: string): Buffer {
  const plain = xor(Buffer.from(`${password}\0`, 'utf8'), scramble.subarray(0, 20))
  return publicEncrypt({key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING}, plain)
}
