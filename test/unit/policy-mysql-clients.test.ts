import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {analyzeMysql} from '../../src/policy/mysql/analyze.js'
import {summarize} from '../fixtures/mysql/summarize.js'

const dir = join(import.meta.dirname, '../fixtures/mysql/clients')

interface Captured {
  readonly command: 'Query' | 'Prepare'
  readonly sql: string
}

/** What the real clients sent to MariaDB 10.11 (general log), one file per client. */
const captured = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) => {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {statements: Captured[]}
    return doc.statements.map((s) => [f, s.command, s.sql] as const)
  })

const context = {defaultSchema: 'dbgate_capture'}

describe('analyzeMysql: what real clients send', () => {
  it('has fixtures from the mysql CLI, mysql2 and mysqldump', () => {
    const files = new Set(captured.map(([f]) => f))
    expect([...files].sort()).toEqual([
      'mysql-cli-batch.json',
      'mysql-cli-interactive.json',
      'mysql2.json',
      'mysqldump.json',
    ])
  })

  it.each(captured)('%s %s: %s', (_file, _command, sql) => {
    const a = analyzeMysql(sql, context)
    expect(a.ok ? 'ok' : a.error).toBe('ok')
  })

  it('reads a whole mysqldump file as one multi-statement query', () => {
    const dump = readFileSync(join(dir, 'mysqldump-output.sql'), 'utf8')
    expect(summarize(dump, context)).toEqual([
      'alter dbgate_capture.users',
      'create dbgate_capture.users',
      'drop dbgate_capture.users',
      'insert dbgate_capture.users',
      'lock',
      'lock dbgate_capture.users',
      'set',
    ])
  })

  it('the interactive CLI start-up is all show/select', () => {
    const kinds = captured
      .filter(([f]) => f === 'mysql-cli-interactive.json')
      .flatMap(([, , sql]) => {
        const a = analyzeMysql(sql, context)
        return a.ok ? a.operations.map((o) => o.kind) : ['error']
      })
    expect(new Set(kinds)).toEqual(new Set(['show', 'select']))
  })
})
