import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'dbgate-policy-test-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Runs `dbgate policy test ...` and collects what a user would see. */
function dbgate(...args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', ['bin/run.js', 'policy', 'test', ...args], {
      env: {...process.env, NO_COLOR: '1', DBGATE_CONFIG_DIR: dir, DBGATE_STATE_DIR: dir},
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

const POLICY = 'examples/policy.yaml'

// Each case spawns the CLI; they are independent, so they run side by side.
describe.concurrent('dbgate policy test', () => {
  it('prints a human summary naming the rule that decided and each operation', async () => {
    const r = await dbgate('--policy', POLICY, '--sql', 'select * from orders; drop table users')
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toBe('DENY by rule no-ddl: Schema changes go through migrations.')
    expect(lines[1]).toMatch(/^ {2}select +public\.orders$/)
    expect(lines[2]).toMatch(/^ {2}drop +public\.users$/)
  })

  it('prints the decision of product.md with --json', async () => {
    const r = await dbgate('--policy', POLICY, '--sql', 'DROP TABLE users', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      decision: 'deny',
      rule: 'no-ddl',
      message: 'Schema changes go through migrations.',
      operations: [{kind: 'drop', tables: ['public.users'], functions: [], where: null}],
      masking: ['customer-pii'],
      unparseable: false,
    })
  })

  it('judges the actor, and lists the masking rules that apply to it', async () => {
    const r = await dbgate(
      '--policy',
      POLICY,
      '--sql',
      "insert into t values ('x')",
      '--actor',
      'agent',
      '--json',
    )
    expect(JSON.parse(r.stdout)).toMatchObject({
      decision: 'review',
      rule: 'agent-writes-need-review',
      masking: ['customer-pii', 'detected-secrets'],
    })
  })

  it('reads MySQL with the schema given', async () => {
    const r = await dbgate(
      '--policy',
      POLICY,
      '--dialect',
      'mysql',
      '--schema',
      'shop',
      '--sql',
      'DELETE FROM orders',
      '--json',
    )
    expect(JSON.parse(r.stdout)).toMatchObject({
      decision: 'deny',
      rule: 'unbounded-writes',
      operations: [{kind: 'delete', tables: ['shop.orders'], where: 'absent'}],
    })
  })

  it('reports an unparseable statement with defaults.unparseable', async () => {
    const r = await dbgate('--policy', POLICY, '--sql', 'selec * frm users', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      decision: 'deny',
      rule: null,
      unparseable: true,
      operations: [],
    })
  })

  it('exits 3 on deny and 4 on review with --exit-code, and still prints the decision', async () => {
    const deny = await dbgate('--policy', POLICY, '--sql', 'truncate t', '--exit-code', '--json')
    expect(deny.code).toBe(3)
    expect(JSON.parse(deny.stdout)).toMatchObject({decision: 'deny'})
    const review = await dbgate(
      '--policy',
      POLICY,
      '--sql',
      'delete from t where id = 1',
      '--actor',
      'agent',
      '--exit-code',
    )
    expect(review.code).toBe(4)
    expect(review.stdout).toMatch(/^REVIEW by rule agent-writes-need-review/)
    expect((await dbgate('--policy', POLICY, '--sql', 'select 1', '--exit-code')).code).toBe(0)
  })

  it('decides every line of --input in order; a bad line gets an error naming it and exit 1', async () => {
    const input = join(dir, 'in.jsonl')
    writeFileSync(
      input,
      [
        JSON.stringify({sql: 'drop table users'}),
        '{"sql": "select 1",',
        JSON.stringify({sql: 'update t set a = 1', actor: 'agent'}),
        '',
        JSON.stringify({sql: 'delete from users', dialect: 'mysql', target: 'prod'}),
        JSON.stringify({sql: 'select 1', actor: 'robot'}),
        JSON.stringify({sql: 'select 1', dialekt: 'mysql'}),
      ].join('\n') + '\n',
    )
    const r = await dbgate('--policy', POLICY, '--input', input)
    expect(r.code).toBe(1)
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(out).toHaveLength(6)
    expect(out[0]).toMatchObject({decision: 'deny', rule: 'no-ddl'})
    expect(out[1]).toEqual({line: 2, error: expect.stringMatching(/^line 2: not valid JSON/)})
    expect(out[2]).toMatchObject({decision: 'deny', rule: 'unbounded-writes'})
    expect(out[3]).toMatchObject({decision: 'deny', operations: [{kind: 'delete', tables: ['mysql.users']}]})
    expect(out[4]).toEqual({line: 6, error: 'line 6: unknown actor "robot"; allowed: human, agent, ci'})
    expect(out[5]).toEqual({line: 7, error: expect.stringContaining('unknown key "dialekt"')})
    expect(r.stderr).toContain('3 of 6 input lines could not be decided')
  })

  it('prints JSON Lines for --input with --json too, and exits 0 when every line was decided', async () => {
    const input = join(dir, 'ok.jsonl')
    writeFileSync(input, `${JSON.stringify({sql: 'select 1'})}\n${JSON.stringify({sql: 'drop table t'})}\n`)
    const r = await dbgate('--policy', POLICY, '--input', input, '--json')
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as {decision: string}).decision)).toEqual(['allow', 'deny'])
  })

  it('rejects a broken policy file naming the file and the path, with exit 2 and no stack trace', async () => {
    const file = join(dir, 'broken.yaml')
    writeFileSync(file, 'version: 1\nrules:\n  - name: a\n    when: {kinds: [dlete]}\n    action: deny\n')
    const r = await dbgate('--policy', file, '--sql', 'select 1')
    expect(r.code).toBe(2)
    const err = r.stderr.replace(/\s*›\s*/g, ' ')
    expect(err).toContain(`Policy file ${file} is not valid`)
    expect(err).toContain('rules[0].when.kinds[0]: unknown kind "dlete"; allowed: select, insert')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(r.stdout).toBe('')
  })

  it('rejects a missing policy file with exit 2', async () => {
    const r = await dbgate('--policy', join(dir, 'nope.yaml'), '--sql', 'select 1')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no such file')
  })

  it.each([
    ['neither --sql nor --input', ['--policy', POLICY]],
    ['both --sql and --input', ['--policy', POLICY, '--sql', 'select 1', '--input', 'x.jsonl']],
    ['an unknown dialect', ['--policy', POLICY, '--sql', 'select 1', '--dialect', 'oracle']],
    ['a missing input file', ['--policy', POLICY, '--input', join(dir, 'missing.jsonl')]],
  ])('is a usage error (exit 2) with %s', async (_name, args) => {
    const r = await dbgate(...args)
    expect(r.code).toBe(2)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('shows examples in --help', async () => {
    const r = await dbgate('--help')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('EXAMPLES')
    expect(r.stdout).toContain('policy test --policy policy.yaml --sql "drop table users"')
    expect(r.stdout).toContain('--exit-code')
  })
})
