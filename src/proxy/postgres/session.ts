/**
 * One client connection's life, as named steps: readStartup → authorize → connectUpstream →
 * makeClientReady → relay. Errors before the relay reach the client as a FATAL ErrorResponse.
 */
import {createHash, timingSafeEqual} from 'node:crypto'
import type {Socket} from 'node:net'

import type {AuditProcess} from '../../audit/types.js'
import type {ConnectionHandler, SessionInfo} from '../engine.js'
import type {CancelMap, IssuedKey} from './cancel.js'
import {decisionError} from './decide.js'
import {FrameError} from './framing.js'
import {AuthCode, Backend, SqlState} from './messages.js'
import {MessageReader, ReaderClosedError} from './reader.js'
import type {Relay} from '../relay-run.js'
import {relay} from './relay.js'
import {SCRAM_SHA_256, ScramError} from './scram.js'
import {ScramServer, scramSecret, type ScramSecret} from './scram-server.js'
import type {PgEngineConfig} from './config.js'
import {SessionAudit, type AuditBase} from '../session-audit.js'
import {auditedSource, codeAndMessage} from '../audited-guard.js'
import {peerOf} from '../peer.js'
import {SessionState} from './session-state.js'
import {
  classifyParameters,
  parseStartupPacket,
  settingAsSql,
  wantsReplication,
  type StartupPacket,
} from './startup.js'
import {describeTarget} from './target.js'
import {UpstreamRejectedError, UpstreamUnreachableError} from '../upstream.js'
import {connectUpstream, type UpstreamConnection} from './upstream.js'
import {
  authentication,
  backendKeyData,
  bodyOf,
  errorResponse,
  readyForQuery,
  typed,
  WireError,
} from './wire.js'

/** An error the session reports to its client with a SQLSTATE. */
export class SessionError extends Error {
  constructor(
    readonly sqlState: string,
    message: string,
    readonly frame?: Buffer,
  ) {
    super(message)
    this.name = 'SessionError'
  }
}

type Startup = Extract<StartupPacket, {kind: 'startup'}>

/** The local password's SCRAM secret, derived once per engine configuration (PBKDF2 is slow on purpose). */
const secrets = new WeakMap<PgEngineConfig, ScramSecret>()

function secretOf(config: PgEngineConfig, password: string): ScramSecret {
  let secret = secrets.get(config)
  if (secret === undefined) {
    secret = scramSecret(password)
    secrets.set(config, secret)
  }
  return secret
}

/** The Postgres engine's handler of one client connection. */
export class PgConnection implements ConnectionHandler {
  private reader: MessageReader | undefined
  private leftover: Buffer[] = []
  private active: Relay | undefined
  private audit: SessionAudit | undefined
  private closing = false
  private appName: string | undefined
  /** The client's process, looked up since accept; known before the relay starts. */
  private peer: AuditProcess = {found: false, reason: 'not looked up yet'}
  /** The cancel key handed to the client (step 4). */
  private cancelKey: IssuedKey | undefined

  constructor(
    private readonly client: Socket,
    private readonly info: SessionInfo,
    private readonly config: PgEngineConfig,
    private readonly cancels: CancelMap,
  ) {}

  /** Runs the steps of the session. */
  async handleConnection(): Promise<void> {
    const startup = await this.readStartup()
    if (startup === undefined) return
    const params = await this.authorize(startup)
    const upstream = await this.connectUpstream(params)
    const audit = this.sessionAudit()
    await this.recordStart(audit, upstream)
    this.makeClientReady(upstream)
    let error: unknown
    try {
      await this.relay(upstream, audit)
    } catch (err) {
      error = err
      throw err
    } finally {
      void audit.sessionEvent('session_end', error === undefined ? undefined : describe(error))
    }
  }

  /**
   * Before the client is told it is connected: who is on the other end of the socket (looked up since
   * accept), and a durable session_start event. A session the trail cannot record is refused.
   */
  private async recordStart(audit: SessionAudit, upstream: UpstreamConnection): Promise<void> {
    this.peer = await peerOf(this.info)
    audit.setProcess(this.peer)
    const refusal = audit.refusal() ?? (await audit.sessionEvent('session_start'))
    if (refusal === undefined) return
    upstream.socket.destroy()
    throw new SessionError(
      '08004',
      `dbgate cannot record this session in the audit trail: ${codeAndMessage(refusal)}`,
    )
  }

  /** An event could not be recorded: a statement that wrote ends the session, its result unseen. */
  private lostEvent(error: Error, wrote: boolean): void {
    if (!wrote) return
    // After the held output is dropped: the client gets only the reason.
    setImmediate(() =>
      this.active?.close(
        `the audit event of a statement that writes could not be recorded (${codeAndMessage(error)})`,
      ),
    )
  }

  /** Step 1: SSLRequest/GSSENCRequest are declined, a CancelRequest is passed on, a StartupMessage read. */
  private async readStartup(): Promise<Startup | undefined> {
    const timeout = this.config.startupTimeoutMs ?? 30_000
    const reader = new MessageReader(this.client, {maxMessageBytes: 10_000, startup: true})
    this.reader = reader
    for (;;) {
      const packet = parseStartupPacket((await reader.next(timeout)).frame)
      switch (packet.kind) {
        case 'ssl':
        case 'gssenc':
          // Loopback needs no TLS; libpq then continues in the clear.
          this.client.write('N')
          break
        case 'cancel':
          reader.detach()
          await this.cancels.cancel(packet.pid, packet.secret).catch(() => false)
          this.client.end()
          return undefined
        case 'startup':
          reader.endStartup()
          return packet
      }
    }
  }

  /** Step 2: the local password (if required), then the client's parameters as the guard sees them. */
  private async authorize(startup: Startup): Promise<Map<string, string>> {
    const reader = this.reader as MessageReader
    this.appName = startup.params.get('application_name')
    const {passThrough, settings, unsupportedExtensions} = classifyParameters(startup.params)
    if (startup.minor > 0 || unsupportedExtensions.length > 0)
      this.client.write(negotiateProtocol(unsupportedExtensions))
    const password = this.config.localPassword
    if (password !== undefined) {
      if (this.config.localPasswordMethod === 'password') await this.checkPassword(reader, startup, password)
      else await this.checkScram(reader, startup, secretOf(this.config, password))
    }
    this.leftover = reader.detach()
    this.reader = undefined
    if (wantsReplication(startup.params))
      throw new SessionError(
        SqlState.featureNotSupported,
        'replication connections are not supported through dbgate',
      )
    const database = startup.params.get('database') ?? startup.params.get('user') ?? ''
    if (database !== this.config.target.database)
      throw new SessionError(
        '3D000',
        `database "${database}" is not served here: this dbgate port serves "${this.config.target.database}"`,
      )
    const params = new Map(passThrough)
    for (const [name, value] of settings) {
      const sql = settingAsSql(name, value)
      const {decision} = this.config.guard.decide(sql, this.config.evalContext, {defaultSchema: 'public'})
      if (decision.decision !== 'allow') {
        this.sessionAudit().statementEvent({sql, decision})
        throw new SessionError(
          SqlState.insufficientPrivilege,
          'setting denied',
          decisionError(decision, 'FATAL'),
        )
      }
      params.set(name, value)
    }
    return params
  }

  private async checkPassword(reader: MessageReader, startup: Startup, expected: string): Promise<void> {
    this.client.write(authentication(AuthCode.CleartextPassword))
    const {type, frame} = await reader.next(this.config.startupTimeoutMs ?? 30_000)
    if (type !== 0x70 /* 'p' */)
      throw new SessionError(SqlState.protocolViolation, 'expected a password message')
    const given = bodyOf(frame).cstring()
    const a = createHash('sha256').update(given).digest()
    const b = createHash('sha256').update(expected).digest()
    if (!timingSafeEqual(a, b))
      throw new SessionError(
        SqlState.invalidPassword,
        `password authentication failed for user "${startup.params.get('user') ?? ''}"`,
      )
  }

  /** SCRAM-SHA-256 with the local password: the client proves it knows the password without sending it. */
  private async checkScram(reader: MessageReader, startup: Startup, secret: ScramSecret): Promise<void> {
    const timeout = this.config.startupTimeoutMs ?? 30_000
    const next = async (): Promise<Buffer> => {
      const {type, frame} = await reader.next(timeout)
      if (type !== 0x70 /* 'p' */)
        throw new SessionError(SqlState.protocolViolation, 'expected a SASL response message')
      return frame
    }
    this.client.write(authentication(AuthCode.SASL, Buffer.from(`${SCRAM_SHA_256}\0\0`)))
    const initial = bodyOf(await next())
    const mechanism = initial.cstring()
    if (mechanism !== SCRAM_SHA_256)
      throw new SessionError(SqlState.protocolViolation, `unsupported SASL mechanism "${mechanism}"`)
    const length = initial.int32()
    const server = new ScramServer(secret)
    try {
      const first = server.serverFirst(initial.bytes(Math.max(length, 0)).toString('utf8'))
      this.client.write(authentication(AuthCode.SASLContinue, Buffer.from(first)))
      const response = bodyOf(await next())
      const final = server.serverFinal(response.bytes(response.remaining).toString('utf8'))
      if (final === null)
        throw new SessionError(
          SqlState.invalidPassword,
          `password authentication failed for user "${startup.params.get('user') ?? ''}"`,
        )
      this.client.write(authentication(AuthCode.SASLFinal, Buffer.from(final)))
    } catch (err) {
      if (err instanceof ScramError)
        throw new SessionError(SqlState.protocolViolation, `SCRAM authentication failed: ${err.message}`)
      throw err
    }
  }

  /** Step 3: an authenticated upstream connection with the target's credentials. */
  private connectUpstream(params: ReadonlyMap<string, string>): Promise<UpstreamConnection> {
    return connectUpstream(this.config.target, {
      parameters: params,
      timeoutMs: this.config.upstreamTimeoutMs ?? 15_000,
    })
  }

  /** Step 4: AuthenticationOk, the server's parameters, the proxy's cancel key, ReadyForQuery. */
  private makeClientReady(upstream: UpstreamConnection): void {
    const key = this.cancels.register(this.config.target, upstream.backendPid, upstream.backendSecret)
    this.cancelKey = key
    this.client.once('close', () => key.release())
    this.client.write(
      Buffer.concat([
        authentication(AuthCode.Ok),
        ...upstream.parameterFrames,
        backendKeyData(key.pid, key.secret),
        readyForQuery(0x49),
      ]),
    )
  }

  /** Step 5: the two dispatchers until either side ends. */
  private async relay(upstream: UpstreamConnection, audit: SessionAudit): Promise<void> {
    const r = relay({
      client: this.client,
      upstream,
      config: this.config,
      makeState: (toClient) => {
        audit.bind(toClient, (err, wrote) => this.lostEvent(err, wrote))
        return new SessionState(auditedSource(this.config, audit), toClient, audit, upstream.parameters)
      },
      leftover: this.leftover,
      peer: this.peer,
      cancelKey: this.cancelKey,
    })
    this.active = r
    if (this.closing) r.close('dbgate is shutting down')
    await r.done
  }

  private sessionAudit(): SessionAudit {
    if (this.audit !== undefined) return this.audit
    const t = this.config.target
    const facts = this.config.auditFacts
    const base: AuditBase = {
      session_id: this.info.id,
      identity: this.config.identity,
      actor: this.config.evalContext.actor,
      target: describeTarget(t),
      protocol: 'postgres',
      database: t.database,
      db_user: t.user,
      client_version: this.config.clientVersion,
      application_name: this.appName,
      groups: this.config.evalContext.groups ?? [],
      agent: this.config.auditFacts?.agent ?? null,
      // Read per event: a policy swapped in while the session is open (TARGET renewal) brings its version.
      get policy_version() {
        return facts?.policyVersion ?? null
      },
    }
    this.audit = new SessionAudit(this.config.audit, base)
    return this.audit
  }

  /** Writes a FATAL ErrorResponse for an error that ended the session. */
  sendError(error: unknown): void {
    const frame = errorFrame(error)
    if (frame === undefined || this.client.destroyed || !this.client.writable) return
    try {
      this.client.end(frame)
    } catch {
      // The client is gone; nothing to tell.
    }
  }

  /** Ends the session for a shutdown. */
  close(reason: string): void {
    this.closing = true
    if (this.active !== undefined) this.active.close(reason)
    else this.client.destroy()
  }
}

function negotiateProtocol(unsupported: readonly string[]): Buffer {
  const parts = [Buffer.alloc(8)]
  parts[0]?.writeInt32BE(0x00030000, 0)
  parts[0]?.writeInt32BE(unsupported.length, 4)
  for (const u of unsupported) parts.push(Buffer.from(`${u}\0`))
  return typed(Backend.NegotiateProtocolVersion, Buffer.concat(parts))
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The FATAL ErrorResponse a client gets for an error that ended its session; undefined when it left. */
export function errorFrame(error: unknown): Buffer | undefined {
  const fatal = (code: string, message: string): Buffer => errorResponse({severity: 'FATAL', code, message})
  if (error instanceof ReaderClosedError) return undefined
  if (error instanceof SessionError) return error.frame ?? fatal(error.sqlState, error.message)
  if (error instanceof FrameError)
    return fatal(error.sqlState, `invalid message from the client: ${error.message}`)
  if (error instanceof WireError)
    return fatal(SqlState.protocolViolation, `invalid message from the client: ${error.message}`)
  if (error instanceof UpstreamRejectedError) return error.frame ?? fatal(error.sqlState, error.message)
  if (error instanceof UpstreamUnreachableError)
    return fatal('08001', `dbgate cannot reach the database: ${error.message}`)
  return fatal('XX000', `dbgate internal error: ${describe(error)}`)
}
