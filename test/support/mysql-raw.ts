/** A raw MySQL protocol client for tests that need exact control of the bytes on the wire. */
import {connect, type Socket} from 'node:net'

import {nativeScramble} from '../../src/proxy/mysql/auth.js'
import {encodePacket} from '../../src/proxy/mysql/framing.js'
import {decodeGreeting, encodeHandshakeResponse, type Greeting} from '../../src/proxy/mysql/handshake.js'
import {Cap} from '../../src/proxy/mysql/protocol.js'
import {PacketReader, type Packet} from '../../src/proxy/mysql/reader.js'
import {readErr} from '../../src/proxy/mysql/wire.js'

/** A raw connection: the greeting it got, and packet-level send/receive. */
export interface RawMysql {
  readonly socket: Socket
  readonly greeting: Greeting
  /** Sends raw bytes. */
  write(bytes: Buffer): void
  /** Sends a command payload with sequence id 0. */
  command(payload: Buffer): void
  /** The next packet (rejects when the connection closes first). */
  next(): Promise<Packet>
  /** Resolves when the proxy closed the connection. */
  closed(): Promise<void>
}

/** Opens a raw connection and reads the greeting, without logging in. */
export async function rawMysqlGreeted(port: number): Promise<RawMysql> {
  const socket = connect({host: '127.0.0.1', port})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => undefined)
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const reader = new PacketReader(socket, 1 << 26)
  const greeting = decodeGreeting((await reader.next(10_000)).payload)
  return {
    socket,
    greeting,
    write: (bytes) => socket.write(bytes),
    command: (payload) => socket.write(encodePacket(0, payload)),
    next: () => reader.next(10_000),
    closed: () => ended,
  }
}

/** Capabilities a raw test client asks for. */
export const RAW_CAPABILITIES =
  Cap.protocol41 |
  Cap.secureConnection |
  Cap.pluginAuth |
  Cap.pluginAuthLenenc |
  Cap.connectWithDb |
  Cap.transactions

/** Opens a raw connection and logs in (optionally with the local password); rejects on an ERR. */
export async function rawMysql(
  port: number,
  database: string,
  password = '',
  extraCapabilities = 0,
): Promise<RawMysql> {
  const raw = await rawMysqlGreeted(port)
  raw.write(
    encodePacket(
      1,
      encodeHandshakeResponse({
        capabilities: (RAW_CAPABILITIES | extraCapabilities) & raw.greeting.capabilities,
        maxPacket: 1 << 24,
        collation: 45,
        user: 'root',
        authResponse: nativeScramble(password, raw.greeting.scramble),
        database,
        authPlugin: 'mysql_native_password',
        attributes: undefined,
      }),
    ),
  )
  const ok = await raw.next()
  if (ok.payload[0] !== 0) throw new Error(`login failed: ${readErr(ok.payload).message}`)
  return raw
}

/** The next packet, which must be an ERR: its code and message. */
export async function expectErr(raw: RawMysql): Promise<{code: number; message: string}> {
  const p = await raw.next()
  if (p.payload[0] !== 0xff) throw new Error(`expected ERR, got 0x${(p.payload[0] ?? 0).toString(16)}`)
  const e = readErr(p.payload)
  return {code: e.code, message: e.message}
}
