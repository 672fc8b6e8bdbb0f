/**
 * The byte pump both engines' relays stand on: each socket's chunks go to its dispatcher, a full
 * socket buffer pauses the socket that feeds it until 'drain' (a slow client holds the server back,
 * not the proxy's memory), and either side closing ends the session. Never throws from a callback.
 */
import type {Socket} from 'node:net'

import type {ReadGate} from './flow.js'
import type {RunWriter} from './run-writer.js'

/** Inputs of a pump. */
export interface PumpOptions {
  readonly client: Socket
  readonly server: Socket
  readonly toClient: RunWriter
  readonly toServer: RunWriter
  /** Read gates of the two sockets (a dispatcher may hold its own for other reasons). */
  readonly clientGate: ReadGate
  readonly serverGate: ReadGate
  /** Feeds client bytes to the client → server dispatcher. */
  readonly onClientData: (chunk: Buffer) => void
  /** Feeds server bytes to the server → client dispatcher. */
  readonly onServerData: (chunk: Buffer) => void
  readonly onClientClose: () => void
  readonly onServerClose: () => void
  /** Bytes read during session setup, dispatched before anything new. */
  readonly clientLeftover: readonly Buffer[]
  readonly serverLeftover: readonly Buffer[]
}

/** A pump wired to its sockets. */
export interface Pump {
  /** Dispatches the leftovers, then lets both sockets flow. */
  start(): void
  /** Stops dispatching either side's bytes. */
  stop(): void
}

/**
 * Wires the sockets; `start()` then dispatches the leftovers first. A side that closed during setup
 * has already fired 'close': the caller checks `destroyed` after starting.
 */
export function createPump(o: PumpOptions): Pump {
  const {client, server, toClient, toServer, clientGate, serverGate} = o
  const applyBackpressure = (): void => {
    if (!toServer.writable) clientGate.hold('backpressure')
    if (!toClient.writable) serverGate.hold('backpressure')
  }
  const onClientData = (chunk: Buffer): void => {
    o.onClientData(chunk)
    applyBackpressure()
  }
  const onServerData = (chunk: Buffer): void => {
    o.onServerData(chunk)
    applyBackpressure()
  }
  server.on('drain', () => {
    toServer.writable = true
    clientGate.release('backpressure')
  })
  client.on('drain', () => {
    toClient.writable = true
    serverGate.release('backpressure')
  })
  client.on('error', () => undefined)
  server.on('error', () => undefined)
  client.on('close', o.onClientClose)
  server.on('close', o.onServerClose)
  client.on('data', onClientData)
  server.on('data', onServerData)
  return {
    start() {
      for (const chunk of o.serverLeftover) o.onServerData(chunk)
      for (const chunk of o.clientLeftover) o.onClientData(chunk)
      applyBackpressure()
      if (!clientGate.held) client.resume()
      if (!serverGate.held) server.resume()
    },
    stop() {
      client.off('data', onClientData)
      server.off('data', onServerData)
    },
  }
}
