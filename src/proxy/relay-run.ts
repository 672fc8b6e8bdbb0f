/**
 * The lifecycle both engines' relays share: the session's `done` promise, the pump started on the two
 * sockets, and one `finish` that stops the engine's dispatchers, says goodbye to the server in its
 * protocol and ends the client. Never throws from a socket callback.
 */
import type {Socket} from 'node:net'

import type {RunWriter} from './run-writer.js'
import {createPump, type Pump, type PumpOptions} from './pump.js'

/** The upstream connection ended while the client was still connected. */
export class UpstreamLostError extends Error {
  /** connection_failure: a standard SQLSTATE, carried by both protocols' errors. */
  readonly sqlState = '08006'
  constructor() {
    super('the connection to the database server was lost')
    this.name = 'UpstreamLostError'
  }
}

/** A running relay. */
export interface Relay {
  /** Resolves when the session ended normally; rejects with the error that ended it. */
  readonly done: Promise<void>
  /** Ends the session now, telling the client why. */
  close(reason: string): void
}

/** What an engine gives the shared lifecycle. */
export interface RelayEnds {
  readonly client: Socket
  readonly server: Socket
  readonly toClient: RunWriter
  /** Stops the engine's dispatchers and drops what they still owe. */
  readonly stop: () => void
  /** The engine's goodbye to the server (Terminate, COM_QUIT). */
  readonly goodbye: () => Buffer
  /** The engine's last message to the client when the proxy ends the session (`close`). */
  readonly farewell: (reason: string) => Buffer
}

/** Wiring of the pump that stays the engine's: its writers, gates, dispatchers and setup leftovers. */
export type RelayWiring = Omit<
  PumpOptions,
  'client' | 'server' | 'toClient' | 'onClientClose' | 'onServerClose'
>

/** One session's relay lifecycle: create it, build the dispatchers on `finish`, then `start`. */
export class RelayRun implements Relay {
  readonly done: Promise<void>
  private finished = false
  private pump: Pump | undefined
  private resolveDone: () => void = () => undefined
  private rejectDone: (err: unknown) => void = () => undefined

  constructor(private readonly ends: RelayEnds) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
  }

  /** Ends the session once: normally (undefined) or with the error that ended it. */
  readonly finish = (error?: unknown): void => {
    if (this.finished) return
    this.finished = true
    const {client, server} = this.ends
    this.ends.stop()
    if (!server.destroyed) server.end(this.ends.goodbye())
    this.pump?.stop()
    if (error === undefined) {
      if (!client.destroyed) client.end()
      this.resolveDone()
    } else this.rejectDone(error)
  }

  /** Starts the pump; a side that went away during setup ends the session at once. */
  start(wiring: RelayWiring): Relay {
    const {client, server, toClient} = this.ends
    this.pump = createPump({
      ...wiring,
      client,
      server,
      toClient,
      onClientClose: () => this.finish(),
      onServerClose: () => this.finish(new UpstreamLostError()),
    })
    this.pump.start()
    // Either side may have gone while the session was being set up: its 'close' has already fired.
    if (client.destroyed) this.finish()
    else if (server.destroyed) this.finish(new UpstreamLostError())
    return this
  }

  close(reason: string): void {
    if (this.finished) return
    this.ends.toClient.send(this.ends.farewell(reason))
    this.finish()
  }
}
