/** A bounded least-recently-used map on top of Map's insertion order. */
export class Lru<K, V> {
  private readonly map = new Map<K, {value: V; placed: number}>()
  private placements = 0
  private readonly refreshAfter: number

  /**
   * `refreshAfter`: a hit moves its entry to the recent end only once that many entries were placed
   * after it. 0 (the default) is exact LRU; half the capacity keeps every entry used at least that
   * often and spares hot entries a delete and a set per hit (the guard's decision cache).
   */
  constructor(
    readonly capacity: number,
    options: {readonly refreshAfter?: number} = {},
  ) {
    this.refreshAfter = options.refreshAfter ?? 0
  }

  /** The value under `key`, marking it recently used. */
  get(key: K): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) return undefined
    if (this.placements - slot.placed >= this.refreshAfter) {
      this.map.delete(key)
      this.map.set(key, slot)
      slot.placed = ++this.placements
    }
    return slot.value
  }

  /** Stores a value, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.map.delete(key)
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
    this.map.set(key, {value, placed: ++this.placements})
  }

  /** Number of entries held. */
  get size(): number {
    return this.map.size
  }
}
