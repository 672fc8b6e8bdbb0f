import {constants, PerformanceObserver} from 'node:perf_hooks'
import {setTimeout as sleep} from 'node:timers/promises'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'

import {describe, expect, it} from 'vitest'

import {startBufferReclaim} from '../../src/cli/memory.js'

const MB = 1024 * 1024

/** Waits until buffer memory is within `limit` of `before` (generous: the watcher runs on a 25 ms
 * timer and V8 frees buffer memory on a background thread, both of which a loaded machine delays). */
async function settle(before: number, limit: number): Promise<number> {
  const deadline = Date.now() + 30_000
  while (process.memoryUsage().arrayBuffers - before > limit && Date.now() < deadline) await sleep(25)
  return process.memoryUsage().arrayBuffers - before
}

describe('buffer reclaim', () => {
  it('frees dead read-sized buffers without waiting for V8 to collect on its own', async () => {
    const before = process.memoryUsage().arrayBuffers
    const stop = startBufferReclaim()
    try {
      // 64 MB of dead 64 KB buffers, as a long result stream leaves them; few JS objects besides.
      for (let i = 0; i < 1024; i++) Buffer.allocUnsafeSlow(64 * 1024).fill(i)
      expect(await settle(before, 16 * MB)).toBeLessThan(16 * MB)
    } finally {
      stop()
    }
  })

  it('frees dead buffers that a young-generation collection cannot reach', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const before = process.memoryUsage().arrayBuffers
    // Buffers held long enough that their objects live in the old generation, dropped on return.
    const promoted = (): number => {
      const held: Buffer[] = []
      for (let i = 0; i < 512; i++) held.push(Buffer.allocUnsafeSlow(64 * 1024).fill(i))
      gc()
      gc()
      return held.length
    }
    expect(promoted()).toBe(512)
    const stop = startBufferReclaim()
    try {
      expect(await settle(before, 4 * MB)).toBeLessThan(4 * MB)
    } finally {
      stop()
    }
  })

  it('stops collecting once what is left is live, and frees what dies later', async () => {
    const before = process.memoryUsage().arrayBuffers
    // 24 MB held, as sessions with queued output under backpressure hold it.
    const live: Buffer[] = []
    for (let i = 0; i < 384; i++) live.push(Buffer.allocUnsafeSlow(64 * 1024).fill(i))
    const collections: number[] = []
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        collections.push((entry as unknown as {detail: {kind: number}}).detail.kind)
    })
    observer.observe({entryTypes: ['gc']})
    const stop = startBufferReclaim()
    try {
      // The watcher's minor tries leave the 24 MB (it is live); then it runs one full collection.
      const deadline = Date.now() + 30_000
      while (!collections.includes(constants.NODE_PERFORMANCE_GC_MAJOR) && Date.now() < deadline)
        await sleep(25)
      expect(collections).toContain(constants.NODE_PERFORMANCE_GC_MAJOR)
      // From then on what is left counts as live: about 20 ticks pass, and none of them collects (a
      // collection or two of V8's own may fall in the window; the watcher without a floor makes ~20).
      await sleep(50)
      collections.length = 0
      await sleep(500)
      await sleep(0)
      expect(collections.length).toBeLessThan(5)
      expect(live.length).toBe(384)
      for (let i = 0; i < 1024; i++) Buffer.allocUnsafeSlow(64 * 1024).fill(i)
      expect(await settle(before, 24 * MB + 16 * MB)).toBeLessThan(24 * MB + 16 * MB)
    } finally {
      observer.disconnect()
      stop()
    }
  })
})
