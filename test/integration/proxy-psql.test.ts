/** The real psql through the guarded proxy: meta-commands, \copy, \x, a transaction with a denial. */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {startTestProxy, type TestProxy} from '../support/proxy.js'
import {psqlThrough, type PsqlRun} from '../support/psql.js'

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_psql',
    `create table t(id int primary key, v text); insert into t values (1, 'a'); create function add_one(x int) returns int language sql as 'select x + 1';`,
  )
  proxy = await startTestProxy(db.url)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

describe('psql through the proxy', () => {
  it('runs meta-commands (\\dt, \\d t, \\l, \\df) and \\x', async () => {
    const r = await run([
      '-c',
      '\\dt',
      '-c',
      '\\d t',
      '-c',
      '\\l',
      '-c',
      '\\df',
      '-c',
      '\\x',
      '-c',
      'select 1 as a, 2 as b',
    ])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/public \| t\s+\| table/)
    expect(r.stdout).toContain('Table "public.t"')
    expect(r.stdout).toContain(db.name)
    expect(r.stdout).toContain('add_one')
    expect(r.stdout).toContain('-[ RECORD 1 ]')
  })

  it('copies in and out with \\copy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbgate-copy-'))
    writeFileSync(join(dir, 'in.csv'), '10,ten\n11,eleven\n')
    const r = await run([
      '-c',
      `\\copy t from '${join(dir, 'in.csv')}' csv`,
      '-c',
      `\\copy (select * from t order by id) to '${join(dir, 'out.csv')}' csv`,
    ])
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('COPY 2')
    expect(readFileSync(join(dir, 'out.csv'), 'utf8')).toBe('1,a\n10,ten\n11,eleven\n')
  })

  it('keeps a transaction going across a denied statement and commits it', async () => {
    const r = await run(
      [],
      `begin;\ninsert into t values (20, 'x');\ndrop table t;\ninsert into t values (21, 'y');\ncommit;\nselect count(*) from t where id in (20, 21);\nselect 1/0;\n`,
    )
    expect(r.stderr).toContain('ERROR:  dbgate: denied by rule "no-drop"')
    expect(r.stderr).toContain('HINT:  Policy rule "no-drop" blocks this statement.')
    expect(r.stderr).toContain('ERROR:  division by zero')
    expect(r.stdout).toMatch(/count\s*\n-+\s*\n\s*2\s*\n/)
  })
})

function run(args: string[], input?: string): Promise<PsqlRun> {
  return psqlThrough(proxy.port, db.name, {args, input})
}
