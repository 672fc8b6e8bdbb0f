/**
 * A real psql started with its password in the command line (a conninfo URL), under a shell whose own
 * command line holds more credentials and a large environment blob: the audit events of its session name
 * the processes, redacted and bounded, and hold none of the secrets.
 */
import {spawn} from 'node:child_process'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ARG_CHARS, RECORD_CHARS, REDACTED_ARG} from '../../src/audit/cmdline-redact.js'
import type {ProcessFound} from '../../src/audit/event.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {startTestProxy, type TestProxy} from '../support/proxy.js'

const LOCAL_PASSWORD = 'Loc4l-pw-in-argv'
const PG_PASSWORD = 'Sh3ll-env-secret'
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb('dbgate_proc_redact', 'create table t(id int);')
  proxy = await startTestProxy(db.url, undefined, {localPassword: LOCAL_PASSWORD})
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

/** Runs a command without blocking the event loop the in-process proxy needs. */
function run(cmd: string, args: string[]): Promise<{status: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {env: {...process.env, PGCONNECT_TIMEOUT: '10'}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => resolve({status, stdout, stderr}))
  })
}

describe.runIf(process.platform === 'linux')('the recorded process of a session', () => {
  it('shows psql, host, database and user, with every secret of the command lines redacted', async () => {
    const url = `postgresql://${proxy.clientConfig.user}:${LOCAL_PASSWORD}@127.0.0.1:${proxy.port}/${db.name}`
    // A launcher-style environment blob, many times the bound of one argument.
    const blob = JSON.stringify({
      AWS_SECRET_ACCESS_KEY: AWS_SECRET,
      ...Object.fromEntries(Array.from({length: 300}, (_, i) => [`VAR_${i}`, `/opt/tool/${i}/bin`])),
    })
    // `; true` keeps the shell alive as psql's parent (a lone command would be exec'd in its place).
    const script = `PGPASSWORD=${PG_PASSWORD} psql -X -At "${url}" -c "select 'through the proxy'"; true`
    const r = await run('sh', ['-c', script, blob])
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('through the proxy')

    const events = proxy.audit.events.filter((e) => e.statement === "select 'through the proxy'")
    expect(events).toHaveLength(1)
    const info = events[0]!.process
    expect(info?.found).toBe(true)
    const found = info as ProcessFound
    const recorded = JSON.stringify(found)
    for (const secret of [LOCAL_PASSWORD, PG_PASSWORD, AWS_SECRET]) expect(recorded).not.toContain(secret)

    expect(found.exe).toMatch(/psql/)
    expect(found.cmdline).toContain(
      `postgresql://${proxy.clientConfig.user}:${REDACTED_ARG}@127.0.0.1:${proxy.port}/${db.name}`,
    )
    expect(found.cmdline).toContain("select 'through the proxy'")
    const shell = found.parents[0]!
    expect(shell.cmdline.slice(0, 2)).toEqual(['sh', '-c'])
    expect(shell.cmdline[2]).toContain(`PGPASSWORD=${REDACTED_ARG} psql -X -At`)
    expect(shell.cmdline[3]!.startsWith(`{"AWS_SECRET_ACCESS_KEY":"${REDACTED_ARG}","VAR_0":`)).toBe(true)
    const dropped = blob.length - AWS_SECRET.length + REDACTED_ARG.length - ARG_CHARS
    expect(shell.cmdline[3]!.endsWith(`...[+${dropped} chars]`)).toBe(true)
    // All command lines of the record share one budget; argv[0] and the markers come on top of it.
    const chars = [found, ...found.parents].flatMap((p) => p.cmdline).reduce((n, a) => n + a.length, 0)
    expect(chars).toBeLessThanOrEqual(RECORD_CHARS + (1 + found.parents.length) * (ARG_CHARS + 40))
  })
})
