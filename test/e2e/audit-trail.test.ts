/**
 * The signed trail end to end through the real CLI: `dbgate connect` spools chained events durably, and
 * tells apart the local processes that connected (psql and a Node script).
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ChainedEvent, ProcessFound} from '../../src/audit/event.js'
import {verifyChain} from '../../src/audit/verify.js'
import {readSpooledEvents} from '../support/audit-spool.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const dir = mkdtempSync(join(tmpdir(), 'dbgate-audit-trail-'))
const state = join(dir, 'state')
const policyFile = join(dir, 'policy.yaml')
writeFileSync(policyFile, 'version: 1\ndefaults: {action: allow, unparseable: deny}\nrules: []\n')
const pgModule = pathToFileURL(createRequire(import.meta.url).resolve('pg')).href
let db: ScratchDb

beforeAll(async () => {
  db = await createScratchDb('dbgate_audit_trail', 'create table t(id int); insert into t values (1);')
})
afterAll(async () => {
  await db?.drop()
})

function dbgate(args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn('node', ['bin/run.js', ...args], {
      env: {...process.env, DBGATE_STATE_DIR: state, NO_COLOR: '1'},
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

const connect = (...client: string[]) =>
  dbgate(['connect', '--url', db.url, '--policy', policyFile, '--', ...client])

function statement(events: readonly ChainedEvent[], marker: string): ChainedEvent {
  const e = events.find((x) => x.type === 'statement' && (x.statement ?? '').includes(marker))
  if (e === undefined) throw new Error(`no event for ${marker}`)
  return e
}

describe('the audit trail of dbgate connect', () => {
  it('records psql and a Node script as different processes, each started by dbgate', async () => {
    const a = await connect('psql', '-X', '-A', '-t', '-c', "select 'from-psql-audit'")
    expect(a.code, a.stderr).toBe(0)
    const script = `import pg from '${pgModule}'
const c = new pg.Client(); await c.connect(); await c.query("select 'from-node-audit'"); await c.end()`
    const b = await connect(process.execPath, '--input-type=module', '-e', script)
    expect(b.code, b.stderr).toBe(0)

    const events = readSpooledEvents(state)
    const fromPsql = statement(events, 'from-psql-audit')
    const fromNode = statement(events, 'from-node-audit')
    expect(fromPsql.process?.found).toBe(true)
    expect(fromNode.process?.found).toBe(true)
    const psql = fromPsql.process as ProcessFound
    const node = fromNode.process as ProcessFound
    expect(basename(psql.exe ?? '')).toBe('psql')
    expect(psql.cmdline).toContain("select 'from-psql-audit'")
    expect(basename(node.exe ?? '')).toMatch(/^node/)
    expect(node.cmdline).toContain('--input-type=module')
    expect(node.pid).not.toBe(psql.pid)
    // Both were started by `dbgate connect` (node bin/run.js connect ...).
    for (const p of [psql, node]) expect(p.parents[0]?.cmdline.join(' ')).toMatch(/bin\/run\.js connect/)
    // Every event of a session carries its process, session_start included.
    const start = events.find((e) => e.type === 'session_start' && e.session_id === fromPsql.session_id)
    expect((start?.process as ProcessFound | undefined)?.pid).toBe(psql.pid)
    expect(fromPsql.actor).toBe('human')

    // One chain across both runs (the second process continued the first one's lane), and it verifies.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(verifyChain(events).messages).toEqual([])
    // A standalone user checks the spool without any control plane or login.
    const check = await dbgate(['audit', 'verify', '--local', '--json'])
    expect(check.code, check.stderr).toBe(0)
    expect(JSON.parse(check.stdout)).toEqual({
      ok: true,
      server: null,
      local: {ok: true, events: events.length, problems: []},
    })
  })

  it('records the policy file version (the start of `sha256sum FILE`), and a new one after an edit', async () => {
    const version = (): string =>
      `file-sha256:${createHash('sha256').update(readFileSync(policyFile)).digest('hex').slice(0, 16)}`
    const before = version()
    const a = await connect('psql', '-X', '-A', '-t', '-c', "select 'policy-version-a'")
    expect(a.code, a.stderr).toBe(0)
    writeFileSync(
      policyFile,
      'version: 1\ndefaults: {action: allow, unparseable: deny}\nrules: []\n# edited\n',
    )
    const after = version()
    expect(after).not.toBe(before)
    const b = await connect('psql', '-X', '-A', '-t', '-c', "select 'policy-version-b'")
    expect(b.code, b.stderr).toBe(0)
    const events = readSpooledEvents(state)
    const first = statement(events, 'policy-version-a')
    expect(first.policy_version).toBe(before)
    expect(statement(events, 'policy-version-b').policy_version).toBe(after)
    const start = events.find((e) => e.type === 'session_start' && e.session_id === first.session_id)
    expect(start?.policy_version).toBe(before)
  })
})
