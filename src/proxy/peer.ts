/** The local process on the other end of a client connection, as the listener looked it up at accept. */
import type {AuditProcess} from '../audit/types.js'
import type {SessionInfo} from './engine.js'

/** How long a session waits for the peer-process lookup started at accept. */
const PEER_LOOKUP_MS = 2000

/** The process on the other end of the connection, as found at accept; never rejects. */
export async function peerOf(info: SessionInfo): Promise<AuditProcess> {
  if (info.peer === undefined) return {found: false, reason: 'the listener did not look it up'}
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<AuditProcess>((resolve) => {
    timer = setTimeout(() => resolve({found: false, reason: 'the lookup timed out'}), PEER_LOOKUP_MS)
  })
  try {
    return await Promise.race([
      info.peer.catch((err: unknown): AuditProcess => ({
        found: false,
        reason: err instanceof Error ? err.message : String(err),
      })),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}
