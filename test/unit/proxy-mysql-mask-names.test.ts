import {describe, expect, it} from 'vitest'

import type {MaskingRule} from '../../src/policy/index.js'
import {mysqlColumnMatch} from '../../src/proxy/mysql/mask-names.js'

const rule = (...columns: string[]): MaskingRule => ({name: 'r', columns, style: 'redact'})

describe('MySQL masking name rules', () => {
  const exact = rule('shop.users.Email', 'shop.*.ssn', 'Crm.Leads.*')
  it.each([
    // [column, lower_case_table_names=0, otherwise]
    ['shop.users.email', true, true],
    ['shop.users.EMAIL', true, true],
    ['shop.Users.email', false, true],
    ['SHOP.users.email', false, true],
    ['shop.Orders.SSN', true, true],
    ['Crm.Leads.phone', true, true],
    ['crm.leads.phone', false, true],
    ['shop.users.name', false, false],
    // Another shape than three dotted parts (a dot in a quoted name): compared without case.
    ['shop.my.table.Email', false, false],
    ['shop.users', false, false],
  ])('%s', (column, caseSensitive, folded) => {
    expect(mysqlColumnMatch(true, new Set())(exact, column)).toBe(caseSensitive)
    expect(mysqlColumnMatch(false, new Set())(exact, column)).toBe(folded)
  })

  it('matches rules the proxy made without case', () => {
    const taint = rule('shop.stash.*')
    expect(mysqlColumnMatch(true, new Set([taint]))(taint, 'shop.Stash.x')).toBe(true)
    expect(mysqlColumnMatch(true, new Set())(taint, 'shop.Stash.x')).toBe(false)
  })
})
