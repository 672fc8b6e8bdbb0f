/**
 * The MySQL relay: wires the client and upstream sockets to their dispatchers, applies backpressure
 * both ways (src/proxy/pump.ts, shared with the Postgres engine), and ends the session cleanly when either
 * side goes away. Never throws from a socket callback.
 */
import type {Socket} from 'node:net'

import type {AuditProcess} from '../../audit/types.js'
import {reviewWithPeer} from '../review.js'
import {ReadGate} from '../flow.js'
import {PROCESS_MASK_KEY} from '../mask-key.js'
import {RunWriter} from '../run-writer.js'
import {RelayRun, type Relay} from '../relay-run.js'
import type {LostEventHandler} from '../session-audit.js'
import type {SessionHeld} from './held.js'
import {ClientDispatcher, type MysqlGuarding} from './client-dispatch.js'
import type {MysqlEngineConfig} from './config.js'
import {encodePacket} from './framing.js'
import {MysqlMaskSession} from './mask-session.js'
import {Command, ErrCode} from './protocol.js'
import {ServerDispatcher} from './server-dispatch.js'
import type {MysqlSessionState} from './session-state.js'
import {errPacket} from './wire.js'

/** Inputs of a relay. */
export interface MysqlRelayOptions {
  readonly client: Socket
  readonly server: Socket
  readonly config: MysqlEngineConfig
  readonly state: MysqlSessionState
  /** The session's guard (audited: writes refused while the trail cannot record them). */
  readonly guarding: MysqlGuarding
  /** Told when a statement's audit event could not be recorded (its held output is then dropped). */
  readonly onLostEvent: LostEventHandler
  /** Bytes read during the handshake that belong to the relay. */
  readonly clientLeftover: readonly Buffer[]
  readonly serverLeftover: readonly Buffer[]
  /** The client's process as the session found it (named in approval requests). */
  readonly peer: AuditProcess
  /** The engine's held statements, and this session's connection id among them. */
  readonly held: SessionHeld
}

/** A running MySQL relay. */
export interface MysqlRelay extends Relay {
  /**
   * The sequence id of the packet the client expects next for the oldest response it is still owed
   * (as of the end of the session, once it ended); undefined when it was owed none.
   */
  replySeq(): number | undefined
}

/** Starts relaying between the client and the upstream. */
export function relayMysql(o: MysqlRelayOptions): MysqlRelay {
  const {client, server, config, state} = o
  if (config.policy.masking.length > 0)
    state.masking = new MysqlMaskSession(config.policy.masking, config.maskKey ?? PROCESS_MASK_KEY)
  const toServer = new RunWriter(server)
  const toClient = new RunWriter(client)
  const expected = (): number | undefined => (state.queue.length > 0 ? serverD.replySeq() : undefined)
  let ended: {seq: number | undefined} | undefined
  // The client sees the end of a statement (its last packet, or a denial) only once its event is durable.
  state.audit.bind(toClient, o.onLostEvent)
  // The client's own COM_QUIT already went to the server: a second one would only meet a closed
  // connection (a reset, and an error built for nothing).
  let quitForwarded = false
  const run = new RelayRun({
    client,
    server,
    toClient,
    stop: () => {
      ended = {seq: expected()}
      clientD.stop()
      state.queue.length = 0
    },
    goodbye: () => (quitForwarded ? Buffer.alloc(0) : encodePacket(0, Buffer.from([Command.quit]))),
    farewell: (reason) => errPacket(expected() ?? 1, ErrCode.serverShutdown, '08S01', `dbgate: ${reason}`),
  })
  const finish = run.finish
  const clientGate = new ReadGate(client)

  const clientD: ClientDispatcher = new ClientDispatcher({
    state,
    guarding: o.guarding,
    toServer,
    toClient,
    maxPacketBytes: config.maxPacketBytes,
    allowLocalInfile: config.allowLocalInfile ?? false,
    onQuit: () => {
      quitForwarded = true
      finish()
    },
    onFatal: (err) => finish(err),
    review: config.review === undefined ? undefined : reviewWithPeer(config.review, o.peer),
    reviewNotice: config.reviewNotice,
    clientGate,
    held: o.held,
  })
  const serverD = new ServerDispatcher({
    state,
    toClient,
    maxPacketBytes: config.maxServerPacketBytes ?? 1 << 30,
    allowInfile: (entry) =>
      (config.allowLocalInfile ?? false) &&
      entry.running !== undefined &&
      entry.running.decision.rule !== null &&
      entry.running.decision.operations.some((op) => op.kind === 'copy'),
    onInfile: () => clientD.expectInfile(),
    onFatal: (err) => finish(err),
  })

  const relay = run.start({
    toServer,
    clientGate,
    serverGate: new ReadGate(server),
    onClientData: (chunk) => clientD.push(chunk),
    onServerData: (chunk) => serverD.push(chunk),
    clientLeftover: o.clientLeftover,
    serverLeftover: o.serverLeftover,
  })
  return {
    done: relay.done,
    close: (reason) => relay.close(reason),
    replySeq: () => (ended === undefined ? expected() : ended.seq),
  }
}
