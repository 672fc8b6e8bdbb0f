/**
 * TARGET mode on a MariaDB target whose settings say TLS verify-full (the CA as PEM, a server name): the
 * control plane mints over TLS, and `dbgate exec` reaches the server over TLS with the CA it was given in
 * memory. A throwaway TLS MariaDB serves it (the shared server has have_ssl DISABLED).
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createMachineToken} from '../../src/server/machine-tokens.js'
import {ALLOW_ALL, startCredServer, suffix, type CredServer} from '../integration/credentials-support.js'
import {startMariadb, type MariadbInstance} from '../support/mariadb-instance.js'
import {cliHome, runCli} from '../support/login-e2e.js'
import {flat} from './exec-target-support.js'

const home = cliHome()
const stateDir = mkdtempSync(join(tmpdir(), 'dbgate-tgt-my-tls-'))
let db: MariadbInstance
let server: CredServer
let env: Record<string, string>

function target(tls: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'maria-tls',
    protocol: 'mysql',
    host: '127.0.0.1',
    port: db.port,
    database: 'app',
    admin: {user: 'dbgate_admin', password: 'admin-pw'},
    groups: ['deploy'],
    roles: [{groups: ['deploy'], db_role: 'app_ro'}],
    tls,
  }
}

beforeAll(async () => {
  db = await startMariadb()
  await db.admin(`CREATE DATABASE app;
    CREATE TABLE app.items (id INT PRIMARY KEY); INSERT INTO app.items VALUES (1), (2);
    CREATE ROLE app_ro; GRANT SELECT ON app.* TO app_ro;
    CREATE USER dbgate_admin@'%' IDENTIFIED BY 'admin-pw' REQUIRE SSL;
    GRANT ALL ON *.* TO dbgate_admin@'%' WITH GRANT OPTION;
    GRANT app_ro TO dbgate_admin@'%' WITH ADMIN OPTION`)
  const ca = readFileSync(db.certs.caFile, 'utf8')
  server = await startCredServer({
    targets: [target({mode: 'verify-full', ca, server_name: 'localhost'})],
    policies: [{name: 'allow-all', document: ALLOW_ALL}],
  })
  const {token} = await createMachineToken(
    server.ctx.store,
    {name: `ci-tls-${suffix()}`, groups: ['deploy'], ttlSeconds: 3600, createdBy: 'test'},
    Date.now(),
  )
  env = {...home.env, DBGATE_TOKEN: token, DBGATE_API: server.url, DBGATE_STATE_DIR: stateDir}
}, 120_000)

afterAll(async () => {
  await server?.stop()
  await db?.stop()
  home.remove()
  rmSync(stateDir, {recursive: true, force: true})
})

describe('dbgate exec on a MariaDB target with TLS verify-full', {timeout: 60_000}, () => {
  it('reaches the server over TLS as the minted user, verified against the CA the control plane gave', async () => {
    const r = await runCli(
      [
        'exec',
        'maria-tls',
        '--sql',
        "SELECT CURRENT_USER() AS who, (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_VERSION') AS tls, (SELECT COUNT(*) FROM items) AS n",
        '--format',
        'json',
      ],
      env,
    )
    expect(r.code, flat(r.stderr)).toBe(0)
    const [row] = JSON.parse(r.stdout) as {who: string; tls: string; n: number}[]
    expect(row).toMatchObject({
      who: expect.stringMatching(/^dbg_svc_ci_tls_/),
      tls: expect.stringMatching(/^TLSv1/),
      n: 2,
    })
    const user = row!.who.replace(/@%$/, '')
    expect(await db.admin<unknown[]>(`SELECT 1 FROM mysql.user WHERE User = '${user}'`)).toEqual([])
  })
})
