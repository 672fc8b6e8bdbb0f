/**
 * A throwaway PostgreSQL 15 cluster for tests that need what the shared server cannot give (it trusts
 * 127.0.0.1): password authentication methods and TLS. initdb, pg_ctl and the server refuse to run as
 * root, so they run as the `postgres` OS user in a temporary directory that is deleted afterwards.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import pg from 'pg'

const BIN = '/usr/lib/postgresql/15/bin'

/** Certificates generated for a cluster: the CA that signed the server's, and an unrelated CA. */
export interface ClusterCerts {
  readonly caFile: string
  readonly otherCaFile: string
}

/** A running throwaway cluster. */
export interface Cluster {
  readonly dir: string
  readonly port: number
  readonly certs: ClusterCerts
  /** Runs SQL as the superuser over the Unix socket (trusted there only). */
  admin(sql: string): Promise<pg.QueryResult>
  /** The server log so far (log_connections is on: it names each session's auth method). */
  log(): string
  stop(): void
}

/** Options of startCluster. */
export interface ClusterOptions {
  /** pg_hba.conf lines after the trusted local superuser line. */
  readonly hba: readonly string[]
  /** Extra listen addresses besides 127.0.0.1 (any 127.x address works on Linux loopback). */
  readonly extraAddresses?: readonly string[]
}

/** A free TCP port on 127.0.0.1 (bound, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      s.close(() => resolve(port))
    })
  })
}

/** Runs a command as the postgres OS user (as is when the tests already run as a non-root user). */
function asPostgres(cmd: string, args: readonly string[]): string {
  const root = userInfo().uid === 0
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, [...args]]
  return execFileSync(file, argv, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, {cwd: dir, stdio: ['ignore', 'ignore', 'pipe']})
}

/** A CA, a server certificate it signs (SAN 127.0.0.1 and localhost), and an unrelated CA. */
export function makeCerts(dir: string): ClusterCerts {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']
  openssl(
    dir,
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2'].concat([
      '-subj',
      '/CN=dbgate test CA',
      ...caExt,
    ]),
  )
  openssl(
    dir,
    ['req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2'].concat([
      '-subj',
      '/CN=dbgate unrelated CA',
      ...caExt,
    ]),
  )
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'])
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ])
  return {caFile: join(dir, 'ca.crt'), otherCaFile: join(dir, 'other-ca.crt')}
}

/** initdb + TLS + pg_hba, then pg_ctl start; cleans up itself if any step fails. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-pgc-'))
  const data = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  let started = false
  const stop = (): void => {
    if (started)
      try {
        asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // Already stopped; the directory goes anyway.
      }
    started = false
    rmSync(dir, {recursive: true, force: true})
  }
  try {
    chmodSync(dir, 0o755)
    const certs = makeCerts(dir)
    chmodSync(join(dir, 'server.key'), 0o600)
    if (userInfo().uid === 0) {
      for (const f of ['server.key', 'server.crt', 'ca.crt']) chownSync(join(dir, f), pgUid(), -1)
      chownSync(dir, pgUid(), -1)
    }
    asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'])
    writeFileSync(join(data, 'pg_hba.conf'), ['local all postgres trust', ...options.hba].join('\n') + '\n')
    const addresses = ['127.0.0.1', ...(options.extraAddresses ?? [])].join(',')
    writeFileSync(
      join(data, 'postgresql.conf'),
      [
        `listen_addresses = '${addresses}'`,
        'ssl = on',
        `ssl_cert_file = '${join(dir, 'server.crt')}'`,
        `ssl_key_file = '${join(dir, 'server.key')}'`,
        'log_connections = on',
        'fsync = off',
        'shared_buffers = 16MB',
        'max_connections = 40',
      ].join('\n') + '\n',
      {flag: 'a'},
    )
    const port = await freePort()
    started = true
    asPostgres(`${BIN}/pg_ctl`, [
      '-D',
      data,
      '-w',
      '-t',
      '60',
      '-l',
      logFile,
      '-o',
      `-p ${port} -k ${dir}`,
      'start',
    ])
    return {
      dir,
      port,
      certs,
      admin: async (sql) => {
        const c = new pg.Client({host: dir, port, user: 'postgres', database: 'postgres'})
        await c.connect()
        try {
          return await c.query(sql)
        } finally {
          await c.end()
        }
      },
      log: () => readFileSync(logFile, 'utf8'),
      stop,
    }
  } catch (err) {
    stop()
    throw err
  }
}

function pgUid(): number {
  return Number(execFileSync('id', ['-u', 'postgres'], {encoding: 'utf8'}).trim())
}
