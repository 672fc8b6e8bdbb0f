/**
 * A throwaway MariaDB server with TLS, for the tests the shared server cannot serve (it has have_ssl
 * DISABLED, and is not to be reconfigured): a temporary data directory, certificates from pg-cluster's
 * makeCerts, mariadbd on a free port as the `mysql` OS user; `stop` ends that one process and deletes it all.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {chownSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import mysql from 'mysql2/promise'

import {freePort, makeCerts, type ClusterCerts} from './pg-cluster.js'

/** A running throwaway MariaDB. */
export interface MariadbInstance {
  readonly port: number
  readonly certs: ClusterCerts
  /** Runs SQL as root over the Unix socket. */
  admin<T = unknown>(sql: string): Promise<T>
  stop(): Promise<void>
}

function mysqlIds(): {uid: number; gid: number} {
  const line = execFileSync('getent', ['passwd', 'mysql'], {encoding: 'utf8'}).split(':')
  return {uid: Number(line[2]), gid: Number(line[3])}
}

/** Installs a data directory and starts mariadbd with TLS; cleans up if any step fails. */
export async function startMariadb(): Promise<MariadbInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'dbgate-mariadb-'))
  let child: ChildProcess | undefined
  try {
    const certs = makeCerts(dir)
    const asRoot = userInfo().uid === 0
    if (asRoot) {
      const {uid, gid} = mysqlIds()
      chownSync(dir, uid, gid)
      for (const f of readdirSync(dir)) chownSync(join(dir, f), uid, gid)
    }
    const user = asRoot ? ['--user=mysql'] : []
    execFileSync(
      'mariadb-install-db',
      [
        `--datadir=${join(dir, 'data')}`,
        ...user,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
      ],
      {stdio: 'ignore'},
    )
    const port = await freePort()
    const socket = join(dir, 'sock')
    child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        ...user,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${socket}`,
        `--pid-file=${join(dir, 'pid')}`,
        `--ssl-ca=${certs.caFile}`,
        `--ssl-cert=${join(dir, 'server.crt')}`,
        `--ssl-key=${join(dir, 'server.key')}`,
        '--skip-log-bin',
        `--log-error=${join(dir, 'err.log')}`,
      ],
      {stdio: 'ignore'},
    )
    const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()))
    const admin = async <T>(sql: string): Promise<T> => {
      const c = await mysql.createConnection({socketPath: socket, user: 'root', multipleStatements: true})
      try {
        return (await c.query(sql))[0] as T
      } finally {
        await c.end()
      }
    }
    for (let i = 0; ; i++) {
      try {
        await admin('SELECT 1')
        break
      } catch (err) {
        if (i >= 100 || child.exitCode !== null) throw err
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    const started = child
    return {
      port,
      certs,
      admin,
      stop: async () => {
        started.kill('SIGTERM')
        await exited
        rmSync(dir, {recursive: true, force: true})
      },
    }
  } catch (err) {
    child?.kill('SIGKILL')
    rmSync(dir, {recursive: true, force: true})
    throw err
  }
}
