import {exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK} from 'jose'

import {randomToken, ServerKeyError, type ServerKey} from './crypto.js'
import type {SigningKeyRecord, Store} from './store/index.js'

/**
 * The control plane's token-signing keys (Ed25519, `kid` in every header). Private keys live in the store,
 * encrypted with the server key, so every replica signs with the same key. A key older than the rotation
 * period is replaced; the previous public keys stay in the JWKS so tokens they signed keep verifying.
 */

const ALG = 'EdDSA'
const CHECK_KEY = 'server_key_check'
const CHECK_PLAIN = 'dbgate-server-key-check-v1'
/** How often a replica re-reads the key table to notice a rotation done elsewhere. */
const RELOAD_MS = 60_000

interface LoadedKey {
  kid: string
  createdAt: number
  publicJwk: JWK
  privateKey: CryptoKey
}

/** Signing keys with rotation. */
export class SigningKeys {
  private keys: LoadedKey[] = []
  private loadedAt = 0

  /** Creates the holder; call init() before use. */
  constructor(
    private readonly store: Store,
    private readonly serverKey: ServerKey,
    private readonly rotationSeconds: number,
  ) {}

  /** Checks the server key against the store, then makes sure a fresh signing key exists. */
  async init(now: number): Promise<void> {
    const stored = await this.store.putMetaIfAbsent(CHECK_KEY, this.serverKey.encrypt(CHECK_PLAIN, CHECK_KEY))
    let ok: boolean
    try {
      ok = this.serverKey.decrypt(stored, CHECK_KEY) === CHECK_PLAIN
    } catch {
      ok = false
    }
    if (!ok)
      throw new ServerKeyError('the server key does not match the one this store was created with', [
        'Every replica must use the same DBGATE_SERVER_KEY (or the same server.key file).',
      ])
    await this.reload(now)
    await this.rotateIfDue(now)
  }

  /** Generates a new key when the newest is older than the rotation period. */
  async rotateIfDue(now: number): Promise<void> {
    const newest = this.keys[0]
    if (newest && now - newest.createdAt < this.rotationSeconds * 1000) return
    await this.rotate(now)
  }

  /** Adds a new signing key unconditionally. */
  async rotate(now: number): Promise<void> {
    const {publicKey, privateKey} = await generateKeyPair(ALG, {crv: 'Ed25519', extractable: true})
    const kid = `${new Date(now).toISOString().slice(0, 10)}-${randomToken(6)}`
    const record: SigningKeyRecord = {
      kid,
      alg: ALG,
      publicJwk: JSON.stringify({...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig'}),
      privateJwkEnc: this.serverKey.encrypt(
        JSON.stringify(await exportJWK(privateKey)),
        `signing-key:${kid}`,
      ),
      createdAt: now,
    }
    await this.store.addSigningKey(record)
    await this.reload(now)
  }

  /** The key to sign with now. */
  async current(now: number): Promise<{kid: string; key: CryptoKey}> {
    if (now - this.loadedAt > RELOAD_MS) await this.reload(now)
    await this.rotateIfDue(now)
    const k = this.keys[0]
    if (!k) throw new Error('no signing key')
    return {kid: k.kid, key: k.privateKey}
  }

  /** The public key for a `kid`, re-reading the store once if it is unknown (another replica rotated). */
  async publicKey(kid: string, now: number): Promise<CryptoKey | undefined> {
    let k = this.keys.find((x) => x.kid === kid)
    if (!k && now - this.loadedAt > 1000) {
      await this.reload(now)
      k = this.keys.find((x) => x.kid === kid)
    }
    return k ? ((await importJWK(k.publicJwk, ALG)) as CryptoKey) : undefined
  }

  /** The JWKS: the current key and its predecessors still inside two rotation periods (at least two keys). */
  async jwks(now: number): Promise<{keys: JWK[]}> {
    if (now - this.loadedAt > RELOAD_MS) await this.reload(now)
    const horizon = now - 2 * this.rotationSeconds * 1000
    return {keys: this.keys.filter((k, i) => i < 2 || k.createdAt > horizon).map((k) => k.publicJwk)}
  }

  private async reload(now: number): Promise<void> {
    const records = await this.store.listSigningKeys()
    const keys: LoadedKey[] = []
    for (const r of records.slice(0, 10)) {
      const privateJwk = JSON.parse(this.serverKey.decrypt(r.privateJwkEnc, `signing-key:${r.kid}`)) as JWK
      keys.push({
        kid: r.kid,
        createdAt: r.createdAt,
        publicJwk: JSON.parse(r.publicJwk) as JWK,
        privateKey: (await importJWK(privateJwk, r.alg)) as CryptoKey,
      })
    }
    this.keys = keys
    this.loadedAt = now
  }
}
