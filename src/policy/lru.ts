/** A bounded least-recently-used map on top of Map's insertion order. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>()

  constructor(readonly capacity: number) {}

  /** The value under `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  /** Stores a value, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.map.delete(key)
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
    this.map.set(key, value)
  }

  /** Number of entries held. */
  get size(): number {
    return this.map.size
  }
}
