/**
 * The relay: wires the client and upstream sockets to their dispatchers, applies backpressure both
 * ways, and ends the session cleanly when either side goes away. Never throws from a socket callback.
 */
import type {Socket} from 'node:net'

import type {AuditProcess} from '../../audit/types.js'
import type {IssuedKey} from './cancel.js'
import type {PgEngineConfig} from './config.js'
import {ClientDispatcher} from './client-dispatch.js'
import {reviewWithPeer} from './review.js'
import {ReadGate} from './flow.js'
import {MaskSession, PROCESS_MASK_KEY} from './mask-session.js'
import {SqlState} from './messages.js'
import {RunWriter} from './run-writer.js'
import {createPump} from '../pump.js'
import {ServerDispatcher} from './server-dispatch.js'
import type {SessionState} from './session-state.js'
import {SideConnection} from './side-query.js'
import type {UpstreamConnection} from './upstream.js'
import {errorResponse, terminate} from './wire.js'

/** The upstream connection ended while the client was still connected. */
export class UpstreamLostError extends Error {
  readonly sqlState = SqlState.connectionFailure
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

/** Inputs of a relay. */
export interface RelayOptions {
  readonly client: Socket
  readonly upstream: UpstreamConnection
  readonly config: PgEngineConfig
  readonly makeState: (toClient: RunWriter) => SessionState
  /** Client bytes read during startup that belong to the relay. */
  readonly leftover: readonly Buffer[]
  /** The client's process as the session found it (named in approval requests). */
  readonly peer: AuditProcess
  /** The client's cancel key: a cancel while a statement is held for approval ends the hold. */
  readonly cancelKey?: IssuedKey | undefined
}

/** Starts relaying between the client and the upstream. */
export function relay(options: RelayOptions): Relay {
  const {client, upstream: up, config} = options
  const server = up.socket
  const toServer = new RunWriter(server)
  const toClient = new RunWriter(client)
  const state = options.makeState(toClient)
  const clientGate = new ReadGate(client)
  const serverGate = new ReadGate(server)
  const side = new SideConnection(config.target, config.upstreamTimeoutMs)
  state.masking = new MaskSession(
    (sql) => side.query(sql),
    config.maskKey ?? PROCESS_MASK_KEY,
    config.policy.masking,
    startupSetting(up.startup, 'search_path'),
  )
  let finished = false
  let resolveDone: () => void = () => undefined
  let rejectDone: (err: unknown) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve
    rejectDone = reject
  })

  const finish = (error?: unknown): void => {
    if (finished) return
    finished = true
    clientD.stop()
    serverD.stop()
    side.close()
    state.pipeline.clear()
    if (!server.destroyed) server.end(terminate())
    pump.stop()
    if (error === undefined) {
      if (!client.destroyed) client.end()
      resolveDone()
    } else rejectDone(error)
  }

  const clientD = new ClientDispatcher({
    state,
    // Read per statement: a control-plane session's policy can be swapped while it runs.
    get policy() {
      return config.policy
    },
    toServer,
    clientGate,
    maxMessageBytes: config.maxMessageBytes,
    resolveFunction: (oid) => side.functionName(oid),
    onTerminate: () => finish(),
    onFatal: (err) => finish(err),
    review: config.review === undefined ? undefined : reviewWithPeer(config.review, options.peer),
    cancelKey: options.cancelKey,
  })
  const serverD = new ServerDispatcher({
    state,
    toClient,
    serverGate,
    maxMessageBytes: config.maxServerMessageBytes ?? 1 << 30,
    onFatal: (err) => finish(err),
  })

  const pump = createPump({
    client,
    server,
    toClient,
    toServer,
    clientGate,
    serverGate,
    onClientData: (chunk) => clientD.push(chunk),
    onServerData: (chunk) => serverD.push(chunk),
    onClientClose: () => finish(),
    onServerClose: () => finish(finished ? undefined : new UpstreamLostError()),
    clientLeftover: options.leftover,
    serverLeftover: up.leftover,
  })
  pump.start()
  // Either side may have gone while the session was being set up: its 'close' has already fired.
  if (client.destroyed) finish()
  else if (server.destroyed) finish(new UpstreamLostError())

  return {
    done,
    close(reason) {
      if (finished) return
      toClient.send(
        errorResponse({severity: 'FATAL', code: '57P01', message: `terminating connection: ${reason}`}),
      )
      finish()
    },
  }
}

/** A setting from the startup parameters (`search-path` spelt with a dash is the same setting). */
function startupSetting(params: ReadonlyMap<string, string> | undefined, name: string): string | undefined {
  for (const [key, value] of params ?? []) if (key.toLowerCase().replaceAll('-', '_') === name) return value
  return undefined
}
