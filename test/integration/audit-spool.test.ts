import {spawn} from 'node:child_process'
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {DurableSpool} from '../../src/audit/durable-spool.js'
import {segmentName} from '../../src/audit/spool-frame.js'
import {AuditSpoolFullError, AuditSpoolUnavailableError} from '../../src/audit/errors.js'
import type {ChainedEvent} from '../../src/audit/event.js'
import {verifyChain} from '../../src/audit/verify.js'
import {body} from '../unit/audit-helpers.js'

const dirs: string[] = []
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dbgate-spool-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

async function all(spool: DurableSpool): Promise<ChainedEvent[]> {
  const out: ChainedEvent[] = []
  for await (const run of spool.unacknowledged()) out.push(...run)
  return out
}

function segments(dir: string): string[] {
  return readdirSync(join(dir, 'audit', 'spool')).filter((f) => f.startsWith('seg-'))
}

async function fill(spool: DurableSpool, count: number, from = 1): Promise<ChainedEvent[]> {
  return Promise.all(Array.from({length: count}, (_, i) => spool.append(body(from + i))))
}

describe('durable spool', () => {
  it('commits concurrent writes, in call order, and reads them back after reopening', async () => {
    const dir = stateDir()
    const spool = DurableSpool.open(dir)
    const written = await fill(spool, 50)
    expect(written.map((e) => e.seq)).toEqual(Array.from({length: 50}, (_, i) => i + 1))
    await spool.close()
    const again = DurableSpool.open(dir)
    const read = await all(again)
    expect(read).toEqual(written)
    expect(verifyChain(read).ok).toBe(true)
    expect(again.state.lastSeq).toBe(50)
    const next = await again.append(body(51))
    expect(next.seq).toBe(51)
    expect(verifyChain([...read, next]).ok).toBe(true)
    await again.close()
  })

  it('takes the proxy event through write()', async () => {
    const spool = DurableSpool.open(stateDir(), {enrich: () => ({agent: 'cursor'})})
    await spool.write({
      id: 'e1',
      type: 'session_start',
      time: '2025-01-01T00:00:00.000Z',
      session_id: 's',
      identity: 'bob',
      actor: 'agent',
      target: 'h:5432/db',
      protocol: 'postgres',
      database: 'db',
      db_user: 'u',
      client_version: '0.1.0',
    })
    expect((await all(spool))[0]).toMatchObject({seq: 1, id: 'e1', agent: 'cursor', kinds: []})
    await spool.close()
  })

  it.each<[string, (file: string) => void, number]>([
    ['a last record cut in the middle', (f) => truncateSync(f, statSync(f).size - 7), 9],
    ['everything after the first header cut', (f) => truncateSync(f, 11), 0],
    ['garbage appended', (f) => appendFileSync(f, Buffer.from('\x00\x00\x01\x00torn-garbage')), 10],
  ])('drops a torn tail (%s) and keeps the records before it', async (_, damage, kept) => {
    const dir = stateDir()
    const spool = DurableSpool.open(dir)
    const written = await fill(spool, 10)
    await spool.close()
    const [seg] = segments(dir)
    damage(join(dir, 'audit', 'spool', seg!))
    const again = DurableSpool.open(dir)
    expect(again.recovered).toMatch(/bytes \(/)
    expect(await all(again)).toEqual(written.slice(0, kept))
    expect(again.state.lastSeq).toBe(kept)
    const next = await again.append(body(99))
    expect(next.seq).toBe(kept + 1)
    await again.close()
    const third = DurableSpool.open(dir)
    expect(third.recovered).toBeUndefined()
    expect(verifyChain(await all(third)).ok).toBe(true)
    await third.close()
  })

  it.each(['written', 'synced'])(
    '%s: keeps every write that resolved before the writer was killed with SIGKILL',
    async (durability) => {
      const dir = stateDir()
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'audit-spool-child.ts'), 'spool', dir, '8', durability],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      const acked: number[] = []
      let text = ''
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString()
          const lines = text.split('\n')
          text = lines.pop() ?? ''
          for (const l of lines) acked.push(Number(l))
          if (acked.length >= 300 && child.exitCode === null && !child.killed) {
            child.kill('SIGKILL')
            resolve()
          }
        })
      })
      await new Promise((resolve) => child.once('exit', resolve))
      const spool = DurableSpool.open(dir)
      const seqs = new Set((await all(spool)).map((e) => e.seq))
      expect(acked.filter((s) => !seqs.has(s))).toEqual([])
      expect(verifyChain(await all(spool)).ok).toBe(true)
      await spool.close()
    },
  )

  it('rejects writes beyond the size bound with AuditSpoolFullError, and accepts again after an ack', async () => {
    const spool = DurableSpool.open(stateDir(), {maxBytes: 4000, segmentBytes: 1500})
    const results = await Promise.allSettled(Array.from({length: 10}, (_, i) => spool.append(body(i + 1))))
    const full = results.filter((r) => r.status === 'rejected')
    expect(full.length).toBeGreaterThan(0)
    for (const r of full) expect(r.reason).toBeInstanceOf(AuditSpoolFullError)
    expect(spool.bytes).toBeLessThanOrEqual(4000)
    const last = spool.state.lastSeq
    spool.ack(last)
    const after = await spool.append(body(100))
    expect(after.seq).toBe(last + 1)
    await spool.close()
  })

  it('rejects writes with AuditSpoolUnavailableError when the state directory cannot be written', async () => {
    const dir = stateDir()
    writeFileSync(join(dir, 'audit'), 'a file where the directory should be')
    const spool = new DurableSpool(dir)
    await expect(spool.append(body(1))).rejects.toBeInstanceOf(AuditSpoolUnavailableError)
    expect(() => DurableSpool.open(dir)).toThrow(AuditSpoolUnavailableError)
  })

  it('paces background syncs, yet uploads what is written at once and syncs it on close', async () => {
    const dir = stateDir()
    // An hour between background syncs: only the upload and close() can sync what follows the first.
    const spool = DurableSpool.open(dir, {syncIntervalMs: 3_600_000})
    for (let i = 0; i < 3; i++) await spool.append(body(i + 1))
    expect((await all(spool)).map((e) => e.seq)).toEqual([1, 2, 3])
    await spool.append(body(4))
    await spool.append(body(5))
    await spool.close()
    const again = DurableSpool.open(dir)
    expect((await all(again)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    await again.close()
  })

  it('counts against its bound exactly the bytes of segments holding unacknowledged events', async () => {
    const dir = stateDir()
    const spool = DurableSpool.open(dir, {segmentBytes: 2000})
    /** The bytes on disk of segments whose events are not all acknowledged (a segment ends where the next starts). */
    const unacked = (acked: number): number => {
      const firsts = segments(dir)
        .map((f) => Number(/\d+/.exec(f)![0]))
        .sort((a, b) => a - b)
      let sum = 0
      firsts.forEach((first, i) => {
        const last = (firsts[i + 1] ?? spool.state.lastSeq + 1) - 1
        if (last > acked) sum += statSync(join(dir, 'audit', 'spool', segmentName(first))).size
      })
      return sum
    }
    let acked = 0
    const seen = new Set<string>()
    for (let i = 0; i < 30; i++) {
      await spool.append(body(i + 1))
      for (const f of segments(dir)) seen.add(f)
      expect(spool.bytes).toBe(unacked(acked))
      if (i % 7 === 6) {
        acked = i - 2
        spool.ack(acked)
        expect(spool.bytes).toBe(unacked(acked))
      }
    }
    // Segments were started and removed along the way.
    expect(seen.size).toBeGreaterThan(3)
    expect(segments(dir).length).toBeLessThan(seen.size)
    spool.ack(30)
    expect(spool.bytes).toBe(0)
    await spool.append(body(31))
    expect(spool.bytes).toBe(unacked(30))
    expect(spool.bytes).toBeGreaterThan(0)
    await spool.close()
  })

  it('yields unacknowledged runs and removes only fully acknowledged segments', async () => {
    const dir = stateDir()
    const spool = DurableSpool.open(dir, {segmentBytes: 2000})
    for (let i = 0; i < 20; i++) await spool.append(body(i + 1))
    const before = segments(dir)
    expect(before.length).toBeGreaterThan(2)
    const runs: number[][] = []
    for await (const run of spool.unacknowledged(7)) runs.push(run.map((e) => e.seq))
    expect(runs.map((r) => r.length)).toEqual([7, 7, 6])
    spool.ack(9)
    expect((await all(spool)).map((e) => e.seq)).toEqual(Array.from({length: 11}, (_, i) => i + 10))
    const left = segments(dir)
    expect(left.length).toBeLessThan(before.length)
    expect(Number(/\d+/.exec(left[0]!)![0])).toBeLessThanOrEqual(10)
    spool.ack(20)
    expect(segments(dir)).toHaveLength(1)
    await spool.close()
    const again = DurableSpool.open(dir)
    expect(again.acknowledged).toBe(20)
    expect(await all(again)).toEqual([])
    expect((await again.append(body(21))).seq).toBe(21)
    await again.close()
  })
})
