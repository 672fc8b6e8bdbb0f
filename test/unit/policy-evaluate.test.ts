import {describe, expect, it} from 'vitest'

import {evaluate, evaluateOperations} from '../../src/policy/evaluate.js'
import {compileFunctionGlob, compileGlob, compileTableGlob} from '../../src/policy/glob.js'
import {parsePolicy} from '../../src/policy/language.js'
import type {Action, EvalContext, Kind, Operation, WhereState} from '../../src/policy/types.js'

const op = (
  kind: Kind,
  tables: string[] = [],
  functions: string[] = [],
  where: WhereState = null,
): Operation => ({
  kind,
  tables,
  functions,
  where,
})
const human: EvalContext = {actor: 'human'}

const policy = parsePolicy(`
version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - name: no-ddl
    when: {kinds: [create, alter, drop, truncate]}
    action: deny
    message: Schema changes go through migrations.
  - name: unbounded-writes
    when: {kinds: [update, delete], where: absent}
    action: deny
  - name: file-functions
    when: {functions: [pg_read_file, "lo_*", "dblink*"]}
    action: deny
  - name: billing-reads-by-agents
    when: {tables: ["billing.*"], actors: [agent]}
    action: review
  - name: dba-may-touch-secrets
    when: {tables: [secrets], groups: [dba]}
    action: allow
  - name: secrets
    when: {tables: [secrets]}
    action: deny
    message: secrets are off limits
  - name: prod-writes
    when: {kinds: [insert, update, delete, merge], targets: [prod-pg]}
    action: review
  - name: bob-no-copy
    when: {kinds: [copy], identities: [bob@example.com]}
    action: deny
masking:
  - name: everyone
    detect: [secret]
    style: redact
  - name: agents-only
    detect: [email]
    style: partial
    when: {actors: [agent, ci]}
  - name: users-table
    columns: ["public.users.email"]
    style: hash
    when: {tables: [users]}
  - name: prod-only
    detect: [ssn]
    style: hash
    when: {targets: [prod-pg]}
`)

const decide = (ops: Operation[], ctx: EvalContext = human) => evaluateOperations(policy, ops, ctx)

describe('evaluateOperations: the first matching rule decides each operation', () => {
  it.each<[string, Operation[], EvalContext, Action, string | null]>([
    ['a DROP meets no-ddl', [op('drop', ['public.users'])], human, 'deny', 'no-ddl'],
    ['a SELECT meets no rule', [op('select', ['public.users'])], human, 'allow', null],
    ['an UPDATE with a WHERE', [op('update', ['public.t'], [], 'present')], human, 'allow', null],
    [
      'an UPDATE without a WHERE',
      [op('update', ['public.t'], [], 'absent')],
      human,
      'deny',
      'unbounded-writes',
    ],
    [
      'a DELETE without a WHERE',
      [op('delete', ['public.t'], [], 'absent')],
      human,
      'deny',
      'unbounded-writes',
    ],
    [
      'a qualified function by its last part',
      [op('select', [], ['pg_catalog.pg_read_file'])],
      human,
      'deny',
      'file-functions',
    ],
    ['a function glob', [op('select', [], ['lo_import'])], human, 'deny', 'file-functions'],
    [
      'a function glob with a prefix',
      [op('select', [], ['public.dblink_exec'])],
      human,
      'deny',
      'file-functions',
    ],
    ['a function the glob does not cover', [op('select', [], ['lower'])], human, 'allow', null],
    ['a function in upper case', [op('select', [], ['PG_READ_FILE'])], human, 'deny', 'file-functions'],
    [
      'a table glob with a schema, for an agent',
      [op('select', ['billing.invoices'])],
      {actor: 'agent'},
      'review',
      'billing-reads-by-agents',
    ],
    ['the same table for a human', [op('select', ['billing.invoices'])], human, 'allow', null],
    ['a dotless table pattern in any schema', [op('select', ['vault.secrets'])], human, 'deny', 'secrets'],
    ['a table in upper case', [op('select', ['VAULT.SECRETS'])], human, 'deny', 'secrets'],
    [
      'an allow rule first for a group',
      [op('select', ['public.secrets'])],
      {actor: 'human', groups: ['ops', 'DBA']},
      'allow',
      'dba-may-touch-secrets',
    ],
    [
      'a group the rule does not name',
      [op('select', ['public.secrets'])],
      {actor: 'human', groups: ['ops']},
      'deny',
      'secrets',
    ],
    [
      'a target condition',
      [op('insert', ['public.t'])],
      {actor: 'human', target: 'prod-pg'},
      'review',
      'prod-writes',
    ],
    ['another target', [op('insert', ['public.t'])], {actor: 'human', target: 'staging'}, 'allow', null],
    ['no target given', [op('insert', ['public.t'])], human, 'allow', null],
    [
      'an identity condition',
      [op('copy', ['public.t'])],
      {actor: 'human', identity: 'Bob@Example.com'},
      'deny',
      'bob-no-copy',
    ],
    [
      'another identity',
      [op('copy', ['public.t'])],
      {actor: 'human', identity: 'alice@example.com'},
      'allow',
      null,
    ],
  ])('%s', (_name, ops, ctx, decision, rule) => {
    const d = decide(ops, ctx)
    expect({decision: d.decision, rule: d.rule}).toEqual({decision, rule})
    expect(d.unparseable).toBe(false)
    expect(d.operations).toEqual(ops)
  })

  it('carries the deciding rule message, or null when the rule has none', () => {
    expect(decide([op('drop', ['public.t'])]).message).toBe('Schema changes go through migrations.')
    expect(decide([op('delete', ['public.t'], [], 'absent')]).message).toBeNull()
    expect(decide([op('select')]).message).toBeNull()
  })

  it('orders rules by position: a later rule never overrides an earlier match', () => {
    const p = parsePolicy(`version: 1
rules:
  - {name: first, when: {kinds: [select]}, action: allow}
  - {name: second, when: {kinds: [select]}, action: deny}`)
    expect(evaluateOperations(p, [op('select')], human).rule).toBe('first')
  })

  it('needs every given condition to hold', () => {
    const p = parsePolicy(`version: 1
rules:
  - {name: both, when: {kinds: [delete], tables: [orders], actors: [agent]}, action: deny}`)
    expect(evaluateOperations(p, [op('delete', ['public.orders'])], {actor: 'agent'}).rule).toBe('both')
    expect(evaluateOperations(p, [op('delete', ['public.orders'])], human).rule).toBeNull()
    expect(evaluateOperations(p, [op('delete', ['public.items'])], {actor: 'agent'}).rule).toBeNull()
    expect(evaluateOperations(p, [op('update', ['public.orders'])], {actor: 'agent'}).rule).toBeNull()
  })

  it('matches a table condition when any table of the operation matches', () => {
    expect(decide([op('select', ['public.a', 'vault.secrets', 'public.b'])]).rule).toBe('secrets')
  })

  it('matches an empty when against every operation', () => {
    const p = parsePolicy('version: 1\nrules: [{name: all, when: {}, action: review}]')
    expect(evaluateOperations(p, [op('select')], human)).toMatchObject({decision: 'review', rule: 'all'})
  })
})

describe('evaluateOperations: the query gets the strictest action', () => {
  it('denies when any operation is denied, naming the rule of that operation', () => {
    const d = decide([
      op('select', ['public.a']),
      op('drop', ['public.b']),
      op('delete', ['public.c'], [], 'absent'),
    ])
    expect(d).toMatchObject({
      decision: 'deny',
      rule: 'no-ddl',
      message: 'Schema changes go through migrations.',
    })
  })

  it('prefers review over allow', () => {
    const d = decide([op('select', ['public.a']), op('insert', ['public.t'])], {
      actor: 'human',
      target: 'prod-pg',
    })
    expect(d).toMatchObject({decision: 'review', rule: 'prod-writes'})
  })

  it('prefers deny over review whatever the order', () => {
    const ctx: EvalContext = {actor: 'human', target: 'prod-pg'}
    expect(decide([op('insert', ['public.t']), op('truncate', ['public.t'])], ctx).rule).toBe('no-ddl')
    expect(decide([op('truncate', ['public.t']), op('insert', ['public.t'])], ctx).rule).toBe('no-ddl')
  })

  it('names the first operation with the strictest action', () => {
    const d = decide([op('select', ['vault.secrets']), op('drop', ['public.t'])])
    expect(d.rule).toBe('secrets')
  })

  it('lets a default deny win over a rule that allows', () => {
    const p = parsePolicy(`version: 1
defaults: {action: deny}
rules: [{name: reads, when: {kinds: [select]}, action: allow}]`)
    const d = evaluateOperations(p, [op('select'), op('insert')], human)
    expect(d).toMatchObject({decision: 'deny', rule: null, message: null})
  })

  it('gives defaults.action to a query without operations (empty or only comments)', () => {
    const deny = parsePolicy('version: 1\ndefaults: {action: deny}')
    expect(evaluateOperations(deny, [], human)).toMatchObject({decision: 'deny', rule: null, operations: []})
    expect(decide([])).toMatchObject({decision: 'allow', rule: null})
  })
})

describe('evaluate', () => {
  it('gives defaults.unparseable to an unparseable query, naming the parse error', () => {
    const d = evaluate(policy, {ok: false, error: 'syntax error at or near "selec"'}, human)
    expect(d).toMatchObject({decision: 'deny', rule: null, unparseable: true, operations: []})
    expect(d.message).toContain('syntax error at or near "selec"')
  })

  it.each<Action>(['allow', 'review', 'deny'])('honours defaults.unparseable: %s', (action) => {
    const p = parsePolicy(`version: 1\ndefaults: {unparseable: ${action}}`)
    expect(evaluate(p, {ok: false, error: 'x'}, human).decision).toBe(action)
  })

  it('evaluates the operations of a parsed query', () => {
    const analysis = {
      ok: true,
      operations: [op('drop', ['public.users'])],
      statements: 1,
      prepares: [],
      deallocates: [],
      literalSensitive: false,
    } as const
    expect(evaluate(policy, analysis, human)).toMatchObject({
      decision: 'deny',
      rule: 'no-ddl',
      unparseable: false,
    })
  })
})

describe('masking selection', () => {
  const names = (ops: Operation[], ctx: EvalContext) =>
    evaluateOperations(policy, ops, ctx).masking.map((m) => m.name)

  it.each<[string, Operation[], EvalContext, string[]]>([
    ['a human reading another table', [op('select', ['public.orders'])], human, ['everyone']],
    ['an agent', [op('select', ['public.orders'])], {actor: 'agent'}, ['everyone', 'agents-only']],
    ['a read of users', [op('select', ['public.users'])], human, ['everyone', 'users-table']],
    [
      'users in a second operation',
      [op('select', ['public.a']), op('select', ['app.users'])],
      human,
      ['everyone', 'users-table'],
    ],
    [
      'a prod target',
      [op('select', ['public.orders'])],
      {actor: 'ci', target: 'PROD-PG'},
      ['everyone', 'agents-only', 'prod-only'],
    ],
  ])('%s', (_name, ops, ctx, expected) => {
    expect(names(ops, ctx)).toEqual(expected)
  })

  it('applies table-conditioned masking rules to unparseable statements (fail closed)', () => {
    const d = evaluate(policy, {ok: false, error: 'x'}, human)
    expect(d.masking.map((m) => m.name)).toEqual(['everyone', 'users-table'])
  })

  it('returns the masking rules themselves', () => {
    expect(evaluateOperations(policy, [op('select')], human).masking[0]).toEqual({
      name: 'everyone',
      detect: ['secret'],
      style: 'redact',
    })
  })
})

describe('globs', () => {
  it.each<[string, string, boolean]>([
    ['users', 'users', true],
    ['users', 'USERS', true],
    ['user?', 'users', true],
    ['user?', 'user', false],
    ['user?', 'user.', false],
    ['lo_*', 'lo_import', true],
    ['lo_*', 'lo_', true],
    ['lo_*', 'xlo_import', false],
    ['*', 'anything', true],
    ['*', 'a.b', false],
    ['public.*', 'public.users', true],
    ['public.*', 'other.users', false],
    ['*.users', 'x.users', true],
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
    ['(x)', '(x)', true],
    ['[ab]', 'a', false],
  ])('%s against %s → %s', (pattern, subject, expected) => {
    expect(compileGlob(pattern)(subject)).toBe(expected)
  })

  it.each<[string, string, boolean]>([
    ['users', 'public.users', true],
    ['users', 'app.users', true],
    ['users', 'public.users_old', false],
    ['public.users', 'public.users', true],
    ['public.users', 'app.users', false],
    ['*.users', 'app.users', true],
    ['pub*', 'public.users', false],
  ])('table %s against %s → %s', (pattern, subject, expected) => {
    expect(compileTableGlob(pattern)(subject)).toBe(expected)
  })

  it.each<[string, string, boolean]>([
    ['pg_read_file', 'pg_catalog.pg_read_file', true],
    ['pg_read_file', 'pg_read_file', true],
    ['pg_catalog.pg_read_file', 'pg_catalog.pg_read_file', true],
    ['pg_catalog.pg_read_file', 'pg_read_file', true],
    ['pg_catalog.pg_read_file', 'other.pg_read_file', false],
    ['dblink*', 'ext.dblink_connect', true],
    ['lower', 'pg_catalog.upper', false],
  ])('function %s against %s → %s', (pattern, subject, expected) => {
    expect(compileFunctionGlob(pattern)(subject)).toBe(expected)
  })
})

describe('tables written without a schema: the search_path decides where they are', () => {
  const rules = parsePolicy(`
version: 1
defaults: {action: deny, unparseable: deny}
rules:
  - {name: hr-salaries, when: {tables: [hr.salaries]}, action: deny}
  - {name: ops-review, when: {tables: ["ops.*"]}, action: review}
  - {name: public-reads, when: {tables: ["public.*"], kinds: [select]}, action: allow}
masking:
  - {name: pay, when: {tables: [hr.salaries]}, columns: ["hr.salaries.amount"], style: redact}
`)
  /** `salaries` as the Postgres analysis reports it when written without a schema. */
  const bare = (name: string, qualifiedToo = false): Operation => ({
    ...op('select', [`public.${name}`]),
    unqualified: [[`public.${name}`, name, qualifiedToo]],
  })

  it('judges them in every schema the policy names, strictest first', () => {
    const d = evaluateOperations(rules, [bare('salaries')], human)
    expect([d.decision, d.rule]).toEqual(['deny', 'hr-salaries'])
    expect(evaluateOperations(rules, [bare('jobs')], human).rule).toBe('ops-review')
    // Where no rule names the table's other schemas, the default schema's reading decides.
    expect(evaluateOperations(rules, [{...bare('jobs'), kind: 'select'}], human).decision).toBe('review')
    const d2 = evaluateOperations(rules, [{...bare('users'), kind: 'insert'}], human)
    // The default schema's reading meets the default (deny), stricter than the other readings' review.
    expect([d2.decision, d2.rule]).toEqual(['deny', null])
    const allowlist = parsePolicy(`
version: 1
defaults: {action: deny, unparseable: deny}
rules:
  - {name: hr-salaries, when: {tables: [hr.salaries]}, action: deny}
  - {name: public-reads, when: {tables: ["public.*"], kinds: [select]}, action: allow}
`)
    expect(evaluateOperations(allowlist, [bare('users')], human).decision).toBe('allow')
    expect(evaluateOperations(allowlist, [bare('salaries')], human).decision).toBe('deny')
    expect(evaluateOperations(rules, [bare('salaries')], human).masking.map((m) => m.name)).toEqual(['pay'])
  })

  it('leaves tables written with a schema where they were written', () => {
    const d = evaluateOperations(rules, [op('select', ['public.salaries'])], human)
    expect([d.decision, d.rule]).toEqual(['allow', 'public-reads'])
    expect(d.masking).toEqual([])
  })

  it('keeps a table written both ways in its schema and judges the bare one elsewhere too', () => {
    const both: Operation = {
      ...op('select', ['public.salaries']),
      unqualified: [['public.salaries', 'salaries', true]],
    }
    // The bare one may be hr.salaries, whose rule comes before the allow rule on public.*.
    expect(evaluateOperations(rules, [both], human).rule).toBe('hr-salaries')
    const allowFirst = parsePolicy(`
version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: public-reads, when: {tables: ["public.*"]}, action: allow}
  - {name: hr-salaries, when: {tables: [hr.salaries]}, action: deny}
`)
    // The first matching rule decides: public.salaries is named in every reading, so the allow rule holds.
    expect(evaluateOperations(allowFirst, [both], human).decision).toBe('allow')
    expect(evaluateOperations(allowFirst, [bare('salaries')], human).decision).toBe('deny')
    const denyFirst = parsePolicy(`
version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: hr-salaries, when: {tables: [hr.salaries]}, action: deny}
`)
    expect(evaluateOperations(denyFirst, [both], human).decision).toBe('deny')
    expect(evaluateOperations(denyFirst, [op('select', ['public.salaries'])], human).decision).toBe('allow')
  })

  it('does not widen globs whose schema is a wildcard or absent', () => {
    const any = parsePolicy(`
version: 1
defaults: {action: allow, unparseable: deny}
rules:
  - {name: secrets, when: {tables: ["*.secrets", "keys"]}, action: deny}
`)
    expect(evaluateOperations(any, [bare('secrets')], human).decision).toBe('deny')
    expect(evaluateOperations(any, [bare('keys')], human).decision).toBe('deny')
    expect(evaluateOperations(any, [bare('users')], human).decision).toBe('allow')
  })
})
