/**
 * Opens an authenticated connection to the upstream server: TCP, TLS per sslmode, StartupMessage,
 * then SCRAM-SHA-256, md5 or cleartext with the target's credentials, until the first ReadyForQuery.
 */
import {readFileSync} from 'node:fs'
import {connect as netConnect, type Socket} from 'node:net'
import type {ConnectionOptions} from 'node:tls'

import {UpstreamRejectedError, UpstreamUnreachableError, upgradeTls, whenReady} from '../upstream.js'
import {AuthCode, Backend} from './messages.js'
import {MessageReader, ReaderClosedError} from './reader.js'
import {SCRAM_SHA_256, ScramClient, ScramError, md5Password} from './scram.js'
import type {PgTarget} from './target.js'
import type {FieldReader} from './wire.js'
import {
  WireError,
  bodyOf,
  passwordMessage,
  readErrorFields,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from './wire.js'

/** An authenticated upstream connection, ready for queries. */
export interface UpstreamConnection {
  readonly socket: Socket
  /** ParameterStatus frames the server sent, as raw bytes to replay to the client. */
  readonly parameterFrames: readonly Buffer[]
  /** Parameter values by name, e.g. server_version, standard_conforming_strings. */
  readonly parameters: ReadonlyMap<string, string>
  readonly backendPid: number
  readonly backendSecret: number
  /** Bytes that arrived after ReadyForQuery (normally none). */
  readonly leftover: readonly Buffer[]
  /** The startup parameters sent (settings such as search_path included). */
  readonly startup?: ReadonlyMap<string, string>
}

/** Options of connectUpstream. */
export interface UpstreamOptions {
  /** Startup parameters besides user and database (application_name, client_encoding...). */
  readonly parameters?: ReadonlyMap<string, string>
  readonly timeoutMs?: number
  readonly maxMessageBytes?: number
}

function rawConnect(target: PgTarget, timeoutMs: number): Promise<Socket> {
  const where = `${target.host}:${target.port}`
  return whenReady(netConnect({host: target.host, port: target.port}), 'connect', timeoutMs, {
    timeout: `timed out after ${timeoutMs} ms connecting to ${where}`,
    error: (err) => `${where}: ${err.message}`,
  })
}

function readOneByte(socket: Socket, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('error', onError)
      socket.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      cleanup()
      socket.pause()
      // Bytes after the answer would be injected before the TLS handshake (CVE-2021-23222).
      if (chunk.length > 1)
        reject(new UpstreamUnreachableError('the server sent unexpected data after its answer to SSLRequest'))
      else resolve(chunk[0] as number)
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(new UpstreamUnreachableError(err.message, {cause: err}))
    }
    const onClose = (): void => {
      cleanup()
      reject(new UpstreamUnreachableError('the server closed the connection during TLS negotiation'))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new UpstreamUnreachableError('timed out waiting for the answer to SSLRequest'))
    }, timeoutMs)
    socket.on('data', onData)
    socket.on('error', onError)
    socket.on('close', onClose)
    socket.resume()
  })
}

function tlsOptions(target: PgTarget, socket: Socket): ConnectionOptions {
  const name = target.sslServerName ?? target.host
  const base: ConnectionOptions = {
    socket,
    servername: /^[\d.:]+$/.test(name) ? undefined : name,
  }
  switch (target.sslmode) {
    case 'verify-full':
    case 'verify-ca': {
      // No CA at all (a control-plane target without one): the system's trusted roots.
      let ca: Buffer | undefined = target.sslca === undefined ? undefined : Buffer.from(target.sslca)
      if (ca === undefined && target.sslrootcert !== undefined)
        try {
          ca = readFileSync(target.sslrootcert)
        } catch (err) {
          throw new UpstreamUnreachableError(`cannot read sslrootcert ${target.sslrootcert}`, {cause: err})
        }
      if (target.sslmode === 'verify-full') return {...base, ca, rejectUnauthorized: true, host: name}
      return {...base, ca, rejectUnauthorized: true, checkServerIdentity: () => undefined}
    }
    case 'require':
    case 'prefer':
    case 'allow':
    case 'disable':
      // libpq's require/prefer encrypt without verifying the certificate.
      return {...base, rejectUnauthorized: false}
  }
}

/** Negotiates TLS per sslmode; returns the socket to speak the protocol on. */
async function secure(target: PgTarget, socket: Socket, timeoutMs: number): Promise<Socket> {
  if (target.sslmode === 'disable' || target.sslmode === 'allow') return socket
  socket.write(sslRequest())
  const answer = await readOneByte(socket, timeoutMs)
  if (answer === 0x4e /* 'N' */) {
    if (target.sslmode === 'prefer') return socket
    throw new UpstreamUnreachableError(
      `the server does not support TLS, but sslmode=${target.sslmode} requires it`,
    )
  }
  if (answer !== 0x53 /* 'S' */)
    throw new UpstreamUnreachableError('the server sent an invalid answer to SSLRequest')
  return upgradeTls(tlsOptions(target, socket), timeoutMs)
}

/** Opens a TCP (and TLS, per sslmode) connection without speaking the protocol: for CancelRequest. */
export async function openTransport(target: PgTarget, timeoutMs = 10_000): Promise<Socket> {
  const raw = await rawConnect(target, timeoutMs)
  try {
    return await secure(target, raw, timeoutMs)
  } catch (err) {
    raw.destroy()
    throw err
  }
}

/** Connects and authenticates to the target; rejects with UpstreamUnreachableError or UpstreamRejectedError. */
export async function connectUpstream(
  target: PgTarget,
  options: UpstreamOptions = {},
): Promise<UpstreamConnection> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const socket = await openTransport(target, timeoutMs)
  // Keeps a late 'error' from crashing the process; 'close' tells the session what happened.
  socket.on('error', () => undefined)
  const reader = new MessageReader(socket, {maxMessageBytes: options.maxMessageBytes ?? 1 << 30})
  try {
    const params = new Map<string, string>([
      ['user', target.user],
      ['database', target.database],
    ])
    for (const [k, v] of options.parameters ?? []) params.set(k, v)
    socket.write(startupMessage(params))
    const ready = await authenticate(target, reader, socket, timeoutMs)
    const leftover = reader.detach()
    return {socket, ...ready, leftover, startup: params}
  } catch (err) {
    reader.detach()
    socket.destroy()
    if (err instanceof ReaderClosedError)
      throw new UpstreamUnreachableError(`the server closed the connection during startup: ${err.message}`)
    if (err instanceof ScramError || err instanceof WireError)
      throw new UpstreamRejectedError(`authentication failed: ${err.message}`, undefined, '28000')
    throw err
  }
}

type Ready = Omit<UpstreamConnection, 'socket' | 'leftover'>

async function authenticate(
  target: PgTarget,
  reader: MessageReader,
  socket: Socket,
  timeoutMs: number,
): Promise<Ready> {
  const parameterFrames: Buffer[] = []
  const parameters = new Map<string, string>()
  let pid = 0
  let secret = 0
  let scram: ScramClient | undefined
  for (;;) {
    const {type, frame} = await reader.next(timeoutMs)
    switch (type) {
      case Backend.Authentication: {
        const r = bodyOf(frame)
        scram = answerAuth(target, r.int32(), r, socket, scram)
        break
      }
      case Backend.ParameterStatus: {
        const r = bodyOf(frame)
        parameters.set(r.cstring(), r.cstring())
        parameterFrames.push(Buffer.from(frame))
        break
      }
      case Backend.BackendKeyData: {
        const r = bodyOf(frame)
        pid = r.int32()
        secret = r.int32()
        break
      }
      case Backend.ErrorResponse: {
        const fields = readErrorFields(frame)
        const code = fields.get(0x43) ?? 'XX000'
        throw new UpstreamRejectedError(
          fields.get(0x4d) ?? 'the server refused the connection',
          Buffer.from(frame),
          code,
        )
      }
      case Backend.ReadyForQuery:
        return {parameterFrames, parameters, backendPid: pid, backendSecret: secret}
      default:
        // NoticeResponse and NegotiateProtocolVersion need no answer during startup.
        break
    }
  }
}

function needPassword(target: PgTarget): string {
  if (target.password === undefined)
    throw new UpstreamRejectedError(
      'the server asks for a password, but the target URL has none',
      undefined,
      '28P01',
    )
  return target.password
}

function answerAuth(
  target: PgTarget,
  code: number,
  r: FieldReader,
  socket: Socket,
  scram: ScramClient | undefined,
): ScramClient | undefined {
  switch (code) {
    case AuthCode.Ok:
      return scram
    case AuthCode.CleartextPassword:
      socket.write(passwordMessage(needPassword(target)))
      return scram
    case AuthCode.MD5Password:
      socket.write(passwordMessage(md5Password(target.user, needPassword(target), r.bytes(4))))
      return scram
    case AuthCode.SASL: {
      const mechanisms: string[] = []
      for (let m = r.cstring(); m !== ''; m = r.remaining > 0 ? r.cstring() : '') mechanisms.push(m)
      if (!mechanisms.includes(SCRAM_SHA_256))
        throw new UpstreamRejectedError(
          `no supported SASL mechanism (server offers ${mechanisms.join(', ')})`,
          undefined,
          '28000',
        )
      const client = new ScramClient(needPassword(target))
      socket.write(saslInitialResponse(SCRAM_SHA_256, client.clientFirst()))
      return client
    }
    case AuthCode.SASLContinue:
      if (scram === undefined) throw new UpstreamRejectedError('unexpected SASLContinue', undefined, '08P01')
      socket.write(saslResponse(scram.clientFinal(r.bytes(r.remaining).toString('utf8'))))
      return scram
    case AuthCode.SASLFinal:
      if (scram === undefined) throw new UpstreamRejectedError('unexpected SASLFinal', undefined, '08P01')
      scram.verifyServerFinal(r.bytes(r.remaining).toString('utf8'))
      return scram
    default:
      throw new UpstreamRejectedError(`unsupported authentication method (code ${code})`, undefined, '28000')
  }
}
