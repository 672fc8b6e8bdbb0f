/**
 * The control plane's own chain over every event it accepted, across devices: each stored event gets the
 * next `server_seq` and `server_hash = SHA-256(server_prev_hash, device, seq, event hash)`, so an edit,
 * deletion or reorder of the store itself is detected even where a device's chain cannot see it.
 */
import {createHash} from 'node:crypto'

import {GENESIS_HASH} from '../../audit/chain.js'

/** The server chain's hash before its first event. */
export const SERVER_GENESIS = GENESIS_HASH

/** The server hash of one accepted event. */
export function serverHash(prevHash: string, deviceId: string, seq: number, eventHash: string): string {
  return createHash('sha256').update(`${prevHash}\n${deviceId}\n${seq}\n${eventHash}`, 'utf8').digest('hex')
}

/** One link of the server chain as stored. */
export interface ServerLink {
  readonly serverSeq: number
  readonly serverPrevHash: string
  readonly serverHash: string
  readonly deviceId: string
  readonly seq: number
  readonly hash: string
}

/** A problem in the server chain. */
export type ServerChainProblem =
  | {readonly kind: 'server_missing'; readonly from: number; readonly to: number}
  | {
      readonly kind: 'server_altered'
      readonly serverSeq: number
      readonly deviceId: string
      readonly seq: number
    }
  | {readonly kind: 'server_chain_break'; readonly serverSeq: number}

/** The line `audit verify` prints for a server-chain problem. */
export function describeServerProblem(p: ServerChainProblem): string {
  switch (p.kind) {
    case 'server_missing':
      return `server chain: missing server_seq ${p.from === p.to ? p.from : `${p.from}-${p.to}`}`
    case 'server_altered':
      return `server chain: altered server_seq ${p.serverSeq} (device ${p.deviceId} seq ${p.seq})`
    case 'server_chain_break':
      return `server chain: break at server_seq ${p.serverSeq} (prev hash is not the hash before it)`
  }
}

/** Where a check of the server chain stands: the next server_seq and the hash before it. */
export interface ServerChainState {
  expectSeq: number
  prev: string
}

/**
 * Re-checks the server chain, links in server_seq order; `state` (the whole chain by default) is advanced,
 * so the chain can be checked a page at a time, or from a later link.
 */
export function verifyServerChain(
  links: readonly ServerLink[],
  state: ServerChainState = {expectSeq: 1, prev: SERVER_GENESIS},
): ServerChainProblem[] {
  const problems: ServerChainProblem[] = []
  let {expectSeq, prev} = state
  for (const l of links) {
    if (l.serverSeq > expectSeq) problems.push({kind: 'server_missing', from: expectSeq, to: l.serverSeq - 1})
    else if (l.serverPrevHash !== prev) problems.push({kind: 'server_chain_break', serverSeq: l.serverSeq})
    if (serverHash(l.serverPrevHash, l.deviceId, l.seq, l.hash) !== l.serverHash)
      problems.push({kind: 'server_altered', serverSeq: l.serverSeq, deviceId: l.deviceId, seq: l.seq})
    prev = l.serverHash
    expectSeq = l.serverSeq + 1
  }
  state.expectSeq = expectSeq
  state.prev = prev
  return problems
}
