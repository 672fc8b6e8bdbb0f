import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {DurableSpool} from '../../src/audit/durable-spool.js'
import {frame, scanFrames} from '../../src/audit/spool-frame.js'
import {laneSpoolDir} from '../../src/audit/trail.js'
import {verifyLocalSpool} from '../../src/cli/audit-service.js'
import {body} from '../unit/audit-helpers.js'

// `audit verify` on this machine's spools: every lane is its own chain, read a segment at a time.

const state = mkdtempSync(join(tmpdir(), 'dbgate-audit-local-verify-'))
afterAll(() => rmSync(state, {recursive: true, force: true}))

async function fill(dir: string, count: number): Promise<void> {
  const spool = DurableSpool.open(state, {dir, segmentBytes: 4096})
  for (let i = 0; i < count; i++)
    await spool.append(body(i, {time: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()}))
  await spool.close()
}

describe('verifyLocalSpool', () => {
  it('checks every lane across segments, names the lane of an edit, and --since skips older events', async () => {
    await fill(laneSpoolDir(state, 0), 30)
    await fill(laneSpoolDir(state, 1), 30)
    await fill(laneSpoolDir(state, 0, 'dev-x'), 5)
    expect(verifyLocalSpool(state)).toMatchObject({ok: true, events: 65, verified: 65})
    const lane1 = laneSpoolDir(state, 1)
    expect(readdirSync(lane1).filter((f) => f.startsWith('seg-')).length).toBeGreaterThan(1)
    // Edit the statement of seq 3 in lane 1's first segment, keeping the frame valid: the chain names it.
    const seg = join(lane1, readdirSync(lane1).sort()[0]!)
    const records: Buffer[] = []
    for (const r of scanFrames(readFileSync(seg)).records) {
      const e = r.event.seq === 3 ? {...r.event, statement: 'select nothing'} : r.event
      records.push(frame(Buffer.from(JSON.stringify(e))))
    }
    writeFileSync(seg, Buffer.concat(records))
    const report = verifyLocalSpool(state)
    expect(report.ok).toBe(false)
    expect(report.messages).toEqual(['spool-1: altered seq 3 (hash mismatch)'])
    // From minute 10 on, seq 3 is not checked.
    expect(verifyLocalSpool(state, new Date(Date.UTC(2026, 0, 1, 0, 10)).toISOString())).toMatchObject({
      ok: true,
      events: 20 + 20 + 0,
    })
  })

  it('a standalone spool at its bound drops its oldest segments instead of refusing, and still verifies', async () => {
    const dir = join(state, 'audit', 'spool-9')
    const spool = DurableSpool.open(state, {
      dir,
      segmentBytes: 4096,
      maxBytes: 64 * 1024 + 16 * 1024,
      keepNewest: true,
    })
    for (let i = 0; i < 200; i++) await spool.append(body(i))
    expect(spool.refusal()).toBeUndefined()
    await spool.close()
    const first = Math.min(
      ...readdirSync(dir)
        .filter((f) => f.startsWith('seg-'))
        .map((f) => Number(f.slice(4, 20))),
    )
    expect(first).toBeGreaterThan(1)
    const report = verifyLocalSpool(state)
    expect(report.messages.filter((m) => m.startsWith('spool-9'))).toEqual([])
  })
})
