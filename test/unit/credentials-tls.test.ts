import type {PeerCertificate} from 'node:tls'

import {describe, expect, it} from 'vitest'

import {mysqlUpstreamTls, upstreamTls} from '../../src/cli/target-session.js'
import {mysqlSsl} from '../../src/server/credentials/mysql.js'
import {pgSsl} from '../../src/server/credentials/postgres.js'

// One TLS setting per target, read three ways: the control plane's admin connections (pg, mysql2) and the
// CLI's proxy upstream. verify-full must check the CA and the host name in all three.

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'

describe('a target TLS setting', () => {
  it('disable: no TLS anywhere', () => {
    expect(pgSsl({mode: 'disable'})).toBe(false)
    expect(mysqlSsl({mode: 'disable'})).toBeUndefined()
    expect(upstreamTls({mode: 'disable'})).toMatchObject({sslmode: 'disable'})
    expect(mysqlUpstreamTls({mode: 'disable'})).toMatchObject({sslMode: 'disabled'})
  })

  it('require: TLS without verification', () => {
    expect(pgSsl({mode: 'require'})).toEqual({rejectUnauthorized: false})
    expect(mysqlSsl({mode: 'require'})).toEqual({rejectUnauthorized: false})
    expect(upstreamTls({mode: 'require'})).toMatchObject({sslmode: 'require', sslca: undefined})
    expect(mysqlUpstreamTls({mode: 'require'})).toMatchObject({sslMode: 'required', sslCaPem: undefined})
  })

  it('verify-full: the CA and the host name are checked (mysql2 needs verifyIdentity for the name)', () => {
    const tls = {mode: 'verify-full' as const, ca: CA, server_name: 'db.internal'}
    const pg = pgSsl(tls)
    expect(pg).toMatchObject({rejectUnauthorized: true, ca: CA, servername: 'db.internal'})
    // pg overwrites servername with a host name, so the name check itself must use server_name.
    const check = pg === false ? undefined : pg.checkServerIdentity
    const cert = (san: string) => ({subject: {CN: 'x'}, subjectaltname: san}) as unknown as PeerCertificate
    expect(check?.('other.host', cert('DNS:db.internal'))).toBeUndefined()
    expect(check?.('db.internal', cert('DNS:other.host'))).toBeInstanceOf(Error)
    expect(mysqlSsl(tls)).toEqual({rejectUnauthorized: true, verifyIdentity: true, ca: CA})
    expect(upstreamTls(tls)).toEqual({
      sslmode: 'verify-full',
      sslca: CA,
      sslServerName: 'db.internal',
      sslrootcert: undefined,
    })
    expect(mysqlUpstreamTls(tls)).toEqual({
      sslMode: 'verify_identity',
      sslCaPem: CA,
      sslServerName: 'db.internal',
      sslCa: undefined,
    })
  })

  it('verify-full without a CA trusts the system roots, still checking the name', () => {
    expect(mysqlSsl({mode: 'verify-full'})).toEqual({rejectUnauthorized: true, verifyIdentity: true})
    expect(pgSsl({mode: 'verify-full'})).toEqual({rejectUnauthorized: true, ca: undefined})
    expect(upstreamTls({mode: 'verify-full'})).toMatchObject({sslmode: 'verify-full', sslca: undefined})
    expect(mysqlUpstreamTls({mode: 'verify-full'})).toMatchObject({
      sslMode: 'verify_identity',
      sslCaPem: undefined,
    })
  })

  it('no settings (an older control plane): the mysql client default, preferred', () => {
    expect(mysqlUpstreamTls(undefined)).toMatchObject({sslMode: 'preferred'})
  })
})
