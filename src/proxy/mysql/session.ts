/**
 * One MySQL client connection's life, as named steps: openUpstream → greetClient → authorize →
 * loginUpstream → makeClientReady → relay. The server speaks first in this protocol, so the
 * upstream's greeting is read before the client is greeted: the client sees the server's version and
 * is offered only capabilities that both the proxy and the server support. Errors before the relay
 * reach the client as an ERR packet in its turn.
 */
import {randomBytes} from 'node:crypto'
import type {Socket} from 'node:net'

import type {AuditProcess} from '../../audit/types.js'
import type {ConnectionHandler, SessionInfo} from '../engine.js'
import {UpstreamRejectedError, UpstreamUnreachableError} from '../upstream.js'
import {SessionAudit} from '../session-audit.js'
import {auditedSource, codeAndMessage} from '../audited-guard.js'
import {peerOf} from '../peer.js'
import {checkNativeScramble} from './auth.js'
import {charsetOfCollation} from './charset.js'
import {ClientProtocolError, type MysqlGuarding} from './client-dispatch.js'
import type {MysqlEngineConfig} from './config.js'
import {PacketError, encodePacket} from './framing.js'
import {
  authSwitchRequest,
  connectionAttribute,
  decodeHandshakeResponse,
  encodeGreeting,
  type HandshakeResponse,
} from './handshake.js'
import {Cap, ErrCode, NATIVE_PASSWORD, PROXY_CAPABILITIES} from './protocol.js'
import {PacketReader, PeerClosedError} from './reader.js'
import {UpstreamLostError} from '../relay-run.js'
import {relayMysql, type MysqlRelay} from './relay.js'
import {ServerProtocolError} from './server-dispatch.js'
import {HeldStatements} from './held.js'
import {MysqlSessionState} from './session-state.js'
import {describeMysqlTarget} from './target.js'
import {authenticateUpstream, openUpstream, type MysqlUpstream, type OpenUpstream} from './upstream.js'
import {WireError, errPacket, okPacket} from './wire.js'

/** An error the session reports to its client as an ERR packet. */
export class MysqlSessionError extends Error {
  constructor(
    readonly code: number,
    readonly sqlState: string,
    message: string,
  ) {
    super(message)
    this.name = 'MysqlSessionError'
  }
}

/** Capabilities the proxy handles itself in the handshake, whatever the server supports. */
const HANDSHAKE_CAPABILITIES =
  Cap.protocol41 | Cap.secureConnection | Cap.pluginAuth | Cap.pluginAuthLenenc | Cap.connectWithDb

/** A 20-byte scramble of printable characters (NUL ends the scramble on the wire). */
function newScramble(): Buffer {
  const b = randomBytes(20)
  for (let i = 0; i < b.length; i++) b[i] = ((b[i] as number) % 94) + 33
  return b
}

/** The MySQL engine's handler of one client connection. */
export class MysqlConnection implements ConnectionHandler {
  /** Sequence id of the next packet to the client. */
  private seq = 0
  private active: MysqlRelay | undefined
  private closing = false
  private reader: PacketReader | undefined
  private open: OpenUpstream | undefined
  /** The scramble of the client's greeting, for the local password. */
  private scramble: Buffer = Buffer.alloc(0)

  constructor(
    private readonly client: Socket,
    private readonly info: SessionInfo,
    private readonly config: MysqlEngineConfig,
    private readonly held: HeldStatements = new HeldStatements(),
  ) {}

  /** Runs the steps of the session. */
  async handleConnection(): Promise<void> {
    const open = await this.openUpstream()
    try {
      const offered = this.greetClient(open)
      const hello = await this.authorize(offered)
      const upstream = await this.loginUpstream(open, hello)
      const audit = this.sessionAudit(hello)
      // Who is on the other end (looked up since accept), and a durable session_start, before the
      // client is told it is connected: a session the trail cannot record is refused.
      const peer = await peerOf(this.info)
      audit.setProcess(peer)
      const refusal = audit.refusal() ?? (await audit.sessionEvent('session_start'))
      if (refusal !== undefined)
        throw new MysqlSessionError(
          ErrCode.notSupported,
          '08004',
          `dbgate cannot record this session in the audit trail: ${codeAndMessage(refusal)}`,
        )
      const state = this.makeClientReady(upstream, hello, audit)
      let error: unknown
      try {
        await this.relay(upstream, state, peer)
      } catch (err) {
        error = err
        throw err
      } finally {
        void audit.sessionEvent('session_end', error === undefined ? undefined : describe(error))
      }
    } finally {
      if (this.active === undefined) open.raw.destroy()
    }
  }

  /** Step 1: TCP to the server and its greeting, which the client's greeting is made from. */
  private async openUpstream(): Promise<OpenUpstream> {
    this.open = await openUpstream(
      this.config.target,
      this.config.upstreamTimeoutMs ?? 15_000,
      this.config.maxServerPacketBytes ?? 1 << 30,
    )
    if (this.closing) this.open.raw.destroy()
    return this.open
  }

  /** Step 2: HandshakeV10 with the server's version and the capabilities both can honour; returns them. */
  private greetClient(open: OpenUpstream): number {
    const g = open.greeting
    let offered = (PROXY_CAPABILITIES & g.capabilities) | HANDSHAKE_CAPABILITIES
    if (this.config.allowLocalInfile === true) offered |= g.capabilities & Cap.localFiles
    const scramble = newScramble()
    this.scramble = scramble
    this.client.write(
      encodePacket(
        0,
        encodeGreeting({
          serverVersion: g.serverVersion,
          connectionId: g.connectionId,
          capabilities: offered,
          collation: g.collation,
          status: 0x0002,
          scramble,
          authPlugin: NATIVE_PASSWORD,
        }),
      ),
    )
    this.seq = 1
    return offered
  }

  /** Step 3: the client's HandshakeResponse41, and the local password when one is set. */
  private async authorize(offered: number): Promise<HandshakeResponse> {
    const timeout = this.config.startupTimeoutMs ?? 30_000
    const reader = new PacketReader(this.client, 1 << 16)
    this.reader = reader
    const first = await reader.next(timeout)
    this.seq = (first.seq + 1) & 0xff
    const decoded = decodeHandshakeResponse(first.payload)
    if ('ssl' in decoded)
      throw new MysqlSessionError(
        ErrCode.notSupported,
        '08004',
        'dbgate: this local port does not offer TLS (it listens on loopback); connect without TLS, e.g. mysql --ssl-mode=DISABLED or --skip-ssl',
      )
    const hello: HandshakeResponse = {...decoded, capabilities: decoded.capabilities & offered}
    const password = this.config.localPassword
    if (password !== undefined) {
      let response = hello.authResponse
      if (hello.authPlugin !== undefined && hello.authPlugin !== NATIVE_PASSWORD) {
        this.client.write(encodePacket(this.seq, authSwitchRequest(NATIVE_PASSWORD, this.scramble)))
        const answer = await reader.next(timeout)
        this.seq = (answer.seq + 1) & 0xff
        response = answer.payload
      }
      if (!checkNativeScramble(password, this.scramble, response))
        throw new MysqlSessionError(
          ErrCode.wrongPassword,
          '28000',
          `Access denied for user '${hello.user}' (dbgate local password)`,
        )
    }
    return hello
  }

  /** Step 4: authenticate upstream with the target's credentials and the client's session options. */
  private async loginUpstream(open: OpenUpstream, hello: HandshakeResponse): Promise<MysqlUpstream> {
    return authenticateUpstream(this.config.target, open, {
      capabilities: hello.capabilities & ~HANDSHAKE_CAPABILITIES,
      collation: hello.collation,
      database: hello.database ?? this.config.target.database,
      attributes: hello.capabilities & Cap.connectAttrs ? hello.attributes : undefined,
      maxPacketBytes: hello.maxPacket,
      timeoutMs: this.config.upstreamTimeoutMs ?? 15_000,
    })
  }

  /** Step 5: OK to the client; the session state both dispatchers share. */
  private makeClientReady(
    upstream: MysqlUpstream,
    hello: HandshakeResponse,
    audit: SessionAudit,
  ): MysqlSessionState {
    this.client.write(okPacket(this.seq))
    const capabilities = hello.capabilities & upstream.capabilities
    return new MysqlSessionState(
      hello.database ?? this.config.target.database,
      capabilities,
      audit,
      charsetOfCollation(hello.collation),
    )
  }

  /** Step 6: the two dispatchers until either side ends. */
  private async relay(upstream: MysqlUpstream, state: MysqlSessionState, peer: AuditProcess): Promise<void> {
    const clientLeftover = this.reader?.detach() ?? []
    this.reader = undefined
    this.seq = 1
    const config = this.config
    const source = auditedSource(config, state.audit)
    const guarding: MysqlGuarding = {
      get guard() {
        return source.guard
      },
      get evalContext() {
        return source.evalContext
      },
      get policy() {
        return config.policy
      },
    }
    const r = relayMysql({
      client: this.client,
      server: upstream.socket,
      config,
      state,
      guarding,
      onLostEvent: (err, wrote) => this.lostEvent(err, wrote),
      clientLeftover,
      serverLeftover: upstream.leftover,
      peer,
      held: {statements: this.held, connectionId: this.open?.greeting.connectionId ?? 0},
    })
    this.active = r
    if (this.closing) r.close('dbgate is shutting down')
    await r.done
  }

  /** A statement that wrote and whose event could not be recorded ends the session (as for Postgres). */
  private lostEvent(error: Error, wrote: boolean): void {
    if (!wrote) return
    // After the held output is dropped: the client gets only the reason.
    setImmediate(() =>
      this.active?.close(
        `the audit event of a statement that writes could not be recorded (${codeAndMessage(error)})`,
      ),
    )
  }

  private sessionAudit(hello: HandshakeResponse): SessionAudit {
    const t = this.config.target
    const facts = this.config.auditFacts
    return new SessionAudit(this.config.audit, {
      session_id: this.info.id,
      identity: this.config.identity,
      actor: this.config.evalContext.actor,
      target: describeMysqlTarget(t),
      protocol: 'mysql',
      database: hello.database ?? t.database,
      db_user: t.user,
      client_version: this.config.clientVersion,
      application_name: connectionAttribute(hello.attributes, 'program_name'),
      groups: this.config.evalContext.groups ?? [],
      agent: this.config.auditFacts?.agent ?? null,
      // Read per event: a policy swapped in while the session is open (TARGET renewal) brings its version.
      get policy_version() {
        return facts?.policyVersion ?? null
      },
    })
  }

  /** Writes an ERR packet for an error that ended the session. */
  sendError(error: unknown): void {
    const packet = errorPacket(this.replySeq(error), error)
    if (packet === undefined || this.client.destroyed || !this.client.writable) return
    try {
      this.client.end(packet)
    } catch {
      // The client is gone; nothing to tell.
    }
  }

  /**
   * The sequence id the client expects for the ERR: during the relay, the next packet of the response
   * it is reading, else the reply to the packet that ended the session (a command too large, parts out
   * of sequence), else 1 (an idle client reads it as the reply to its next command).
   */
  private replySeq(error: unknown): number {
    if (this.active === undefined) return this.seq
    const owed = this.active.replySeq()
    if (owed !== undefined) return owed
    return error instanceof PacketError && error.seq >= 0 ? (error.seq + 1) & 0xff : 1
  }

  /** Ends the session for a shutdown. */
  close(reason: string): void {
    this.closing = true
    if (this.active !== undefined) this.active.close(reason)
    else {
      this.open?.raw.destroy()
      this.client.destroy()
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The ERR packet a client gets for an error that ended its session; undefined when it left. */
export function errorPacket(seq: number, error: unknown): Buffer | undefined {
  const err = (code: number, state: string, message: string): Buffer => errPacket(seq, code, state, message)
  if (error instanceof PeerClosedError) return undefined
  if (error instanceof MysqlSessionError) return err(error.code, error.sqlState, error.message)
  if (error instanceof PacketError)
    return error.tooLarge
      ? err(ErrCode.packetTooLarge, '08S01', `dbgate: ${error.message}`)
      : err(ErrCode.malformed, '08S01', `dbgate: invalid packet from the client: ${error.message}`)
  if (error instanceof WireError || error instanceof ClientProtocolError)
    return err(ErrCode.malformed, '08S01', `dbgate: invalid packet from the client: ${error.message}`)
  if (error instanceof UpstreamRejectedError && error.frame !== undefined)
    return encodePacket(seq, error.frame)
  if (error instanceof UpstreamUnreachableError)
    return err(ErrCode.upstreamUnreachable, 'HY000', `dbgate cannot reach the database: ${error.message}`)
  if (error instanceof ServerProtocolError || error instanceof UpstreamLostError)
    return err(2013, 'HY000', `dbgate: ${error.message}`)
  return err(1105, 'HY000', `dbgate internal error: ${describe(error)}`)
}
