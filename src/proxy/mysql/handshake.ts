/**
 * The handshake packets of protocol 4.1: the server's greeting (HandshakeV10), the client's
 * HandshakeResponse41 or SSLRequest, in both directions (the proxy is a server to its client and a
 * client to the database).
 */
import {Cap} from './protocol.js'
import {PayloadReader, WireError, lenencInt} from './wire.js'

/** The parts of a server greeting the proxy uses. */
export interface Greeting {
  readonly serverVersion: string
  readonly connectionId: number
  readonly capabilities: number
  readonly collation: number
  readonly status: number
  /** The 20-byte scramble (nonce) for the first auth plugin. */
  readonly scramble: Buffer
  readonly authPlugin: string
}

/** Encodes a HandshakeV10 payload. */
export function encodeGreeting(g: Greeting): Buffer {
  const version = Buffer.from(`${g.serverVersion}\0`, 'utf8')
  const head = Buffer.alloc(1 + version.length + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10)
  let o = 0
  head[o++] = 10
  version.copy(head, o)
  o += version.length
  head.writeUInt32LE(g.connectionId, o)
  o += 4
  g.scramble.copy(head, o, 0, 8)
  o += 8 + 1
  head.writeUInt16LE(g.capabilities & 0xffff, o)
  o += 2
  head[o++] = g.collation
  head.writeUInt16LE(g.status, o)
  o += 2
  head.writeUInt16LE(g.capabilities >>> 16, o)
  o += 2
  head[o] = g.scramble.length + 1
  return Buffer.concat([head, g.scramble.subarray(8), Buffer.from([0]), Buffer.from(`${g.authPlugin}\0`)])
}

/** Decodes a HandshakeV10 payload from a server. */
export function decodeGreeting(payload: Buffer): Greeting {
  const r = new PayloadReader(payload)
  const protocol = r.int(1)
  if (protocol !== 10) throw new WireError(`unsupported handshake protocol version ${protocol}`)
  const serverVersion = r.nulString()
  const connectionId = r.int(4)
  const part1 = r.bytes(8)
  r.skip(1)
  let capabilities = r.int(2)
  const collation = r.remaining > 0 ? r.int(1) : 0
  const status = r.remaining >= 2 ? r.int(2) : 0
  capabilities = (capabilities | ((r.remaining >= 2 ? r.int(2) : 0) << 16)) >>> 0
  const authLength = r.remaining > 0 ? r.int(1) : 0
  if (r.remaining >= 10) r.skip(10)
  let part2: Buffer = Buffer.alloc(0)
  if (capabilities & Cap.secureConnection) {
    const n = Math.max(13, authLength - 8)
    part2 = r.bytes(Math.min(n, r.remaining))
    if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1)
  }
  const authPlugin = capabilities & Cap.pluginAuth ? r.nulString(true) : 'mysql_native_password'
  return {
    serverVersion,
    connectionId,
    capabilities,
    collation,
    status,
    scramble: Buffer.concat([part1, part2]),
    authPlugin,
  }
}

/** A client's HandshakeResponse41. */
export interface HandshakeResponse {
  readonly capabilities: number
  readonly maxPacket: number
  readonly collation: number
  readonly user: string
  readonly authResponse: Buffer
  readonly database: string | undefined
  readonly authPlugin: string | undefined
  /** The raw connection attributes (key/value pairs), passed on as they came. */
  readonly attributes: Buffer | undefined
}

/** Bytes of an SSLRequest: the fixed head of a HandshakeResponse41 alone. */
export const SSL_REQUEST_BYTES = 32

/** Decodes a client's first packet: an SSLRequest (`ssl: true`) or a HandshakeResponse41. */
export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse | {ssl: true} {
  const r = new PayloadReader(payload)
  const capabilities = r.int(4) >>> 0
  if (!(capabilities & Cap.protocol41))
    throw new WireError('the client does not speak protocol 4.1 (CLIENT_PROTOCOL_41)')
  const maxPacket = r.int(4)
  const collation = r.int(1)
  r.skip(23)
  if (r.remaining === 0 && capabilities & Cap.ssl) return {ssl: true}
  const user = r.nulString()
  let authResponse: Buffer
  if (capabilities & Cap.pluginAuthLenenc) authResponse = r.lenencBytes()
  else if (capabilities & Cap.secureConnection) authResponse = r.bytes(r.int(1))
  else authResponse = r.nulBytes()
  const database =
    capabilities & Cap.connectWithDb && r.remaining > 0 ? r.nulString(true) || undefined : undefined
  const authPlugin = capabilities & Cap.pluginAuth && r.remaining > 0 ? r.nulString(true) : undefined
  const attributes = capabilities & Cap.connectAttrs && r.remaining > 0 ? r.lenencBytes() : undefined
  return {capabilities, maxPacket, collation, user, authResponse, database, authPlugin, attributes}
}

/** Encodes a HandshakeResponse41 (or, with `sslOnly`, the SSLRequest that precedes it). */
export function encodeHandshakeResponse(h: HandshakeResponse, sslOnly = false): Buffer {
  const head = Buffer.alloc(32)
  head.writeUInt32LE(h.capabilities >>> 0, 0)
  head.writeUInt32LE(h.maxPacket, 4)
  head[8] = h.collation
  if (sslOnly) return head
  const parts: Buffer[] = [head, Buffer.from(`${h.user}\0`, 'utf8')]
  if (h.capabilities & Cap.pluginAuthLenenc) parts.push(lenencInt(h.authResponse.length), h.authResponse)
  else parts.push(Buffer.from([h.authResponse.length]), h.authResponse)
  if (h.capabilities & Cap.connectWithDb) parts.push(Buffer.from(`${h.database ?? ''}\0`, 'utf8'))
  if (h.capabilities & Cap.pluginAuth) parts.push(Buffer.from(`${h.authPlugin ?? ''}\0`, 'utf8'))
  if (h.capabilities & Cap.connectAttrs) {
    const attrs = h.attributes ?? Buffer.alloc(0)
    parts.push(lenencInt(attrs.length), attrs)
  }
  return Buffer.concat(parts)
}

/** An AuthSwitchRequest payload: switch to `plugin` with a new scramble. */
export function authSwitchRequest(plugin: string, scramble: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`), scramble, Buffer.from([0])])
}

/** The value of one connection attribute (e.g. `program_name`), if the client sent it. */
export function connectionAttribute(attributes: Buffer | undefined, name: string): string | undefined {
  if (attributes === undefined) return undefined
  const r = new PayloadReader(attributes)
  try {
    while (r.remaining > 0) {
      const key = r.lenencBytes().toString('utf8')
      const value = r.lenencBytes().toString('utf8')
      if (key === name) return value
    }
  } catch {
    // Malformed attributes name nothing; the server judges them on its own.
  }
  return undefined
}
