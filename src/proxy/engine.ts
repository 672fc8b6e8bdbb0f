/**
 * The one interface every protocol engine implements (Teleport's lib/srv/db model): take over a
 * client connection, send an error in the protocol's own format, and run the connection's life as
 * named steps: readStartup → authorize → connectUpstream → makeClientReady → relay.
 */
import type {Socket} from 'node:net'

import type {AuditProcess} from '../audit/types.js'

/** Wire protocols dbgate speaks. */
export type Protocol = 'postgres' | 'mysql'

/** Facts about one accepted client connection. */
export interface SessionInfo {
  /** Unique id, shared by all audit events of the session. */
  readonly id: string
  /** The client's address as `host:port`. */
  readonly clientAddress: string
  readonly startedAt: Date
  /** The local process on the other end, looked up from the moment of accept (before the client can exit). */
  readonly peer?: Promise<AuditProcess> | undefined
}

/** A protocol engine: a factory of connection handlers that share the engine's configuration. */
export interface Engine {
  readonly protocol: Protocol
  /** Takes over a freshly accepted client connection and returns its handler. */
  initializeConnection(client: Socket, session: SessionInfo): ConnectionHandler
}

/** The life of one client connection. */
export interface ConnectionHandler {
  /** Writes a fatal error to the client in the protocol's own format (best effort, never throws). */
  sendError(error: unknown): void
  /** Runs the session's steps until either side ends it; rejects with the error that ended it. */
  handleConnection(): Promise<void>
  /** Ends the session now (shutdown): tells the client why and closes both sides. */
  close(reason: string): void
}
