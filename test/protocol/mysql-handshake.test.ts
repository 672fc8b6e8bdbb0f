import {createRequire} from 'node:module'
import {constants, generateKeyPairSync, privateDecrypt} from 'node:crypto'
import {dirname, join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  cachingSha2Scramble,
  checkNativeScramble,
  nativeScramble,
  rsaEncryptPassword,
} from '../../src/proxy/mysql/auth.js'
import {
  connectionAttribute,
  decodeGreeting,
  decodeHandshakeResponse,
  encodeGreeting,
  encodeHandshakeResponse,
  type HandshakeResponse,
} from '../../src/proxy/mysql/handshake.js'
import {Cap} from '../../src/proxy/mysql/protocol.js'
import {
  PayloadReader,
  WireError,
  errPacket,
  lenencInt,
  readErr,
  statusOf,
} from '../../src/proxy/mysql/wire.js'

// mysql2's own auth helpers are the reference implementation the scrambles are checked against.
const require = createRequire(import.meta.url)
const mysql2Dir = dirname(require.resolve('mysql2'))
const auth41 = require(join(mysql2Dir, 'lib/auth_41.js')) as {
  calculateToken(p: string, s1: Buffer, s2: Buffer): Buffer
}
const sha2 = require(join(mysql2Dir, 'lib/auth_plugins/caching_sha2_password.js')) as {
  calculateToken(p: string, s: Buffer): Buffer
}

const SCRAMBLE = Buffer.from('0123456789abcdefghij', 'latin1')

describe('MySQL password scrambles', () => {
  it('computes mysql_native_password as mysql2 does, and checks it', () => {
    const mine = nativeScramble('s3cret', SCRAMBLE)
    expect(mine.equals(auth41.calculateToken('s3cret', SCRAMBLE.subarray(0, 8), SCRAMBLE.subarray(8)))).toBe(
      true,
    )
    expect(checkNativeScramble('s3cret', SCRAMBLE, mine)).toBe(true)
    expect(checkNativeScramble('other', SCRAMBLE, mine)).toBe(false)
    expect(checkNativeScramble('s3cret', SCRAMBLE, Buffer.alloc(0))).toBe(false)
    expect(nativeScramble('', SCRAMBLE).length).toBe(0)
  })

  it('computes the caching_sha2_password fast-path token as mysql2 does', () => {
    expect(cachingSha2Scramble('pässword', SCRAMBLE).equals(sha2.calculateToken('pässword', SCRAMBLE))).toBe(
      true,
    )
    expect(cachingSha2Scramble('', SCRAMBLE).length).toBe(0)
  })

  it('encrypts the full-authentication password with the server key: (password + NUL) XOR scramble, OAEP', () => {
    const {publicKey, privateKey} = generateKeyPairSync('rsa', {modulusLength: 2048})
    const pem = publicKey.export({type: 'spki', format: 'pem'}).toString()
    const sealed = rsaEncryptPassword('hunter2', SCRAMBLE, pem)
    const plain = privateDecrypt({key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING}, sealed)
    const unxored = Buffer.from(plain.map((b, i) => b ^ (SCRAMBLE[i % 20] as number)))
    expect(unxored.toString('utf8')).toBe('hunter2\0')
  })
})

const HELLO: HandshakeResponse = {
  capabilities:
    Cap.protocol41 |
    Cap.secureConnection |
    Cap.pluginAuth |
    Cap.pluginAuthLenenc |
    Cap.connectWithDb |
    Cap.connectAttrs |
    Cap.multiStatements,
  maxPacket: 1 << 24,
  collation: 45,
  user: 'app',
  authResponse: Buffer.alloc(20, 7),
  database: 'shop',
  authPlugin: 'mysql_native_password',
  attributes: Buffer.concat([lenencInt(4), Buffer.from('_pid'), lenencInt(2), Buffer.from('42')]),
}

describe('MySQL handshake packets', () => {
  it('round-trips a greeting with a 20-byte scramble', () => {
    const g = {
      serverVersion: '5.5.5-10.11.19-MariaDB',
      connectionId: 77,
      capabilities: Cap.protocol41 | Cap.secureConnection | Cap.pluginAuth | Cap.deprecateEof,
      collation: 45,
      status: 2,
      scramble: SCRAMBLE,
      authPlugin: 'mysql_native_password',
    }
    expect(decodeGreeting(encodeGreeting(g))).toEqual(g)
  })

  it('round-trips a HandshakeResponse41 with database, plugin and attributes', () => {
    expect(decodeHandshakeResponse(encodeHandshakeResponse(HELLO))).toEqual(HELLO)
  })

  it('reads a 1-byte auth length without CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA', () => {
    const h = {...HELLO, capabilities: HELLO.capabilities & ~Cap.pluginAuthLenenc}
    expect(decodeHandshakeResponse(encodeHandshakeResponse(h))).toEqual(h)
  })

  it('reads one connection attribute, and nothing from malformed attributes', () => {
    expect(connectionAttribute(HELLO.attributes, '_pid')).toBe('42')
    expect(connectionAttribute(HELLO.attributes, 'program_name')).toBeUndefined()
    expect(connectionAttribute(Buffer.from([9, 0x61]), 'a')).toBeUndefined()
  })

  it('recognises an SSLRequest', () => {
    const ssl = encodeHandshakeResponse({...HELLO, capabilities: HELLO.capabilities | Cap.ssl}, true)
    expect(ssl.length).toBe(32)
    expect(decodeHandshakeResponse(ssl)).toEqual({ssl: true})
  })

  it('refuses every truncation of a HandshakeResponse41 with a clear error', () => {
    const full = encodeHandshakeResponse({
      ...HELLO,
      capabilities: HELLO.capabilities & ~Cap.connectAttrs & ~Cap.pluginAuth & ~Cap.connectWithDb,
    })
    for (let n = 0; n < full.length; n++) {
      const cut = full.subarray(0, n)
      if (n === 32) continue // exactly the fixed head: read as an SSLRequest only with CLIENT_SSL
      expect(() => decodeHandshakeResponse(cut), `cut at ${n}`).toThrow(WireError)
    }
  })

  it('refuses a pre-4.1 client', () => {
    const old = encodeHandshakeResponse({...HELLO, capabilities: HELLO.capabilities & ~Cap.protocol41})
    expect(() => decodeHandshakeResponse(old)).toThrow(/protocol 4.1/)
  })

  it('refuses greetings of other protocol versions and truncated ones', () => {
    expect(() => decodeGreeting(Buffer.from([9, 0x41, 0]))).toThrow(/protocol version 9/)
    expect(() => decodeGreeting(Buffer.from([10, 0x41]))).toThrow(WireError)
  })
})

describe('MySQL OK/ERR fields', () => {
  it('writes an ERR packet a client reads back', () => {
    const p = errPacket(3, 1142, '42000', 'dbgate: denied')
    expect(p[3]).toBe(3)
    expect(readErr(p.subarray(4))).toEqual({code: 1142, sqlState: '42000', message: 'dbgate: denied'})
  })

  it('reads status flags of OK and EOF payloads', () => {
    expect(statusOf(Buffer.from([0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00]))).toBe(0x0a)
    expect(statusOf(Buffer.from([0xfe, 0x00, 0x00, 0x08, 0x00]))).toBe(0x08)
    expect(statusOf(Buffer.from([0x00, 0xfc, 0x10, 0x27, 0x01, 0x22, 0x00]))).toBe(0x22)
  })

  it('reads length-encoded integers of every width and refuses bad prefixes', () => {
    for (const n of [0, 250, 251, 65535, 65536, 0xffffff, 0x1000000, 2 ** 40])
      expect(new PayloadReader(lenencInt(n)).lenenc()).toBe(n)
    expect(() => new PayloadReader(Buffer.from([0xfb])).lenenc()).toThrow(WireError)
    expect(() => new PayloadReader(Buffer.from([0xfc, 1])).lenenc()).toThrow(/truncated/)
  })
})
