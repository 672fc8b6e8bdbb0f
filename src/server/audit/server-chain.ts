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

/** Re-checks the server chain, links in server_seq order. */
export function verifyServerChain(links: readonly ServerLink[]): ServerChainProblem[] {
  const problems: ServerChainProblem[] = []
  let expectSeq = 1
  let prev = SERVER_GENESIS
  for (const l of links) {
    if (l.serverSeq > expectSeq) problems.push({kind: 'server_missing', from: expectSeq, to: l.serverSeq - 1})
    else if (l.serverPrevHash !== prev) problems.push({kind: 'server_chain_break', serverSeq: l.serverSeq})
    if (serverHash(l.serverPrevHash, l.deviceId, l.seq, l.hash) !== l.serverHash)
      problems.push({kind: 'server_altered', serverSeq: l.serverSeq, deviceId: l.deviceId, seq: l.seq})
    prev = l.serverHash
    expectSeq = l.serverSeq + 1
  }
  return problems
}
