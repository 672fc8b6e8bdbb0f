/** `dbgate connect` end to end: the real CLI, the real psql, the real server. */
import {spawn} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const dir = mkdtempSync(join(tmpdir(), 'dbgate-connect-'))
const policyFile = join(dir, 'policy.yaml')
writeFileSync(
  policyFile,
  `version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - name: no-ddl
    when: {kinds: [drop, truncate]}
    action: deny
    message: Schema changes go through migrations.
`,
)
let db: ScratchDb

beforeAll(async () => {
  db = await createScratchDb('dbgate_e2e_conn', 'create table t(id int); insert into t values (1), (2);')
})
afterAll(async () => {
  await db?.drop()
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function dbgate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('node', ['bin/run.js', ...args], {
      env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state'), NO_COLOR: '1', ...env},
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({code, stdout, stderr: stderr.replace(/\s*\n ›\s+/g, ' ')}))
  })
}

describe('dbgate connect', () => {
  it('runs a client after -- with its environment set and exits with its code', async () => {
    const r = await dbgate([
      'connect',
      '--url',
      db.url,
      '--policy',
      policyFile,
      '--',
      'psql',
      '-X',
      '-A',
      '-t',
      '-c',
      'select count(*) from t',
    ])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe('2')
    expect(r.stderr).toMatch(
      /Connect with: psql "host=127\.0\.0\.1 port=\d+ user=postgres dbname=dbgate_e2e_conn/,
    )
  })

  it('shows the rule of a denied statement and passes the client exit code through', async () => {
    const r = await dbgate(
      ['connect', '--policy', policyFile, '--', 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-c', 'drop table t'],
      {DBGATE_URL: db.url},
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('denied by rule "no-ddl": Schema changes go through migrations.')
  })

  it('stays up for several clients until SIGINT, then closes cleanly', async () => {
    const child = spawn('node', ['bin/run.js', 'connect', '--url', db.url, '--policy', policyFile], {
      env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state'), NO_COLOR: '1'},
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    for (let i = 0; i < 100 && !/port=(\d+)/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100))
    const port = Number(/port=(\d+)/.exec(stderr)?.[1])
    const clients = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new pg.Client({host: '127.0.0.1', port, user: 'postgres', database: db.name})
        c.on('error', () => undefined)
        await c.connect()
        return c
      }),
    )
    const counts = await Promise.all(
      clients.map((c) => c.query<{n: number}>('select count(*)::int as n from t')),
    )
    expect(counts.map((r) => r.rows[0]!.n)).toEqual([2, 2, 2])
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)))
  })

  it('reports a bad URL, an unreadable policy, an unreachable target and a port in use clearly', async () => {
    const badUrl = await dbgate(['connect', '--url', 'redis://x@y/z', '--policy', policyFile])
    expect(badUrl.code).toBe(2)
    expect(badUrl.stderr).toContain('Bad --url')
    const noPolicy = await dbgate(['connect', '--url', db.url, '--policy', join(dir, 'missing.yaml')])
    expect(noPolicy.code).toBe(2)
    const unreachable = await dbgate([
      'connect',
      '--url',
      'postgres://u:pw@127.0.0.1:1/db',
      '--policy',
      policyFile,
    ])
    expect(unreachable.code).toBe(6)
    expect(unreachable.stderr).not.toContain('pw')
    for (const r of [badUrl, noPolicy, unreachable]) expect(r.stderr).not.toMatch(/\n\s+at /)
    const busy = await dbgate([
      'connect',
      '--url',
      db.url,
      '--policy',
      policyFile,
      '--port',
      '5432',
      '--',
      'true',
    ])
    expect(busy.code).toBe(2)
    expect(busy.stderr).toContain('already in use')
  })
})
