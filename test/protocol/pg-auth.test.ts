import {describe, expect, it} from 'vitest'

import {ScramServer, scramSecret} from '../../src/proxy/postgres/scram-server.js'
import {ScramClient, ScramError, md5Password} from '../../src/proxy/postgres/scram.js'
import {parsePgUrl} from '../../src/proxy/postgres/target.js'

describe('SCRAM-SHA-256 client', () => {
  // RFC 7677, section 3.
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'

  it('computes the RFC 7677 proof and verifies the server signature', () => {
    const c = new ScramClient('pencil', 'rOprNGfwEbeRWgbNEkqO', 'user')
    expect(c.clientFirst().toString()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')
    expect(c.clientFinal(serverFirst).toString()).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    )
    expect(() => c.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow()
  })

  it('rejects a wrong server signature, a server error, and malformed server messages', () => {
    const c = new ScramClient('pencil', 'rOprNGfwEbeRWgbNEkqO', 'user')
    c.clientFinal(serverFirst)
    expect(() => c.verifyServerFinal('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).toThrow(ScramError)
    expect(() => c.verifyServerFinal('e=invalid-proof')).toThrow(/invalid-proof/)
    const fresh = (): ScramClient => new ScramClient('pencil', 'abc')
    expect(() => fresh().clientFinal('r=xyz,s=AAAA,i=4096')).toThrow(/nonce/)
    expect(() => fresh().clientFinal('r=abcdef,s=,i=4096')).toThrow(/salt/)
    expect(() => fresh().clientFinal('r=abcdef,s=AAAA,i=0')).toThrow(/iteration/)
    expect(() => fresh().clientFinal('garbage')).toThrow(ScramError)
  })
})

describe('md5 password', () => {
  it('hashes as md5(md5(password + user) + salt)', () => {
    // Computed with PostgreSQL's own formula: 'md5' || md5(md5('secret' || 'alice') || salt).
    expect(md5Password('alice', 'secret', Buffer.from([1, 2, 3, 4]))).toMatch(/^md5[0-9a-f]{32}$/)
    expect(md5Password('alice', 'secret', Buffer.from([1, 2, 3, 4]))).not.toBe(
      md5Password('alice', 'secret', Buffer.from([1, 2, 3, 5])),
    )
  })
})

describe('target URL', () => {
  it('parses credentials, port, database and sslmode', () => {
    const t = parsePgUrl('postgres://app%40x:p%3Ass@db.example:6432/shop?sslmode=require')
    expect(t).toMatchObject({
      host: 'db.example',
      port: 6432,
      user: 'app@x',
      password: 'p:ss',
      database: 'shop',
      sslmode: 'require',
    })
    expect(parsePgUrl('postgresql://u@h/').database).toBe('u')
    expect(parsePgUrl('postgres://u@h/d').sslmode).toBe('prefer')
  })

  it.each([
    ['not a url', /not a valid URL/],
    ['mysql://u@h/d', /postgres:\/\//],
    ['postgres://h/d', /no user/],
    ['postgres://u@h/d?sslmode=bogus', /unknown sslmode/],
    ['postgres://u@h/d?sslmode=verify-full', /sslrootcert/],
    ['postgres://u@h/d?foo=1', /unsupported URL parameter/],
  ])('refuses %s without echoing a password', (url, message) => {
    expect(() => parsePgUrl(url)).toThrow(message)
  })
})

describe('SCRAM-SHA-256 server (local password)', () => {
  // RFC 7677, section 3, seen from the server.
  const secret = scramSecret('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
  const serverNonce = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
  const clientFinal =
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='

  it('answers the RFC 7677 exchange with the RFC server signature', () => {
    const s = new ScramServer(secret, serverNonce)
    expect(s.serverFirst('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')).toBe(
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    )
    expect(s.serverFinal(clientFinal)).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')
  })

  it('completes an exchange with the client side, and says null for a wrong password', () => {
    for (const [password, ok] of [
      ['s3cr:t ü', true],
      ['wrong', false],
    ] as const) {
      const server = new ScramServer(scramSecret('s3cr:t ü'))
      const client = new ScramClient(password)
      const first = server.serverFirst(client.clientFirst().toString())
      const final = server.serverFinal(client.clientFinal(first).toString())
      expect(final !== null).toBe(ok)
      if (final !== null) expect(() => client.verifyServerFinal(final)).not.toThrow()
    }
  })

  it.each([
    ['', 'malformed'],
    ['p=tls-server-end-point,,n=,r=abc', 'channel binding'],
    ['n,,m=ext,n=,r=abc', 'extensions'],
    ['n,,n=user', 'nonce'],
    ['n,,garbage', 'malformed'],
  ])('refuses the client-first-message %j', (message, error) => {
    expect(() => new ScramServer(secret).serverFirst(message)).toThrow(error)
  })

  it.each([
    ['c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', 'no proof'],
    ['c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA', 'channel binding'],
    ['c=biws,r=rOprNGfwEbeRWgbNEkqO-other,p=AAAA', 'nonce'],
    ['c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA', 'proof'],
  ])('refuses the client-final-message %j', (message, error) => {
    const s = new ScramServer(secret, serverNonce)
    s.serverFirst('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')
    expect(() => s.serverFinal(message)).toThrow(error)
  })

  it('refuses a client-final-message before the first', () => {
    expect(() => new ScramServer(secret).serverFinal(clientFinal)).toThrow(ScramError)
  })
})
