/**
 * Upstream authentication and TLS against a real server: a throwaway PostgreSQL 15 cluster whose
 * pg_hba.conf asks for SCRAM-SHA-256, md5 and cleartext passwords, with TLS-only roles and a
 * certificate signed by a CA made for the test. Every case goes through the proxy.
 */
import {execFile} from 'node:child_process'
import {connect} from 'node:net'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Guard} from '../../src/policy/index.js'
import {PostgresEngine, parsePgUrl, startListener, type ProxyListener} from '../../src/proxy/index.js'
import {bodyOf, cancelRequest, startupMessage} from '../../src/proxy/postgres/wire.js'
import {startCluster, type Cluster} from '../support/pg-cluster.js'
import {RawClient, errorCode, errorMessage} from '../support/pg-raw.js'
import {MemoryAudit, TEST_POLICY, startTestProxy} from '../support/proxy.js'

// Passwords with characters that need URL encoding and SASLprep (NFKC) normalisation.
const PW = {scram: 'sc/ram:pä@ss', md5: 'md5 pass#1', clear: 'clear&text?', tls: 'tls-only%pw'}

let cluster: Cluster

beforeAll(async () => {
  cluster = await startCluster({
    extraAddresses: ['127.0.0.2'],
    hba: [
      'hostssl all u_tls 127.0.0.0/8 scram-sha-256',
      'host all u_scram 127.0.0.0/8 scram-sha-256',
      'host all u_md5 127.0.0.0/8 md5',
      'host all u_clear 127.0.0.0/8 password',
    ],
  })
  const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`
  await cluster.admin(`
    SET password_encryption = 'scram-sha-256';
    CREATE ROLE u_scram LOGIN PASSWORD ${lit(PW.scram)};
    CREATE ROLE u_clear LOGIN PASSWORD ${lit(PW.clear)};
    CREATE ROLE u_tls LOGIN PASSWORD ${lit(PW.tls)};
    SET password_encryption = 'md5';
    CREATE ROLE u_md5 LOGIN PASSWORD ${lit(PW.md5)};
  `)
}, 120_000)

afterAll(() => {
  cluster?.stop()
})

type Role = keyof typeof PW
const ROLE: Record<Role, string> = {scram: 'u_scram', md5: 'u_md5', clear: 'u_clear', tls: 'u_tls'}

function url(role: Role, query: string, opts: {password?: string | null; host?: string} = {}): string {
  const pw = opts.password === null ? '' : `:${encodeURIComponent(opts.password ?? PW[role])}`
  return `postgres://${ROLE[role]}${pw}@${opts.host ?? '127.0.0.1'}:${cluster.port}/postgres?${query}`
}

/** Connects through a proxy for `target` and reports who the server says we are and whether TLS is on. */
async function through(target: string): Promise<{user: string; ssl: boolean}> {
  const proxy = await startTestProxy(target)
  try {
    const c = new pg.Client({...proxy.clientConfig, user: 'local-user'})
    c.on('error', () => undefined)
    await c.connect()
    try {
      const r = await c.query<{user: string; ssl: boolean}>(
        'select current_user as user, ssl from pg_stat_ssl where pid = pg_backend_pid()',
      )
      return r.rows[0] as {user: string; ssl: boolean}
    } finally {
      await c.end()
    }
  } finally {
    await proxy.close()
  }
}

/**
 * Connects twice through a proxy whose target refuses us: each client must get an ErrorResponse
 * (not a hang) and be disconnected, and the listener must go on accepting.
 */
async function refused(target: string): Promise<{code: string; message: string}> {
  const proxy = await startTestProxy(target)
  try {
    const seen: {code: string; message: string}[] = []
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.open(proxy.port)
      c.send(
        startupMessage(
          new Map([
            ['user', 'local-user'],
            ['database', 'postgres'],
          ]),
        ),
      )
      const msgs = await c.readUntil('Z', 1, ['E'])
      const last = msgs.at(-1)
      expect(last?.type).toBe('E')
      if (last === undefined) throw new Error('no message')
      seen.push({code: errorCode(last), message: errorMessage(last)})
      await c.readUntil('never', 1, [], 5_000)
      expect(c.closed).toBe(true)
    }
    expect(seen[1]).toEqual(seen[0])
    expect(proxy.listener.activeSessions).toBe(0)
    return seen[0] as {code: string; message: string}
  } finally {
    await proxy.close()
  }
}

function authMethodLogged(role: Role, method: string): boolean {
  return cluster.log().includes(`connection authenticated: identity="${ROLE[role]}" method=${method}`)
}

describe('upstream password authentication through the proxy', () => {
  it.each([
    ['scram', 'scram-sha-256'],
    ['md5', 'md5'],
    ['clear', 'password'],
  ] as const)('%s: the right password connects (the server used %s)', async (role, method) => {
    expect(await through(url(role, 'sslmode=disable'))).toEqual({user: ROLE[role], ssl: false})
    expect(authMethodLogged(role, method)).toBe(true)
  })

  it.each(['scram', 'md5', 'clear'] as const)(
    '%s: a wrong password gives the client the server error 28P01',
    async (role) => {
      expect(await refused(url(role, 'sslmode=disable', {password: 'wrong'}))).toEqual({
        code: '28P01',
        message: `password authentication failed for user "${ROLE[role]}"`,
      })
    },
  )

  it('a URL without a password gives a clear error when the server asks for one', async () => {
    const r = await refused(url('scram', 'sslmode=disable', {password: null}))
    expect(r.code).toBe('28P01')
    expect(r.message).toMatch(/asks for a password, but the target URL has none/)
  })
})

describe('upstream TLS per sslmode', () => {
  it('require: encrypts (SCRAM over TLS, a hostssl-only role)', async () => {
    expect(await through(url('tls', 'sslmode=require'))).toEqual({user: 'u_tls', ssl: true})
  })

  it('disable: a hostssl-only role is refused by the server, and the client is told why', async () => {
    const r = await refused(url('tls', 'sslmode=disable'))
    expect(r.code).toBe('28000')
    expect(r.message).toMatch(/no pg_hba\.conf entry .* no encryption/)
  })

  it('prefer uses TLS when the server offers it; disable does not', async () => {
    expect(await through(url('scram', 'sslmode=prefer'))).toEqual({user: 'u_scram', ssl: true})
    expect(await through(url('md5', ''))).toEqual({user: 'u_md5', ssl: true})
    expect(await through(url('scram', 'sslmode=disable'))).toEqual({user: 'u_scram', ssl: false})
  })

  it('verify-full: succeeds with the signing CA for the IP and the DNS name in the certificate', async () => {
    const q = `sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.certs.caFile)}`
    expect(await through(url('tls', q))).toEqual({user: 'u_tls', ssl: true})
    expect(await through(url('tls', q, {host: 'localhost'}))).toEqual({user: 'u_tls', ssl: true})
  })

  it('verify-full: refuses a certificate from another CA, or for another host name', async () => {
    const other = `sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.certs.otherCaFile)}`
    const wrongCa = await refused(url('tls', other))
    expect(wrongCa.code).toBe('08001')
    expect(wrongCa.message).toMatch(/^dbgate cannot reach the database: TLS: .*certificate/)
    const right = `sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.certs.caFile)}`
    const wrongHost = await refused(url('tls', right, {host: '127.0.0.2'}))
    expect(wrongHost.code).toBe('08001')
    expect(wrongHost.message).toMatch(/^dbgate cannot reach the database: TLS: .*127\.0\.0\.2/)
  })

  it('verify-ca: checks the chain but not the host name', async () => {
    const right = `sslmode=verify-ca&sslrootcert=${encodeURIComponent(cluster.certs.caFile)}`
    expect(await through(url('tls', right, {host: '127.0.0.2'}))).toEqual({user: 'u_tls', ssl: true})
    const other = `sslmode=verify-ca&sslrootcert=${encodeURIComponent(cluster.certs.otherCaFile)}`
    expect((await refused(url('tls', other))).code).toBe('08001')
  })

  it('verify-ca: a missing sslrootcert file is a clear error', async () => {
    const r = await refused(url('tls', 'sslmode=verify-ca&sslrootcert=/nonexistent/ca.crt'))
    expect(r).toEqual({
      code: '08001',
      message: 'dbgate cannot reach the database: cannot read sslrootcert /nonexistent/ca.crt',
    })
  })

  it('cancels a running query over a TLS upstream', async () => {
    const proxy = await startTestProxy(url('tls', 'sslmode=require'))
    try {
      const c = new pg.Client(proxy.clientConfig)
      c.on('error', () => undefined)
      await c.connect()
      const running = c.query('select pg_sleep(30)')
      await new Promise((r) => setTimeout(r, 300))
      const {processID, secretKey} = c as unknown as {processID: number; secretKey: number}
      const s = connect({host: '127.0.0.1', port: proxy.port})
      s.on('connect', () => s.end(cancelRequest(processID, secretKey)))
      await expect(running).rejects.toMatchObject({code: '57014'})
      expect((await c.query('select 1 as ok')).rows[0]).toEqual({ok: 1})
      await c.end()
    } finally {
      await proxy.close()
    }
  })
})

describe('--local-password: clients authenticate to the proxy', () => {
  async function locked(method?: 'scram-sha-256' | 'password'): Promise<ProxyListener> {
    const engine = new PostgresEngine({
      target: parsePgUrl(url('scram', 'sslmode=require')),
      policy: TEST_POLICY,
      guard: new Guard(TEST_POLICY, 'postgres'),
      evalContext: {actor: 'human', identity: 'tester', target: 'test'},
      audit: new MemoryAudit(),
      identity: 'tester',
      clientVersion: 'test',
      maxMessageBytes: 1 << 20,
      localPassword: 'local s3cret',
      localPasswordMethod: method,
    })
    return startListener({engine, host: '127.0.0.1', port: 0})
  }

  /** The first authentication request the listener sends: its code and data. */
  async function firstRequest(port: number): Promise<{code: number; data: string}> {
    const c = await RawClient.open(port)
    c.send(
      startupMessage(
        new Map([
          ['user', 'me'],
          ['database', 'postgres'],
        ]),
      ),
    )
    const [m] = await c.readUntil('R')
    c.end()
    const r = bodyOf(m?.frame ?? Buffer.alloc(5))
    return {code: r.int32(), data: r.bytes(r.remaining).toString()}
  }

  it('asks for SCRAM-SHA-256 by default; node-postgres and psql pass with the password only', async () => {
    const l = await locked()
    try {
      expect(await firstRequest(l.port)).toEqual({code: 10, data: 'SCRAM-SHA-256\0\0'})
      const c = new pg.Client({
        host: '127.0.0.1',
        port: l.port,
        user: 'me',
        database: 'postgres',
        password: 'local s3cret',
      })
      await c.connect()
      expect((await c.query('select current_user as u')).rows[0]).toEqual({u: 'u_scram'})
      await c.end()
      const bad = new pg.Client({
        host: '127.0.0.1',
        port: l.port,
        user: 'me',
        database: 'postgres',
        password: 'nope',
      })
      bad.on('error', () => undefined)
      await expect(bad.connect()).rejects.toMatchObject({
        code: '28P01',
        message: 'password authentication failed for user "me"',
      })
      // psql runs asynchronously: the proxy it talks to lives in this process's event loop.
      const psql = (password: string): Promise<{code: number; stdout: string; stderr: string}> =>
        new Promise((resolve) => {
          execFile(
            'psql',
            [
              '-X',
              '-At',
              '-h',
              '127.0.0.1',
              '-p',
              String(l.port),
              '-U',
              'me',
              '-d',
              'postgres',
              '-c',
              'select 40 + 2',
            ],
            {env: {...process.env, PGPASSWORD: password}, encoding: 'utf8', timeout: 20_000},
            (err, stdout, stderr) =>
              resolve({code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr}),
          )
        })
      expect(await psql('local s3cret')).toMatchObject({code: 0, stdout: '42\n'})
      const refused = await psql('nope')
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toMatch(/password authentication failed for user "me"/)
    } finally {
      await l.close()
    }
  })

  it('asks for a cleartext password when configured so', async () => {
    const l = await locked('password')
    try {
      expect(await firstRequest(l.port)).toEqual({code: 3, data: ''})
      const c = new pg.Client({
        host: '127.0.0.1',
        port: l.port,
        user: 'me',
        database: 'postgres',
        password: 'local s3cret',
      })
      await c.connect()
      expect((await c.query('select 1 as n')).rows[0]).toEqual({n: 1})
      await c.end()
    } finally {
      await l.close()
    }
  })
})
