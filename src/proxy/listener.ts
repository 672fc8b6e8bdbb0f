/**
 * The local listener: accepts client connections (127.0.0.1 unless told otherwise), hands each to
 * the engine, and closes every session cleanly on shutdown. A failing session never affects others.
 */
import {randomUUID} from 'node:crypto'
import {createServer, type Server, type Socket} from 'node:net'

import {findPeerProcess} from '../audit/process-info.js'
import {DbgateError, UsageError} from '../errors.js'
import type {ConnectionHandler, Engine} from './engine.js'

/** Options of a listener. */
export interface ListenerOptions {
  readonly engine: Engine
  /** Address to bind; loopback by default. */
  readonly host?: string
  /** Port; 0 picks a free one. */
  readonly port?: number
  /** Called when a session ends with an error (already reported to its client). */
  readonly onSessionError?: (error: unknown, sessionId: string) => void
}

/** A running listener. */
export interface ProxyListener {
  readonly host: string
  readonly port: number
  /** Sessions currently open. */
  readonly activeSessions: number
  /** Stops accepting, ends every session with `reason`, and resolves when all are closed. */
  close(reason?: string): Promise<void>
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE')
        reject(
          new UsageError(`Port ${port} on ${host} is already in use.`, [
            'Pick another --port, or 0 for a free one.',
          ]),
        )
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new UsageError(`Cannot listen on ${host}: the address is not available on this machine.`))
      else if (err.code === 'EACCES') reject(new UsageError(`Not allowed to listen on ${host}:${port}.`))
      else reject(new DbgateError('E_LISTEN', `Cannot listen on ${host}:${port}: ${err.message}`))
    }
    server.once('error', onError)
    server.listen({host, port}, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/** Starts a listener for an engine. */
export async function startListener(options: ListenerOptions): Promise<ProxyListener> {
  const host = options.host ?? '127.0.0.1'
  const sessions = new Map<Socket, ConnectionHandler>()
  const closed = new Set<Promise<void>>()
  // Every accepted socket, until it closes: a client that never closes its end must not hold up shutdown.
  const sockets = new Set<Socket>()
  const server = createServer({noDelay: true}, (client) => {
    sockets.add(client)
    client.once('close', () => sockets.delete(client))
    client.setNoDelay(true)
    client.on('error', () => undefined)
    const id = randomUUID()
    const info = {
      id,
      clientAddress: `${client.remoteAddress ?? '?'}:${client.remotePort ?? 0}`,
      startedAt: new Date(),
      // Now, while the client is surely still there: a short-lived client may exit before startup ends.
      peer: findPeerProcess({
        localAddress: client.localAddress as string,
        localPort: client.localPort as number,
        remoteAddress: client.remoteAddress as string,
        remotePort: client.remotePort as number,
      }),
    }
    info.peer.catch(() => undefined)
    let handler: ConnectionHandler
    try {
      handler = options.engine.initializeConnection(client, info)
    } catch (err) {
      options.onSessionError?.(err, id)
      client.destroy()
      return
    }
    sessions.set(client, handler)
    const done = handler
      .handleConnection()
      .catch((err: unknown) => {
        handler.sendError(err)
        options.onSessionError?.(err, id)
      })
      .finally(() => {
        sessions.delete(client)
        if (!client.destroyed) client.end()
        closed.delete(done)
      })
    closed.add(done)
  })
  server.on('error', () => undefined)
  await listenOn(server, host, options.port ?? 0)
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    host,
    port,
    get activeSessions() {
      return sessions.size
    },
    async close(reason = 'dbgate is shutting down') {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const handler of sessions.values()) handler.close(reason)
      await Promise.allSettled([...closed])
      for (const socket of sockets) socket.destroy()
      await stopped
    },
  }
}
