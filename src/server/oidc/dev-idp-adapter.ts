/**
 * An in-memory storage adapter for the embedded development IdP (oidc-provider's adapter interface).
 * Dev sessions need not survive a restart; giving the provider our own adapter also keeps it from
 * printing its "development-only adapter" warning on every start.
 */

type Payload = Record<string, unknown> & {
  grantId?: string
  userCode?: string
  uid?: string
  consumed?: number
}

/** A stored payload and when it expires. */
export interface Entry {
  payload: Payload
  expiresAt: number
}

/** One model's storage (oidc-provider creates one instance per model name). */
export class DevIdpAdapter {
  /** Creates the adapter for a model such as "Session", over one provider's map. */
  constructor(
    private readonly model: string,
    private readonly all: Map<string, Entry>,
  ) {}

  private key(id: string): string {
    return `${this.model}:${id}`
  }

  private get(key: string): Payload | undefined {
    const e = this.all.get(key)
    if (!e) return undefined
    if (e.expiresAt <= Date.now()) {
      this.all.delete(key)
      return undefined
    }
    return e.payload
  }

  /** Stores a payload for `expiresIn` seconds. */
  upsert(id: string, payload: Payload, expiresIn: number): Promise<void> {
    this.all.set(this.key(id), {payload, expiresAt: Date.now() + (expiresIn || 3600) * 1000})
    return Promise.resolve()
  }

  /** Finds by id. */
  find(id: string): Promise<Payload | undefined> {
    return Promise.resolve(this.get(this.key(id)))
  }

  /** Finds a device code by user code. */
  findByUserCode(userCode: string): Promise<Payload | undefined> {
    return Promise.resolve(this.scan((p) => p.userCode === userCode))
  }

  /** Finds a session by uid. */
  findByUid(uid: string): Promise<Payload | undefined> {
    return Promise.resolve(this.scan((p) => p.uid === uid))
  }

  /** Marks a payload consumed. */
  consume(id: string): Promise<void> {
    const p = this.get(this.key(id))
    if (p) p.consumed = Math.floor(Date.now() / 1000)
    return Promise.resolve()
  }

  /** Deletes by id. */
  destroy(id: string): Promise<void> {
    this.all.delete(this.key(id))
    return Promise.resolve()
  }

  /** Deletes everything of a grant. */
  revokeByGrantId(grantId: string): Promise<void> {
    for (const [k, e] of this.all) if (e.payload.grantId === grantId) this.all.delete(k)
    return Promise.resolve()
  }

  private scan(match: (p: Payload) => boolean): Payload | undefined {
    const prefix = `${this.model}:`
    for (const [k] of this.all) {
      if (!k.startsWith(prefix)) continue
      const p = this.get(k)
      if (p && match(p)) return p
    }
    return undefined
  }
}
