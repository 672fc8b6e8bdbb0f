import {createHash} from 'node:crypto'
/**
 * `dbgate connect --url mysql://...` as a separate process with the real `mysql` client (interactive,
 * through a pseudo-terminal, and batch) and with mysql2 streaming a large result to a slow reader with
 * the proxy's memory bounded; `dbgate exec --url mysql://...` exit codes.
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import mysql from 'mysql2'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {readSpooledEvents} from '../support/audit-spool.js'
import {mysqlScratch, type MysqlScratch} from '../support/mysql-proxy.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'dbgate-mysql-cli-'))
const policyFile = join(dir, 'policy.yaml')
let db: MysqlScratch
let proxy: ChildProcess
let port = 0
let url = ''

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0)
}

beforeAll(async () => {
  db = await mysqlScratch('mysql_cli')
  await db.admin(
    `CREATE TABLE \`${db.name}\`.items (id INT PRIMARY KEY, name VARCHAR(50));` +
      `INSERT INTO \`${db.name}\`.items VALUES (1, 'apple'), (2, 'pear');`,
  )
  writeFileSync(
    policyFile,
    [
      'version: 1',
      'defaults: {action: allow, unparseable: deny}',
      'rules:',
      '  - name: no-drop',
      '    when: {kinds: [drop, truncate]}',
      '    action: deny',
      '    message: Schema changes go through migrations.',
      '',
    ].join('\n'),
  )
  url = `mysql://root@127.0.0.1:3306/${db.name}`
  proxy = spawn('node', ['bin/run.js', 'connect', '--url', url, '--policy', policyFile], {
    env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state')},
  })
  let stderr = ''
  proxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  for (let i = 0; i < 300 && !/-P (\d+)/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100))
  port = Number(/-P (\d+)/.exec(stderr)?.[1])
  expect(port, stderr).toBeGreaterThan(0)
}, 60_000)

afterAll(async () => {
  proxy?.kill('SIGINT')
  if (proxy !== undefined && proxy.exitCode === null) await new Promise((r) => proxy.once('close', r))
  await db?.drop()
})

/** Terminal escape sequences the client prints around its output. */
const ANSI = new RegExp(`${String.fromCharCode(27)}(\\[[0-9;]*[A-Za-z]|\\(B)`, 'g')

/** Runs the interactive mysql client in a pseudo-terminal, typing `lines`; returns what it printed. */
function interactive(lines: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    const cmd = `mysql -h127.0.0.1 -P${port} -uroot ${db.name}`
    const child = spawn('script', ['-qfec', cmd, '/dev/null'])
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    // One line per prompt: the client reads the terminal, not a pipe, so wait for each prompt.
    let sent = 0
    const timer = setInterval(() => {
      const prompts = out.split(/MariaDB \[[^\]]*\]> /).length - 1
      if (prompts > sent && sent < lines.length) child.stdin.write(`${lines[sent++]}\n`)
    }, 50)
    child.on('close', () => {
      clearInterval(timer)
      resolve(out.replace(ANSI, ''))
    })
  })
}

describe('the mysql client through dbgate connect', () => {
  it('works interactively: housekeeping, SHOW, DESCRIBE, USE, a denial mid-session, errors, multi-statements', async () => {
    const out = await interactive([
      'show tables;',
      'describe items;',
      'select name from items where id = 2;',
      'drop table items;',
      'select * from nope;',
      'select 1 as a; select 2 as b;',
      'use information_schema',
      `use ${db.name}`,
      'select count(*) as n from items;',
      'quit',
    ])
    expect(out).toMatch(/Server version: 10\.11/)
    expect(out).toMatch(/\| items\s+\|/)
    expect(out).toMatch(/\| name\s+\| varchar\(50\)/)
    expect(out).toMatch(/\| pear\s+\|/)
    expect(out).toMatch(
      /ERROR 1142 \(42000\): dbgate: denied by rule "no-drop": Schema changes go through migrations/,
    )
    expect(out).toMatch(/ERROR 1146 \(42S02\).*nope/)
    expect(out).toMatch(/\| a \|[\s\S]*\| 1 \|[\s\S]*\| b \|[\s\S]*\| 2 \|/)
    expect(out).toMatch(/Database changed[\s\S]*MariaDB \[information_schema\]>/)
    expect(out).toMatch(/\| n \|[\s\S]*\| 2 \|/)
    expect(out).toMatch(/Bye/)
  }, 60_000)

  it('runs in batch mode and reports a denial with exit code 1 (--force goes on)', async () => {
    const base = ['-h127.0.0.1', `-P${port}`, '-uroot', '-N', db.name]
    const {stdout} = await run('mysql', [...base, '-e', 'select name from items order by id'])
    expect(stdout).toBe('apple\npear\n')
    await expect(run('mysql', [...base, '-e', 'truncate items'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/ERROR 1142 \(42000\) at line 1: dbgate: denied by rule "no-drop"/),
    })
    const forced = await new Promise<string>((resolve) => {
      const c = spawn('mysql', [...base, '--force'])
      let out = ''
      c.stdout.on('data', (d: Buffer) => (out += d.toString()))
      c.on('close', () => resolve(out))
      c.stdin.end('drop table items;\nselect 7;\n')
    })
    expect(forced).toBe('7\n')
  })

  it('records the session and its statements in the audit spool', async () => {
    // The engine appends events as statements finish; the spool's group commit lands them shortly after.
    let events = readSpooledEvents(join(dir, 'state'))
    for (let i = 0; i < 50 && !events.some((e) => e.type === 'statement' && e.decision === 'deny'); i++) {
      await new Promise((r) => setTimeout(r, 100))
      events = readSpooledEvents(join(dir, 'state'))
    }
    expect(events.some((e) => e.type === 'session_start' && e.protocol === 'mysql')).toBe(true)
    // The mysql client names itself in its connection attributes.
    expect(events.some((e) => e.type === 'session_start' && e.application_name === 'mysql')).toBe(true)
    expect(events.some((e) => e.type === 'statement' && e.decision === 'deny' && e.rule === 'no-drop')).toBe(
      true,
    )
    // Standalone: the policy file's version, as `sha256sum FILE` starts.
    const version = `file-sha256:${createHash('sha256').update(readFileSync(policyFile)).digest('hex').slice(0, 16)}`
    expect(new Set(events.map((e) => e.policy_version))).toEqual(new Set([version]))
  })

  it('streams 2 million rows to a slow reader with the proxy memory bounded', async () => {
    const pid = proxy.pid!
    const conn = mysql.createConnection({host: '127.0.0.1', port, user: 'root', database: db.name})
    let rows = 0
    let peak = 0
    const baseline = rssKb(pid)
    await new Promise<void>((resolve, reject) => {
      const stream = conn
        .query("SELECT seq, REPEAT('x', 60) AS pad FROM seq_1_to_2000000")
        .stream({highWaterMark: 1000})
      stream.on('data', () => {
        rows++
        if (rows % 100_000 === 0) {
          peak = Math.max(peak, rssKb(pid))
          stream.pause()
          setTimeout(() => stream.resume(), 30)
        }
      })
      stream.on('end', () => resolve())
      stream.on('error', reject)
    })
    conn.end()
    expect(rows).toBe(2_000_000)
    expect(baseline).toBeGreaterThan(0)
    // A bound, not a timing: without backpressure the proxy would buffer >100 MB of rows.
    expect(peak - baseline).toBeLessThan(60 * 1024)
  }, 180_000)
})

describe('dbgate exec with a mysql:// URL', () => {
  const exec = (sql: string): Promise<{stdout: string}> =>
    run('node', ['bin/run.js', 'exec', '--url', url, '--policy', policyFile, '--sql', sql], {
      env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state-exec')},
    })

  it('prints results of several statements', async () => {
    const {stdout} = await exec('select id, name from items order by id; select 42 as answer')
    expect(stdout).toMatch(/id\s+\|\s+name[\s\S]*1\s+\|\s+apple[\s\S]*answer[\s\S]*42/)
  })

  it('prints the results of statements that return no rows among those that do', async () => {
    const first = await exec("set @a = 'kiwi'; select @a as fruit")
    expect(first.stdout).toMatch(/fruit[\s\S]*kiwi/)
    const last = await exec('select 7 as n; set @b = 1; do 1')
    expect(last.stdout).toMatch(/n[\s\S]*7/)
  })

  it('exits 3 with the rule when the policy denies', async () => {
    await expect(exec('drop table items')).rejects.toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/denied by rule "no-drop"[\s\S]*E_DENIED/),
    })
  })

  it('reports a bad mysql:// URL (exit 2) and an unreachable server (exit 6) clearly', async () => {
    const cli = (args: string[]): Promise<{code: number; stderr: string}> =>
      run('node', ['bin/run.js', ...args], {
        env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state-bad')},
      }).then(
        () => ({code: 0, stderr: ''}),
        (e: {code: number; stderr: string}) => e,
      )
    const noUser = await cli([
      'exec',
      '--url',
      'mysql://127.0.0.1:3306/x',
      '--policy',
      policyFile,
      '--sql',
      'select 1',
    ])
    expect(noUser).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/Bad --url: the target URL has no user/),
    })
    const badMode = await cli([
      'exec',
      '--url',
      'mysql://root@127.0.0.1/x?ssl-mode=maybe',
      '--policy',
      policyFile,
      '--sql',
      'select 1',
    ])
    expect(badMode).toMatchObject({code: 2, stderr: expect.stringMatching(/unknown ssl-mode "maybe"/)})
    const down = await cli([
      'exec',
      '--url',
      'mysql://root@127.0.0.1:1/x',
      '--policy',
      policyFile,
      '--sql',
      'select 1',
    ])
    expect(down.code).toBe(6)
    expect(down.stderr).toMatch(/127\.0\.0\.1:1/)
  })
})
