/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- tests probe parsed JSON bodies */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {api, loginAs, postForm} from './server-harness.js'

// `dbgate server ...` as a process (dist/, built by pretest): start, kill -9, restart, config errors,
// and the server-admin token commands.

const ROOT = join(import.meta.dirname, '..', '..')
const RUN = join(ROOT, 'bin', 'run.js')
const dirs: string[] = []

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dbgate-proc-'))
  dirs.push(d)
  return d
}

afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

const env = {...process.env, NO_COLOR: '1', DBGATE_SERVER_KEY: ''}

/** Starts `dbgate server start` and resolves with its URL once it prints it. */
function startProcess(args: string[]): Promise<{child: ChildProcess; url: string; stderr: () => string}> {
  const child = spawn(process.execPath, [RUN, 'server', 'start', '--listen', '127.0.0.1:0', ...args], {env})
  let err = ''
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString()
      const m = /listening on (http:\/\/\S+)/.exec(err)
      if (m) resolve({child, url: m[1]!, stderr: () => err})
    })
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)))
  })
}

function run(args: string[]): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [RUN, ...args], {env, encoding: 'utf8'})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

describe('dbgate server start', () => {
  it('keeps every acknowledged write across kill -9', async () => {
    const data = tempDir()
    const first = await startProcess(['--dev', '--data', data])
    // carol is an admin in --dev's default users. Each 201 below is an acknowledged write.
    const admin = await loginAs(first, {username: 'carol', password: 'carol'})
    const acknowledged: string[] = []
    for (let i = 0; i < 5; i++) {
      const res = await api(first, '/api/v1/admin/tokens', admin.access_token, {
        method: 'POST',
        body: {name: `ci-${i}`, groups: ['deploy']},
      })
      expect(res.status).toBe(201)
      acknowledged.push(res.body.token as string)
    }
    const gone = exited(first.child)
    first.child.kill('SIGKILL')
    await gone

    const second = await startProcess(['--dev', '--data', data])
    try {
      const again = await loginAs(second, {username: 'carol', password: 'carol'})
      const list = await api(second, '/api/v1/admin/tokens', again.access_token)
      expect(list.body.tokens.map((t: {name: string}) => t.name).sort()).toEqual([
        'ci-0',
        'ci-1',
        'ci-2',
        'ci-3',
        'ci-4',
      ])
      for (const token of acknowledged) {
        const ex = await postForm(`${second.url}/auth/token`, {
          grant_type: 'urn:dbgate:params:oauth:grant-type:machine-token',
          machine_token: token,
        })
        expect(ex.status).toBe(200)
      }
    } finally {
      const stopped = exited(second.child)
      second.child.kill('SIGTERM')
      expect(await stopped).toBe(0)
    }
    expect(second.stderr()).toContain('SIGTERM: shutting down')
    expect(statSync(join(data, 'server.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(data, 'control-plane.db')).mode & 0o777).toBe(0o600)
  }, 120_000)

  it('exits 2 naming the file and path of a bad config', {timeout: 120_000}, () => {
    const dir = tempDir()
    const file = join(dir, 'server.yaml')
    writeFileSync(
      file,
      'dev:\n  users:\n    - username: alice\n      pasword: x\ntargets:\n  - name: a\n    protocol: oracle\n',
    )
    const r = run(['server', 'start', '--config', file, '--data', dir, '--listen', '127.0.0.1:0'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`Server config ${file} is not valid`)
    expect(r.stderr).toContain('dev.users[0]')
    expect(r.stderr).toContain('targets[0].protocol')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    writeFileSync(file, 'roles: [unclosed\n')
    const yaml = run(['server', 'start', '--config', file, '--data', dir])
    expect(yaml.status).toBe(2)
    expect(yaml.stderr).toContain('not valid YAML')
    const none = run(['server', 'start', '--data', dir, '--listen', '127.0.0.1:0'])
    expect(none.status).toBe(2)
    expect(none.stderr).toContain('no identity provider')
  })

  it('creates, lists and revokes machine tokens from the command line', {timeout: 120_000}, () => {
    const data = tempDir()
    const created = run([
      'server',
      'tokens',
      'create',
      '--name',
      'ci-deploy',
      '--groups',
      'deploy',
      '--ttl',
      '30d',
      '--data',
      data,
    ])
    expect(created.status, created.stderr).toBe(0)
    expect(created.stdout.trim()).toMatch(/^dbg_mt_\S+$/)
    expect(created.stderr).toContain('shown only this once')
    const list = run(['server', 'tokens', 'list', '--data', data])
    expect(list.stdout).toContain('ci-deploy')
    expect(list.stdout).not.toContain(created.stdout.trim())
    const dup = run(['server', 'tokens', 'create', '--name', 'ci-deploy', '--data', data])
    expect(dup.status).toBe(2)
    expect(dup.stderr).toContain('a live machine token named "ci-deploy" exists')
    expect(run(['server', 'tokens', 'create', '--name', 'x', '--ttl', 'soon', '--data', data]).status).toBe(2)
    const revoked = run(['server', 'tokens', 'revoke', 'ci-deploy', '--data', data, '--json'])
    expect(revoked.status).toBe(0)
    expect(JSON.parse(revoked.stdout).revoked_at).not.toBeNull()
    expect(run(['server', 'tokens', 'revoke', 'ci-deploy', '--data', data]).status).toBe(2)
  })
})
