import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {PolicyLanguageError, parsePolicy, type PolicyIssue} from '../../src/policy/language.js'

function issuesOf(text: string): PolicyIssue[] {
  try {
    parsePolicy(text)
  } catch (err) {
    if (err instanceof PolicyLanguageError) return [...err.issues]
    throw err
  }
  throw new Error('expected the policy to be rejected')
}

describe('parsePolicy: valid documents', () => {
  it('reads the example policy of product.md with its masking section', () => {
    const policy = parsePolicy(readFileSync('examples/policy.yaml', 'utf8'))
    expect(policy.defaults).toEqual({action: 'allow', unparseable: 'deny'})
    expect(policy.rules.map((r) => r.name)).toEqual([
      'no-ddl',
      'unbounded-writes',
      'file-and-network-functions',
      'agent-writes-need-review',
    ])
    expect(policy.rules[1]!.when).toEqual({kinds: ['update', 'delete'], where: 'absent'})
    expect(policy.rules[0]!.message).toBe('Schema changes go through migrations.')
    expect(policy.masking[0]).toEqual({
      name: 'customer-pii',
      columns: ['public.users.email', '*.*.ssn'],
      style: 'partial',
    })
    expect(policy.masking[1]!.detect).toEqual(['email', 'credit_card', 'ssn', 'phone', 'iban', 'secret'])
  })

  it('reads the same policy written as JSON', () => {
    const json = JSON.stringify({
      version: 1,
      defaults: {action: 'review', unparseable: 'review'},
      rules: [{name: 'r', when: {tables: ['public.*'], identities: ['a@x.io']}, action: 'allow'}],
    })
    const policy = parsePolicy(json)
    expect(policy.defaults).toEqual({action: 'review', unparseable: 'review'})
    expect(policy.rules).toEqual([
      {name: 'r', when: {tables: ['public.*'], identities: ['a@x.io']}, action: 'allow'},
    ])
    expect(policy.masking).toEqual([])
  })

  it.each([
    ['no defaults at all', 'version: 1', {action: 'allow', unparseable: 'deny'}],
    ['only defaults.action', 'version: 1\ndefaults: {action: deny}', {action: 'deny', unparseable: 'deny'}],
    [
      'only defaults.unparseable',
      'version: 1\ndefaults: {unparseable: allow}',
      {action: 'allow', unparseable: 'allow'},
    ],
  ])('fills missing defaults: %s', (_name, text, defaults) => {
    expect(parsePolicy(text).defaults).toEqual(defaults)
  })

  it('accepts an empty when, which matches every statement', () => {
    const policy = parsePolicy('version: 1\nrules:\n  - {name: all, when: {}, action: deny}')
    expect(policy.rules[0]!.when).toEqual({})
  })

  it('reads `style: null` (a YAML null) as the null masking style', () => {
    const policy = parsePolicy('version: 1\nmasking:\n  - {name: m, columns: ["*.*.ssn"], style: null}')
    expect(policy.masking[0]!.style).toBe('null')
  })

  it('takes every condition a rule may have', () => {
    const text = `version: 1
rules:
  - name: all-conditions
    when:
      kinds: [select, copy]
      tables: [users, "billing.*"]
      functions: ["lo_*"]
      where: absent
      targets: [prod-pg]
      identities: [alice@example.com]
      groups: [dba]
      actors: [human, agent, ci]
    action: review
`
    expect(parsePolicy(text).rules[0]!.when).toEqual({
      kinds: ['select', 'copy'],
      tables: ['users', 'billing.*'],
      functions: ['lo_*'],
      where: 'absent',
      targets: ['prod-pg'],
      identities: ['alice@example.com'],
      groups: ['dba'],
      actors: ['human', 'agent', 'ci'],
    })
  })
})

const rule = (when: string, extra = 'action: deny'): string =>
  `version: 1\nrules:\n  - {name: a, when: {}, action: allow}\n  - {name: b, when: {}, action: allow}\n  - {name: c, when: ${when}, ${extra}}\n`

describe('parsePolicy: errors name the path and what is allowed there', () => {
  it.each<[string, string, PolicyIssue]>([
    [
      'unknown kind',
      rule('{kinds: [dlete]}'),
      {
        path: 'rules[2].when.kinds[0]',
        message: expect.stringMatching(
          /^unknown kind "dlete"; allowed: select, insert, update, delete, .*other$/,
        ),
      },
    ],
    [
      'unknown key in a rule',
      rule('{}', 'actoins: deny, action: deny'),
      {
        path: 'rules[2].actoins',
        message: 'unknown key "actoins"; allowed: name, when, action, message, approval',
      },
    ],
    [
      'unknown condition',
      rule('{kind: [drop]}'),
      {
        path: 'rules[2].when.kind',
        message:
          'unknown key "kind"; allowed: kinds, tables, functions, where, targets, identities, groups, actors',
      },
    ],
    [
      'unknown action',
      rule('{}', 'action: block'),
      {path: 'rules[2].action', message: 'unknown action "block"; allowed: allow, deny, review'},
    ],
    [
      'missing action',
      rule('{}', 'message: hi'),
      {path: 'rules[2].action', message: 'required: every rule needs an action (allow, deny, review)'},
    ],
    [
      'unknown actor',
      rule('{actors: [robot]}'),
      {path: 'rules[2].when.actors[0]', message: 'unknown actor "robot"; allowed: human, agent, ci'},
    ],
    [
      'where other than absent',
      rule('{where: present}'),
      {path: 'rules[2].when.where', message: 'unknown value "present"; allowed: absent'},
    ],
    [
      'a string where a list belongs',
      rule('{kinds: delete}'),
      {path: 'rules[2].when.kinds', message: 'expected a list, got a string ("delete") (write [delete])'},
    ],
    [
      'a number where a string belongs',
      rule('{}', 'action: deny, message: 42'),
      {path: 'rules[2].message', message: 'expected a string, got a number (42)'},
    ],
    [
      'an empty list',
      rule('{tables: []}'),
      {
        path: 'rules[2].when.tables',
        message: 'must list at least one value (an empty list would never match)',
      },
    ],
    [
      'a table glob with too many parts',
      rule('{tables: ["a.b.c"]}'),
      {
        path: 'rules[2].when.tables[0]',
        message: '"a.b.c" is not a valid glob; write "table" or "schema.table"',
      },
    ],
    [
      'a table glob with an empty part',
      rule('{tables: ["public."]}'),
      {
        path: 'rules[2].when.tables[0]',
        message: '"public." is not a valid glob; write "table" or "schema.table"',
      },
    ],
    [
      'a missing when',
      rule('{}', 'action: deny').replace('when: {}, action: deny', 'action: deny'),
      {path: 'rules[2].when', message: 'required; write "when: {}" to match every statement'},
    ],
  ])('%s', (_name, text, issue) => {
    expect(issuesOf(text)).toEqual([issue])
  })

  it.each<[string, string, PolicyIssue]>([
    ['version 2', 'version: 2', {path: 'version', message: 'unknown version 2; allowed: 1'}],
    ['no version', 'rules: []', {path: 'version', message: 'required: write "version: 1"'}],
    ['a version string', 'version: "1"', {path: 'version', message: 'unknown version "1"; allowed: 1'}],
    [
      'an unknown top-level key',
      'version: 1\nrulez: []',
      {path: 'rulez', message: 'unknown key "rulez"; allowed: version, defaults, rules, masking'},
    ],
    [
      'an unknown default',
      'version: 1\ndefaults: {action: allow, unparsable: deny}',
      {path: 'defaults.unparsable', message: 'unknown key "unparsable"; allowed: action, unparseable'},
    ],
    [
      'a bad unparseable default',
      'version: 1\ndefaults: {unparseable: maybe}',
      {path: 'defaults.unparseable', message: 'unknown action "maybe"; allowed: allow, deny, review'},
    ],
    ['a list as the document', '- 1', {path: '', message: 'expected a mapping, got a list'}],
    [
      'an empty document',
      '# nothing\n',
      {path: '', message: 'the document is empty; it needs at least "version: 1"'},
    ],
    [
      'duplicate rule names',
      'version: 1\nrules:\n  - {name: x, when: {}, action: deny}\n  - {name: x, when: {}, action: allow}',
      {path: 'rules[1].name', message: 'duplicate name "x" (already used by rules[0])'},
    ],
    [
      'a masking name reusing a rule name',
      'version: 1\nrules: [{name: x, when: {}, action: deny}]\nmasking: [{name: x, detect: [email], style: hash}]',
      {path: 'masking[0].name', message: 'duplicate name "x" (already used by rules[0])'},
    ],
    [
      'kinds on a masking rule',
      'version: 1\nmasking: [{name: m, detect: [email], style: hash, when: {kinds: [select]}}]',
      {
        path: 'masking[0].when.kinds',
        message: 'masking rules take no "kinds": they apply to whatever the statement returns',
      },
    ],
    [
      'an unknown classifier',
      'version: 1\nmasking: [{name: m, detect: [emails], style: hash}]',
      {
        path: 'masking[0].detect[0]',
        message: 'unknown classifier "emails"; allowed: email, credit_card, ssn, phone, iban, secret',
      },
    ],
    [
      'an unknown style',
      'version: 1\nmasking: [{name: m, detect: [email], style: blur}]',
      {path: 'masking[0].style', message: 'unknown style "blur"; allowed: redact, partial, hash, null'},
    ],
    [
      'a masking rule without columns or detect',
      'version: 1\nmasking: [{name: m, style: hash}]',
      {path: 'masking[0]', message: 'a masking rule needs "columns", "detect", or both'},
    ],
    [
      'a column glob that is not schema.table.column',
      'version: 1\nmasking: [{name: m, columns: ["users.email"], style: hash}]',
      {
        path: 'masking[0].columns[0]',
        message: '"users.email" is not a valid glob; write "schema.table.column"',
      },
    ],
    [
      'an empty rule name',
      'version: 1\nrules: [{name: "", when: {}, action: deny}]',
      {path: 'rules[0].name', message: 'must not be empty'},
    ],
  ])('%s', (_name, text, issue) => {
    expect(issuesOf(text)).toEqual([issue])
  })

  it('reports every problem at once, in document order', () => {
    const text = 'version: 1\nrules:\n  - {name: a, when: {kinds: [dlete, drop, trunc]}, action: nope}\n'
    expect(issuesOf(text).map((i) => i.path)).toEqual([
      'rules[0].when.kinds[0]',
      'rules[0].when.kinds[2]',
      'rules[0].action',
    ])
  })

  it.each([
    ['a YAML syntax error', 'version: 1\nrules: [\n  {name: a', /^syntax error at line \d+, column \d+: /],
    [
      'a duplicate key',
      'version: 1\nversion: 1\n',
      /^syntax error at line 2, column 1: Map keys must be unique/,
    ],
    ['a JSON syntax error', '{"version": 1,\n "rules": [}', /^syntax error at line 2, column \d+: /],
    ['several documents', 'version: 1\n---\nversion: 1\n', /^syntax error at line 2, column 1: /],
  ])('gives the line and column of %s', (_name, text, message) => {
    const issues = issuesOf(text)
    expect(issues[0]!.path).toBe('')
    expect(issues[0]!.message).toMatch(message)
  })

  it('puts the path and message of every issue in the error message', () => {
    expect(() => parsePolicy(rule('{kinds: [dlete]}'))).toThrow(
      /^rules\[2\]\.when\.kinds\[0\]: unknown kind "dlete"/,
    )
  })
})
