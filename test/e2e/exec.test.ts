/** `dbgate exec` end to end: formats and exit codes. */
import {spawn} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {readSpooledEvents} from '../support/audit-spool.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const dir = mkdtempSync(join(tmpdir(), 'dbgate-exec-'))
const policyFile = join(dir, 'policy.yaml')
writeFileSync(
  policyFile,
  `version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - name: no-ddl
    when: {kinds: [drop]}
    action: deny
  - name: orders-need-review
    when: {tables: [public.orders], kinds: [delete]}
    action: review
`,
)
let db: ScratchDb

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_e2e_exec',
    `create table t(id int, name text); insert into t values (1, 'a,b'), (2, null); create table orders(id int);`,
  )
})
afterAll(async () => {
  await db?.drop()
})

function dbgate(
  args: string[],
  stdin = '',
  env: Record<string, string> = {},
): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn('node', ['bin/run.js', 'exec', ...args], {
      env: {...process.env, DBGATE_STATE_DIR: join(dir, 'state'), NO_COLOR: '1', ...env},
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    // oclif wraps long error lines with a ' ›' gutter: unwrap them for assertions.
    child.on('close', (code) => resolve({code, stdout, stderr: stderr.replace(/\s*\n ›\s+/g, ' ')}))
    child.stdin.end(stdin)
  })
}

const base = (): string[] => ['--url', db.url, '--policy', policyFile]

describe('dbgate exec', () => {
  it('prints rows as a table, CSV and JSON', async () => {
    const sql = 'select id, name from t order by id'
    const table = await dbgate([...base(), '--sql', sql])
    expect(table.code).toBe(0)
    expect(table.stdout).toBe('id | name\n---+-----\n1  | a,b\n2  |\n(2 rows)\n')
    const csv = await dbgate([...base(), '--sql', sql, '--format', 'csv'])
    expect(csv.stdout).toBe('id,name\r\n1,"a,b"\r\n2,\n')
    const json = await dbgate([...base(), '--format', 'json'], sql)
    expect(JSON.parse(json.stdout)).toEqual([
      {id: 1, name: 'a,b'},
      {id: 2, name: null},
    ])
  })

  it('runs several statements from a file and prints each result', async () => {
    const file = join(dir, 'q.sql')
    writeFileSync(file, 'insert into orders values (1); select count(*)::int as n from orders;')
    const r = await dbgate([...base(), '--file', file])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('INSERT 1')
    expect(r.stdout).toContain('n\n-\n1\n(1 row)')
  })

  it('exits 3 when denied (naming the rule), 4 when approval is required, 1 on a SQL error, 2 on usage', async () => {
    const denied = await dbgate([...base(), '--sql', 'drop table t'])
    expect(denied.code).toBe(3)
    expect(denied.stderr).toContain('no-ddl')
    const review = await dbgate([...base(), '--sql', 'delete from orders where id = 1'])
    expect(review.code).toBe(4)
    expect(review.stderr).toContain('orders-need-review')
    const sqlError = await dbgate([...base(), '--sql', 'select * from missing_table'])
    expect(sqlError.code).toBe(1)
    expect(sqlError.stderr).toContain('relation "missing_table" does not exist')
    const usage = await dbgate([...base()])
    expect(usage.code).toBe(2)
    const badFormat = await dbgate([...base(), '--sql', 'select 1', '--format', 'xml'])
    expect(badFormat.code).toBe(2)
  })

  it('takes the audit sync interval from DBGATE_AUDIT_SYNC_MS, and refuses one that is not a number of ms', async () => {
    const zero = await dbgate([...base(), '--sql', 'select 41 + 1', '--format', 'csv'], '', {
      DBGATE_AUDIT_SYNC_MS: '0',
    })
    expect(zero.code).toBe(0)
    expect(zero.stdout).toContain('42')
    for (const bad of ['soon', '-5', '1.5', '600000']) {
      const r = await dbgate([...base(), '--sql', 'select 1'], '', {DBGATE_AUDIT_SYNC_MS: bad})
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(
        `DBGATE_AUDIT_SYNC_MS must be a whole number of milliseconds from 0 to 60000, got "${bad}"`,
      )
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.stdout).toBe('')
    }
  })

  it('exits 6 when the target is unreachable, and writes audit events to the local spool', async () => {
    const r = await dbgate([
      '--url',
      'postgres://u@127.0.0.1:1/x',
      '--policy',
      policyFile,
      '--sql',
      'select 1',
    ])
    expect(r.code).toBe(6)
    const events = readSpooledEvents(join(dir, 'state'))
    expect(events.some((e) => e.type === 'statement' && e.decision === 'deny' && e.rule === 'no-ddl')).toBe(
      true,
    )
    expect(events.some((e) => e.type === 'session_start')).toBe(true)
  })

  it('wraps results in the --json envelope', async () => {
    const r = await dbgate([...base(), '--sql', 'select 1 as one', '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      results: [{command: 'SELECT', rowCount: 1, columns: ['one'], rows: [{one: 1}]}],
    })
  })
})
