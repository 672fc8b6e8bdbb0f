import {createPrivateKey, generateKeyPairSync, sign, type KeyObject} from 'node:crypto'

import type {BundleKey, BundleKeysDocument, BundlePayload, SignedBundle} from '../../control/api-types.js'
import {signingInput} from '../../control/bundle.js'
import {randomToken, type ServerKey} from '../crypto.js'
import type {Store} from '../store/index.js'

/**
 * The Ed25519 key that signs policy bundles: separate from the token-signing keys (a leaked or rotated JWT
 * key never lets anyone forge a policy), created once per store, kept in the meta table with its private
 * half encrypted by the server key, so every replica signs with the same key. Created race-free with
 * "first writer wins": two replicas starting together end up with one key.
 */

const META_KEY = 'bundle_signing_key'

interface StoredBundleKey {
  kid: string
  publicJwk: BundleKey
  privateJwkEnc: string
  createdAt: number
}

/** Signs bundles and publishes the public key. */
export class BundleSigner {
  private constructor(
    private readonly kid: string,
    private readonly publicJwk: BundleKey,
    private readonly privateKey: KeyObject,
  ) {}

  /** Loads the store's bundle key, creating it on first start. */
  static async init(store: Store, serverKey: ServerKey, now: number): Promise<BundleSigner> {
    const fresh = BundleSigner.generate(serverKey, now)
    const stored = JSON.parse(await store.putMetaIfAbsent(META_KEY, JSON.stringify(fresh))) as StoredBundleKey
    const jwk = JSON.parse(serverKey.decrypt(stored.privateJwkEnc, `bundle-key:${stored.kid}`)) as {
      d: string
      x: string
    }
    const privateKey = createPrivateKey({
      key: {kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d},
      format: 'jwk',
    })
    return new BundleSigner(stored.kid, stored.publicJwk, privateKey)
  }

  private static generate(serverKey: ServerKey, now: number): StoredBundleKey {
    const {publicKey, privateKey} = generateKeyPairSync('ed25519')
    const kid = `bundle-${new Date(now).toISOString().slice(0, 10)}-${randomToken(6)}`
    const pub = publicKey.export({format: 'jwk'})
    const priv = privateKey.export({format: 'jwk'})
    return {
      kid,
      publicJwk: {kty: 'OKP', crv: 'Ed25519', x: String(pub.x), kid, alg: 'EdDSA', use: 'sig'},
      privateJwkEnc: serverKey.encrypt(JSON.stringify({x: priv.x, d: priv.d}), `bundle-key:${kid}`),
      createdAt: now,
    }
  }

  /** `/.well-known/dbgate-bundle-keys.json`. */
  keys(): BundleKeysDocument {
    return {keys: {[this.kid]: {...this.publicJwk}}}
  }

  /** Signs the canonical JSON of a payload. */
  sign(payload: BundlePayload): SignedBundle {
    const signature = sign(null, signingInput(payload), this.privateKey).toString('base64url')
    return {kid: this.kid, alg: 'EdDSA', payload, signature}
  }
}
