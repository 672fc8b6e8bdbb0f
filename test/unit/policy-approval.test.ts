import {describe, expect, it} from 'vitest'

import {
  approvalSettingsOf,
  DEFAULT_APPROVAL,
  parsePolicy,
  PolicyLanguageError,
} from '../../src/policy/index.js'

const doc = (approval: string, action = 'review'): string => `
version: 1
rules:
  - name: r
    when: {kinds: [delete]}
    action: ${action}
    approval: ${approval}
`

function issues(text: string): string[] {
  try {
    parsePolicy(text)
  } catch (err) {
    if (err instanceof PolicyLanguageError) return err.issues.map((i) => `${i.path}: ${i.message}`)
    throw err
  }
  return []
}

describe('policy language: approval settings', () => {
  it('fills defaults and reads durations', () => {
    const p = parsePolicy(
      doc('{approvers: 2, groups: [dba], mode: hold, uses: 3, window: 2h, expires: 90s, any_literals: true}'),
    )
    expect(approvalSettingsOf(p, 'r')).toEqual({
      approvers: 2,
      groups: ['dba'],
      mode: 'hold',
      uses: 3,
      window: 7200,
      expires: 90,
      anyLiterals: true,
    })
    expect(approvalSettingsOf(parsePolicy(doc('{mode: hold}')), 'r')).toEqual({
      ...DEFAULT_APPROVAL,
      mode: 'hold',
    })
    expect(approvalSettingsOf(p, null)).toEqual(DEFAULT_APPROVAL)
  })

  it('reports bad settings with their path', () => {
    expect(issues(doc('{mode: wait}'))).toEqual([
      'rules[0].approval.mode: unknown mode "wait"; allowed: hold, reject',
    ])
    expect(issues(doc('{window: soon}'))[0]).toContain('rules[0].approval.window: "soon" is not a duration')
    expect(issues(doc('{approvers: 0}'))[0]).toContain('rules[0].approval.approvers')
    expect(issues(doc('{who: [x]}'))[0]).toContain('unknown key "who"; allowed: approvers, groups, mode')
    expect(issues(doc('{uses: 2}', 'deny'))).toEqual([
      'rules[0].approval: only a rule with "action: review" takes approval settings',
    ])
  })
})
