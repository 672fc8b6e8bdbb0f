/** `dbgate exec` masks results like the proxy: column rules, the hash key from DBGATE_MASK_KEY. */
import {spawn} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const dir = mkdtempSync(join(tmpdir(), 'dbgate-exec-mask-'))
const policyFile = join(dir, 'policy.yaml')
writeFileSync(
  policyFile,
  `version: 1
defaults: {action: allow, unparseable: deny}
rules: []
masking:
  - {name: emails, columns: ["public.users.email"], style: partial}
  - {name: ssn, columns: ["*.*.ssn"], style: hash}
`,
)
let db: ScratchDb

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_e2e_mask',
    `create table users(id int, name text, email text, ssn text);
     insert into users values (1, 'Alice', 'alice.smith@example.com', '219-09-9999');`,
  )
})
afterAll(async () => {
  await db?.drop()
})

function exec(sql: string, key?: string): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {...process.env, DBGATE_STATE_DIR: join(dir, 'state'), NO_COLOR: '1'}
    if (key === undefined) delete env.DBGATE_MASK_KEY
    else env.DBGATE_MASK_KEY = key
    const child = spawn(
      'node',
      ['bin/run.js', 'exec', '--url', db.url, '--policy', policyFile, '--sql', sql, '--format', 'csv'],
      {env},
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

const KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'

describe('dbgate exec with masking rules', () => {
  it('masks columns and derived values, keeps the rest', async () => {
    const r = await exec('select id, name, email, lower(email) as l, ssn from users', KEY)
    expect(r.code).toBe(0)
    const [header, row] = r.stdout.trim().split(/\r?\n/)
    expect(header).toBe('id,name,email,l,ssn')
    // A derived value is redacted whatever the rule's style: what partial keeps of it is what the client shaped.
    expect(row).toMatch(/^1,Alice,a\*\*\*@example\.com,\[REDACTED\],hash:[0-9a-f]{16}$/)
    expect(r.stdout).not.toContain('219-09-9999')
  })

  it('redacts a computed value under hash: a reference row hashed alike would show it', async () => {
    // substr(ssn, 1, 1) hashed as the constant '2' hashes showed the first digit.
    const r = await exec("select substr(ssn, 1, 1) as d from users where id = 1 union all select '2'", KEY)
    expect(r.code).toBe(0)
    expect(r.stdout.trim().split(/\r?\n/)).toEqual(['d', '[REDACTED]', '[REDACTED]'])
  })

  it('hashes with the configured key: the same value hashes alike across runs', async () => {
    const a = await exec('select ssn from users', KEY)
    const b = await exec('select ssn from users', KEY)
    expect(a.stdout).toBe(b.stdout)
    expect(a.stdout).toMatch(/hash:[0-9a-f]{16}/)
  })

  it('refuses a mask key that is too short', async () => {
    const r = await exec('select 1', 'abcd')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('DBGATE_MASK_KEY')
  })
})
