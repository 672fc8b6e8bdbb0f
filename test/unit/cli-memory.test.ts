import {setTimeout as sleep} from 'node:timers/promises'

import {describe, expect, it} from 'vitest'

import {startBufferReclaim} from '../../src/cli/memory.js'

describe('buffer reclaim', () => {
  it('frees dead read-sized buffers without waiting for a full collection', async () => {
    const before = process.memoryUsage().arrayBuffers
    const stop = startBufferReclaim()
    try {
      // 64 MB of dead 64 KB buffers, as a long result stream leaves them; few JS objects besides.
      for (let i = 0; i < 1024; i++) Buffer.allocUnsafeSlow(64 * 1024).fill(i)
      // Generous: the collection runs on a 25 ms timer and V8 frees the buffers' memory on a background
      // thread, both of which a loaded machine delays (it passes within a few ticks when idle).
      const deadline = Date.now() + 30_000
      while (process.memoryUsage().arrayBuffers - before > 16 * 1024 * 1024 && Date.now() < deadline)
        await sleep(25)
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024)
    } finally {
      stop()
    }
  })
})
