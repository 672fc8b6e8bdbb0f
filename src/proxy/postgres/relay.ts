/**
 * The relay: wires the client and upstream sockets to their dispatchers, applies backpressure both
 * ways, and ends the session cleanly when either side goes away. Never throws from a socket callback.
 */
import type {Socket} from 'node:net'

import type {AuditProcess} from '../../audit/types.js'
import type {IssuedKey} from './cancel.js'
import type {PgEngineConfig} from './config.js'
import {columnsNotNull, viewTables} from './catalog.js'
import {ClientDispatcher} from './client-dispatch.js'
import {reviewWithPeer} from '../review.js'
import {ReadGate} from '../flow.js'
import {SessionViews} from '../views.js'
import {PROCESS_MASK_KEY} from '../mask-key.js'
import {MaskSession} from './mask-session.js'
import {RunWriter} from '../run-writer.js'
import {RelayRun, type Relay} from '../relay-run.js'
import {ServerDispatcher} from './server-dispatch.js'
import type {SessionState} from './session-state.js'
import {SideConnection} from './side-query.js'
import type {UpstreamConnection} from './upstream.js'
import {errorResponse, terminate} from './wire.js'

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
  const run = new RelayRun({
    client,
    server,
    toClient,
    stop: () => {
      clientD.stop()
      serverD.stop()
      side.close()
      state.pipeline.clear()
    },
    goodbye: terminate,
    farewell: (reason) =>
      errorResponse({severity: 'FATAL', code: '57P01', message: `terminating connection: ${reason}`}),
  })
  const finish = run.finish

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
    notNull: (check) => columnsNotNull((sql) => side.query(sql), check),
    views: new SessionViews((relation) => viewTables((sql) => side.query(sql), relation)),
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

  return run.start({
    toServer,
    clientGate,
    serverGate,
    onClientData: (chunk) => clientD.push(chunk),
    onServerData: (chunk) => serverD.push(chunk),
    clientLeftover: options.leftover,
    serverLeftover: up.leftover,
  })
}

/** A setting from the startup parameters (`search-path` spelt with a dash is the same setting). */
function startupSetting(params: ReadonlyMap<string, string> | undefined, name: string): string | undefined {
  for (const [key, value] of params ?? []) if (key.toLowerCase().replaceAll('-', '_') === name) return value
  return undefined
}
