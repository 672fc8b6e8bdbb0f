/**
 * The proxy as a MySQL client: TCP, the server's greeting, TLS per ssl-mode, and authentication with
 * mysql_native_password or caching_sha2_password (fast path; full authentication in clear text over
 * TLS, else RSA-encrypted with the server's public key).
 */
import {readFileSync} from 'node:fs'
import {connect as netConnect, type Socket} from 'node:net'
import type {ConnectionOptions} from 'node:tls'

import {UpstreamRejectedError, UpstreamUnreachableError, upgradeTls, whenReady} from '../upstream.js'
import {cachingSha2Scramble, nativeScramble, rsaEncryptPassword} from './auth.js'
import {encodePacket} from './framing.js'
import {decodeGreeting, encodeHandshakeResponse, type Greeting} from './handshake.js'
import {CACHING_SHA2, Cap, Header, NATIVE_PASSWORD} from './protocol.js'
import {PacketReader, type Packet} from './reader.js'
import type {MysqlTarget} from './target.js'
import {readErr} from './wire.js'

/** A TCP connection that has read the server's greeting, not yet authenticated. */
export interface OpenUpstream {
  readonly raw: Socket
  readonly reader: PacketReader
  readonly greeting: Greeting
}

/** An authenticated upstream connection, ready for commands. */
export interface MysqlUpstream {
  readonly socket: Socket
  readonly greeting: Greeting
  /** The capabilities both sides use from now on. */
  readonly capabilities: number
  /** Bytes read after authentication, to be handed to the relay. */
  readonly leftover: Buffer[]
}

/** What the client asked for, carried to the server. */
export interface UpstreamLogin {
  /** Capabilities of the session (already limited to what proxy and server both support). */
  readonly capabilities: number
  readonly collation: number
  readonly database: string
  readonly attributes: Buffer | undefined
  readonly maxPacketBytes: number
  readonly timeoutMs: number
}

/** Opens TCP and reads the greeting. */
export async function openUpstream(
  target: MysqlTarget,
  timeoutMs: number,
  maxPacketBytes: number,
): Promise<OpenUpstream> {
  const raw = await whenReady(netConnect({host: target.host, port: target.port}), 'connect', timeoutMs, {
    timeout: `timed out connecting to ${target.host}:${target.port}`,
    error: (err) => err.message,
  })
  const reader = new PacketReader(raw, maxPacketBytes)
  try {
    const first = await reader.next(timeoutMs)
    if (first.payload[0] === Header.err) throw rejected(first)
    return {raw, reader, greeting: decodeGreeting(first.payload)}
  } catch (err) {
    raw.destroy()
    if (err instanceof UpstreamRejectedError) throw err
    throw new UpstreamUnreachableError(`no valid greeting from the server: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

function rejected(p: Packet): UpstreamRejectedError {
  const e = readErr(p.payload)
  return new UpstreamRejectedError(e.message, p.payload, e.sqlState)
}

function tlsOptions(target: MysqlTarget, socket: Socket): ConnectionOptions {
  const name = target.sslServerName ?? target.host
  const base: ConnectionOptions = {
    socket,
    servername: /^[\d.:]+$/.test(name) ? undefined : name,
  }
  if (target.sslMode !== 'verify_ca' && target.sslMode !== 'verify_identity')
    return {...base, rejectUnauthorized: false}
  // Neither a PEM nor a file (TARGET mode's verify-full without a CA): the system's roots.
  let ca: string | Buffer | undefined
  try {
    ca = target.sslCaPem ?? (target.sslCa === undefined ? undefined : readFileSync(target.sslCa))
  } catch (err) {
    throw new UpstreamUnreachableError(`cannot read ssl-ca ${target.sslCa ?? ''}`, {cause: err})
  }
  if (target.sslMode === 'verify_identity') return {...base, ca, rejectUnauthorized: true, host: name}
  return {...base, ca, rejectUnauthorized: true, checkServerIdentity: () => undefined}
}

/** The first response for a plugin; unknown plugins get a native response (the server then switches). */
function pluginResponse(plugin: string, password: string, scramble: Buffer): {plugin: string; data: Buffer} {
  if (plugin === CACHING_SHA2) return {plugin, data: cachingSha2Scramble(password, scramble)}
  return {plugin: NATIVE_PASSWORD, data: nativeScramble(password, scramble)}
}

/** Authenticates an open upstream connection as the target's user; closes it on failure. */
export async function authenticateUpstream(
  target: MysqlTarget,
  open: OpenUpstream,
  login: UpstreamLogin,
): Promise<MysqlUpstream> {
  const {greeting, reader} = open
  let socket: Socket = open.raw
  try {
    let seq = 1
    let capabilities =
      login.capabilities |
      Cap.protocol41 |
      Cap.secureConnection |
      (greeting.capabilities & (Cap.pluginAuth | Cap.pluginAuthLenenc))
    if (login.database !== '') capabilities |= Cap.connectWithDb
    else capabilities &= ~Cap.connectWithDb
    const serverTls = (greeting.capabilities & Cap.ssl) !== 0
    const wantTls = target.sslMode !== 'disabled'
    if (wantTls && !serverTls && target.sslMode !== 'preferred')
      throw new UpstreamUnreachableError(
        `the server does not support TLS, but ssl-mode=${target.sslMode} requires it`,
      )
    const password = target.password ?? ''
    const first = pluginResponse(greeting.authPlugin, password, greeting.scramble)
    const response = {
      capabilities: (capabilities | (wantTls && serverTls ? Cap.ssl : 0)) & (greeting.capabilities | Cap.ssl),
      maxPacket: login.maxPacketBytes,
      collation: login.collation,
      user: target.user,
      authResponse: first.data,
      database: login.database,
      authPlugin: first.plugin,
      attributes: login.attributes,
    }
    if (wantTls && serverTls) {
      open.raw.write(encodePacket(seq++, encodeHandshakeResponse(response, true)))
      // Nothing may be read in clear text once TLS is asked for.
      reader.suspend()
      socket = await upgradeTls(tlsOptions(target, open.raw), login.timeoutMs)
      reader.resumeOn(socket)
    }
    socket.write(encodePacket(seq++, encodeHandshakeResponse(response)))
    let plugin = first.plugin
    let scramble = greeting.scramble
    const tls = socket !== open.raw
    for (;;) {
      const p = await reader.next(login.timeoutMs)
      seq = (p.seq + 1) & 0xff
      const head = p.payload[0]
      if (head === Header.ok)
        return {socket, greeting, capabilities: response.capabilities & ~Cap.ssl, leftover: reader.detach()}
      if (head === Header.err) throw rejected(p)
      if (head === Header.eof) {
        // AuthSwitchRequest: plugin name, then the new scramble.
        const end = p.payload.indexOf(0, 1)
        plugin = p.payload.toString('utf8', 1, end < 0 ? p.payload.length : end)
        scramble =
          end < 0
            ? Buffer.alloc(0)
            : p.payload.subarray(end + 1, p.payload.length - (p.payload.at(-1) === 0 ? 1 : 0))
        if (plugin !== NATIVE_PASSWORD && plugin !== CACHING_SHA2)
          throw new UpstreamUnreachableError(
            `the server asked for the unsupported authentication plugin ${plugin}`,
          )
        socket.write(encodePacket(seq, pluginResponse(plugin, password, scramble).data))
        continue
      }
      if (head === Header.authMoreData && plugin === CACHING_SHA2) {
        const step = p.payload[1]
        if (p.payload.length === 2 && step === 0x03) continue // fast authentication succeeded; OK follows
        if (p.payload.length === 2 && step === 0x04) {
          // Full authentication: the password itself, protected by TLS or by the server's RSA key.
          if (tls) socket.write(encodePacket(seq, Buffer.from(`${password}\0`, 'utf8')))
          else socket.write(encodePacket(seq, Buffer.from([0x02])))
          continue
        }
        const pem = p.payload.toString('latin1', 1)
        if (!pem.includes('BEGIN PUBLIC KEY'))
          throw new UpstreamUnreachableError('the server sent an unexpected caching_sha2_password message')
        socket.write(encodePacket(seq, rsaEncryptPassword(password, scramble, pem)))
        continue
      }
      throw new UpstreamUnreachableError(
        `unexpected packet 0x${(head ?? 0).toString(16)} during authentication`,
      )
    }
  } catch (err) {
    reader.detach()
    socket.destroy()
    open.raw.destroy()
    if (err instanceof UpstreamRejectedError || err instanceof UpstreamUnreachableError) throw err
    throw new UpstreamUnreachableError(`authentication with the server failed: ${(err as Error).message}`, {
      cause: err,
    })
  }
}
