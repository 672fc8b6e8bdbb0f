import {describe, expect, it} from 'vitest'

import {GENESIS_HASH} from '../../src/audit/chain.js'
import type {ApprovalEventType} from '../../src/control/api-types.js'
import {
  approvalChainIntact,
  approvalEventHash,
  verifyApprovalChain,
} from '../../src/server/store/approval-chain.js'
import type {ApprovalEventRecord} from '../../src/server/store/index.js'

// One approval request's chain of transitions re-checked as `audit verify` does: each kind of tampering is
// named at its transition, and nothing is reported for an intact chain.

const TYPES: ApprovalEventType[] = ['requested', 'notified', 'approved', 'used']

/** A chain as the store writes it: each event hashed at its n with the hash before it. */
function chain(types = TYPES): ApprovalEventRecord[] {
  const out: ApprovalEventRecord[] = []
  let prevHash = GENESIS_HASH
  types.forEach((type, i) => {
    const e = {approvalId: 'apr_x', n: i + 1, type, actorSub: 'bob', detail: `d${i}`, at: 1000 + i, prevHash}
    const hash = approvalEventHash(e)
    out.push({...e, hash})
    prevHash = hash
  })
  return out
}

const kinds = (events: ApprovalEventRecord[], count = 0): string[] =>
  verifyApprovalChain('apr_x', events, count).map(
    (p) => `${p.kind} ${p.n} ${p.type ?? '-'}${p.chainedAt === null ? '' : ` @${p.chainedAt}`}`,
  )

describe('verifyApprovalChain', () => {
  it('an intact chain has no problem, also with its recorded count', () => {
    expect(kinds(chain(), 4)).toEqual([])
    expect(approvalChainIntact(chain())).toBe(true)
    expect(kinds([], 0)).toEqual([])
  })

  it.each([
    [
      'an edited detail',
      (c: ApprovalEventRecord[]) => [c[0]!, {...c[1]!, detail: 'x'}, c[2]!, c[3]!],
      ['altered 2 notified'],
    ],
    [
      'an edited time',
      (c: ApprovalEventRecord[]) => [c[0]!, c[1]!, {...c[2]!, at: 1}, c[3]!],
      ['altered 3 approved'],
    ],
    ['a deleted middle transition', (c: ApprovalEventRecord[]) => [c[0]!, c[2]!, c[3]!], ['missing 2 -']],
    ['a deleted first transition', (c: ApprovalEventRecord[]) => c.slice(1), ['missing 1 -']],
    [
      'two transitions swapped',
      (c: ApprovalEventRecord[]) => [c[0]!, {...c[2]!, n: 2}, {...c[1]!, n: 3}, c[3]!],
      ['out_of_order 2 approved @3', 'out_of_order 3 notified @2'],
    ],
    [
      'a transition replaced with a recomputed hash',
      (c: ApprovalEventRecord[]) => {
        const forged = {...c[1]!, detail: 'forged'}
        return [c[0]!, {...forged, hash: approvalEventHash(forged)}, c[2]!, c[3]!]
      },
      ['chain_break 3 approved'],
    ],
  ])('%s is named', (_, edit, expected) => {
    expect(kinds(edit(chain()), 4)).toEqual(expected)
    expect(approvalChainIntact(edit(chain()))).toBe(false)
  })

  it('transitions cut from the end are missing by the recorded count, which `show` cannot see', () => {
    expect(kinds(chain().slice(0, 2), 4)).toEqual(['missing 3 -', 'missing 4 -'])
    expect(kinds([], 2)).toEqual(['missing 1 -', 'missing 2 -'])
    expect(approvalChainIntact(chain().slice(0, 2))).toBe(true)
  })
})
