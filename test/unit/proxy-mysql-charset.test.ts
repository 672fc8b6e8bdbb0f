import {describe, expect, it} from 'vitest'

import {charsetOfCollation, resultCharsetChange} from '../../src/proxy/mysql/charset.js'
import {MysqlSessionState} from '../../src/proxy/mysql/session-state.js'
import {SessionAudit} from '../../src/proxy/session-audit.js'

describe('resultCharsetChange', () => {
  it.each([
    ['SET NAMES latin1', 'latin1'],
    ['set names utf8mb4', 'utf8mb4'],
    ["SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", 'utf8mb4'],
    ['SET NAMES `gbk`;', 'gbk'],
    ['SET CHARACTER SET cp1251', 'cp1251'],
    ['SET CHARSET sjis', 'sjis'],
    ['SET character_set_results = latin1', 'latin1'],
    ["SET SESSION character_set_results='big5'", 'big5'],
    ['SET @@session.character_set_results := utf8mb3', 'utf8mb3'],
    ['SET character_set_results = NULL', null],
    ["SET character_set_results = 'NULL'", 'null'],
  ])('%s sets the result charset to %s', (sql, charset) => {
    expect(resultCharsetChange(sql, true)).toEqual({kind: 'set', charset})
  })

  it.each([
    'SET NAMES DEFAULT',
    'SET character_set_results = DEFAULT',
    'SET @x = 1, NAMES latin1',
    'SET NAMES latin1; SELECT 1',
    'SELECT 1; SET NAMES latin1',
    '/*!40101 SET NAMES utf8 */',
    "SET @a = 'names'",
    'SET NAMES',
    'EXECUTE s',
    "EXECUTE IMMEDIATE 'SET NAMES big5'",
  ])('%s makes it unknown (masking then fails closed)', (sql) => {
    expect(resultCharsetChange(sql, true)).toEqual({kind: 'set', charset: 'unknown'})
  })

  it.each([
    ['SET autocommit = 1', true],
    ['USE shop', true],
    ['SELECT names FROM t', false],
    ['UPDATE t SET names = 1 WHERE id = 2', false],
    ['CREATE TABLE t (a VARCHAR(3) CHARACTER SET latin1)', false],
  ])('%s leaves it alone', (sql, hasSet) => {
    expect(resultCharsetChange(sql, hasSet)).toEqual({kind: 'none'})
  })
})

describe('the session state', () => {
  const audit = new SessionAudit(
    {write: () => undefined, close: () => Promise.resolve()},
    {
      session_id: 's',
      identity: 'i',
      actor: 'human',
      target: 't',
      protocol: 'mysql',
      database: 'd',
      db_user: 'u',
      client_version: 'v',
      application_name: undefined,
    },
  )

  it("starts from the handshake's collation and returns to it on reset", () => {
    const state = new MysqlSessionState('d', 0, audit, charsetOfCollation(8))
    expect(state.resultCharset).toBe('latin1')
    state.resultCharset = 'gbk'
    state.reset()
    expect(state.resultCharset).toBe('latin1')
  })

  it('maps common collation ids and marks others unknown', () => {
    expect(charsetOfCollation(45)).toBe('utf8mb4')
    expect(charsetOfCollation(224)).toBe('utf8mb4')
    expect(charsetOfCollation(33)).toBe('utf8mb3')
    expect(charsetOfCollation(63)).toBe('binary')
    expect(charsetOfCollation(28)).toBe('unknown')
  })
})
