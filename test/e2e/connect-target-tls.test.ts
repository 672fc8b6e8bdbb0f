import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {upstreamTls} from '../../src/cli/target-session.js'
import {checkTarget} from '../../src/cli/proxy-service.js'
import type {TargetTls} from '../../src/control/api-types.js'
import {ALLOW_ALL, openSessionApi, tokenOf} from '../integration/credentials-support.js'
import {api} from '../integration/server-harness.js'
import {runCli} from '../support/login-e2e.js'
import type {Cluster} from '../support/pg-cluster.js'
import {flat} from './exec-target-support.js'
import {APP_DB, clusterTarget, pem, setUpClusterWorld, type ClusterWorld} from './cluster-target-support.js'

// The target's TLS settings travel from the control plane to the CLI with the session, and the CLI's proxy
// connects upstream with them: verify-full against the CA the control plane gives (and the host name it
// names), require, disable. The cluster's certificate is for 127.0.0.1 and localhost, signed by its CA.

let world: ClusterWorld
const LOGIN = {user: 'tls_probe', password: 'tls-probe-pw'}

const targets = (c: Cluster) => {
  const ca = pem(c.certs.caFile)
  const wrongCa = pem(c.certs.otherCaFile)
  return [
    clusterTarget(c, 'pg-verify', {tls: {mode: 'verify-full', ca}}),
    // 127.0.0.2 is not in the certificate; the name it is checked against is.
    clusterTarget(c, 'pg-named', {
      host: '127.0.0.2',
      tls: {mode: 'verify-full', ca, server_name: 'localhost'},
    }),
    clusterTarget(c, 'pg-require', {tls: {mode: 'require'}}),
    clusterTarget(c, 'pg-plain', {tls: {mode: 'disable'}}),
    clusterTarget(c, 'pg-wrong-ca', {tls: {mode: 'verify-full', ca: wrongCa}}),
    clusterTarget(c, 'pg-wrong-host', {host: '127.0.0.2', tls: {mode: 'verify-full', ca}}),
  ]
}

beforeAll(async () => {
  world = await setUpClusterWorld((c) => ({
    targets: targets(c),
    policies: [{name: 'allow-all', document: ALLOW_ALL}],
  }))
  await world.cluster.admin(
    `SET password_encryption = 'scram-sha-256'; CREATE ROLE ${LOGIN.user} LOGIN PASSWORD '${LOGIN.password}'`,
  )
}, 120_000)
afterAll(async () => {
  await world?.teardown()
})

const exec = async (target: string, sql: string) => {
  const r = await runCli(['exec', target, '--sql', sql, '--format', 'json'], world.cliEnv())
  return {...r, stderr: flat(r.stderr)}
}

const SSL_OF_SESSION = `select ssl, current_user as who from pg_stat_ssl where pid = pg_backend_pid()`

describe('dbgate exec TARGET connects upstream with the TLS settings of the control plane', () => {
  it('the session answer carries them', async () => {
    const alice = await tokenOf(world.server, 'alice')
    const res = await openSessionApi(world.server, alice, {target: 'pg-named'})
    expect(res.status).toBe(201)
    expect((res.body as {target: {tls: TargetTls}}).target.tls).toEqual({
      mode: 'verify-full',
      ca: pem(world.cluster.certs.caFile),
      server_name: 'localhost',
    })
    const id = (res.body as {session_id: string}).session_id
    await api(world.server, `/api/v1/sessions/${id}`, alice, {method: 'DELETE'})
  })

  it.each([
    ['pg-verify', true],
    ['pg-named', true],
    ['pg-require', true],
    ['pg-plain', false],
  ])('%s: the proxy session is encrypted: %s', async (target, ssl) => {
    const r = await exec(target, SSL_OF_SESSION)
    expect(r.code, r.stderr).toBe(0)
    const [row] = JSON.parse(r.stdout) as {ssl: boolean; who: string}[]
    expect(row).toMatchObject({ssl})
    expect(row?.who).toMatch(/^dbg_svc_ci_creds/)
  })

  it('a wrong CA or a host the certificate does not name: exit 6, saying why', async () => {
    const wrongCa = await exec('pg-wrong-ca', 'select 1')
    expect(wrongCa.code).toBe(6)
    expect(wrongCa.stderr).toContain('pg-wrong-ca')
    expect(wrongCa.stderr).toMatch(/cannot reach target "pg-wrong-ca" .*certificate/i)
    const wrongHost = await exec('pg-wrong-host', 'select 1')
    expect(wrongHost.code).toBe(6)
    expect(wrongHost.stderr).toMatch(/cannot reach target "pg-wrong-host" .*127\.0\.0\.2/)
  })
})

describe("the CLI's own upstream check with the control plane's TLS settings", () => {
  const probe = (host: string, tls: TargetTls) => ({
    host,
    port: world.cluster.port,
    database: APP_DB,
    ...LOGIN,
    ...upstreamTls(tls),
  })

  it('verify-full succeeds with the right CA and name', async () => {
    const ca = pem(world.cluster.certs.caFile)
    await expect(checkTarget(probe('127.0.0.1', {mode: 'verify-full', ca}))).resolves.toBeUndefined()
    await expect(
      checkTarget(probe('127.0.0.2', {mode: 'verify-full', ca, server_name: 'localhost'})),
    ).resolves.toBeUndefined()
  })

  it('verify-full fails clearly (exit 6) with another CA, or a name the certificate does not carry', async () => {
    const ca = pem(world.cluster.certs.caFile)
    const otherCa = pem(world.cluster.certs.otherCaFile)
    await expect(checkTarget(probe('127.0.0.1', {mode: 'verify-full', ca: otherCa}))).rejects.toMatchObject({
      code: 'E_UNREACHABLE',
      exitCode: 6,
      message: expect.stringMatching(/TLS: .*certificate/),
    })
    await expect(checkTarget(probe('127.0.0.2', {mode: 'verify-full', ca}))).rejects.toMatchObject({
      code: 'E_UNREACHABLE',
      message: expect.stringMatching(/TLS: .*127\.0\.0\.2/),
    })
    await expect(
      checkTarget(probe('127.0.0.1', {mode: 'verify-full', ca, server_name: 'db.example.com'})),
    ).rejects.toMatchObject({message: expect.stringMatching(/TLS: .*db\.example\.com/)})
  })

  it('without settings (an older control plane) it falls back to prefer', () => {
    expect(upstreamTls(undefined)).toMatchObject({sslmode: 'prefer'})
    expect(upstreamTls({mode: 'require', ca: 'ignored'})).toMatchObject({
      sslmode: 'require',
      sslca: undefined,
    })
  })
})
