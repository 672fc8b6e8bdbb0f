import {describe, expect, it} from 'vitest'

import {Guard} from '../../src/policy/guard.js'
import {parsePolicy} from '../../src/policy/language.js'
import {normalizeMysql, normalizePostgres} from '../../src/policy/normalize/index.js'
import type {Analysis, AnalyzeContext, Dialect, EvalContext} from '../../src/policy/types.js'

describe('normalizePostgres', () => {
  it.each<[string, string]>([
    [
      'SELECT abalance FROM pgbench_accounts WHERE aid = 4823;',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 0;',
    ],
    ["select 'it''s', E'a\\nb', 1.5, 1., 2e-3", "select '', E'', 0.0, 0.0, 0e0"],
    ['select $1, $22 from t', 'select $1, $22 from t'],
    ["select n'x', b'101', X'1F'", "select n'', b'101', X'1F'"],
    ['select "Quoted ""id""" from "T"', 'select "Quoted ""id""" from "T"'],
    ["select $$ -- not a comment $$, $tag$ ' $tag$", "select $$ -- not a comment $$, $tag$ ' $tag$"],
    ['select 1 -- trailing comment', 'select 0 --'],
    ['select /* a /* nested */ comment */ 1', 'select /**/ 0'],
    ["select 'a'\n'b'", "select ''\n''"],
    ["select 'é', 'x;--/*'", "select '', ''"],
    ['select a$b, c1 from t', 'select a$b, c1 from t'],
    ['', ''],
  ])('%j → %j', (sql, key) => {
    expect(normalizePostgres(sql)).toBe(key)
  })

  it.each([
    ["select 'a\\'b'", 'a backslash in a standard string (standard_conforming_strings decides)'],
    ["select E'\\x41'", 'an unusual E escape'],
    ["select U&'\\0041'", 'a unicode-escaped string'],
    ['select U&"a"', 'a unicode-escaped identifier'],
    ["select 'open", 'an unterminated string'],
    ['select "open', 'an unterminated identifier'],
    ['select $$ open', 'an unterminated dollar quote'],
    ['select /* open', 'an unterminated comment'],
    ['select /* a /* b */', 'an unterminated nested comment'],
    ['select é', 'non-ASCII outside a literal'],
    ['select 0x1F', 'a hex integer (server versions differ)'],
    ['select 1_000', 'an integer with underscores'],
    ['select 1abc', 'a number glued to a name'],
    ['select 1e', 'an exponent without digits'],
    ['select .5', 'a number starting with a dot'],
    ['select 1..2', 'two dots'],
    ["select b'102'", 'a bad bit string'],
    ['select 1\u0000; drop table t', 'a NUL byte'],
    ["select '\ude00é'", 'a lone surrogate'],
    ['select \\x', 'a backslash outside a literal'],
    ['select `x`', 'a backtick'],
    ['select 1\u000b', 'a vertical tab'],
    ['PREPARE p AS SELECT 1', 'PREPARE'],
    ['execute p(1)', 'EXECUTE'],
    ['select $1abc', 'a parameter glued to a name'],
    ['select $a x', 'a dollar sign that opens no quote'],
  ])('%j is not keyed: %s', (sql) => {
    expect(normalizePostgres(sql)).toBeNull()
  })

  it('gives statements that differ only in literals the same key', () => {
    expect(normalizePostgres("update t set a = 'x' where id = 1")).toBe(
      normalizePostgres("update t set a = 'a much longer '' value' where id = 987654321"),
    )
  })

  it.each([
    ['select 1', 'select 1.0'],
    ['select 1', "select '1'"],
    ["select '1'", "select E'1'"],
    ['select 1 from t', 'select 1 from u'],
    ["select 'a' 'b'", "select 'a'\n'b'"],
    ['select 1', 'SELECT 1'],
    ['select $$a$$', 'select $$b$$'],
  ])('keeps %j and %j apart', (a, b) => {
    expect(normalizePostgres(a)).not.toBe(normalizePostgres(b))
  })
})

describe('normalizeMysql', () => {
  it.each<[string, string]>([
    ['SELECT c FROM sbtest1 WHERE id=5021', 'SELECT c FROM sbtest1 WHERE id=0'],
    ["select 'its', _utf8mb4'x', N'y', 1.5, 1e5", "select '', _utf8mb4'', N'', 0.0, 1e5"],
    ['select "str", `col`, @v, @@version from t', 'select "str", `col`, @v, @@version from t'],
    ["set @'var' = 1", "set @'var' = 0"],
    ["select x'1f', b'101'", "select x'1f', b'101'"],
    ['select 1 # note\n, 2', 'select 0 #\n, 0'],
    ['select 1 -- note\n, 2', 'select 0 -- \n, 0'],
    ['select /* note */ 1', 'select /**/ 0'],
    ['select /*+ MAX_EXECUTION_TIME(1000) */ 1', 'select /*+ MAX_EXECUTION_TIME(1000) */ 0'],
    ['select ? from t where a = ?', 'select ? from t where a = ?'],
    ["select 'it''s', _utf8mb4'''', ''", "select 'it''s', _utf8mb4'''', ''"],
  ])('%j → %j', (sql, key) => {
    expect(normalizeMysql(sql)).toBe(key)
  })

  it.each([
    ['select /*! 1 */', 'an executable comment'],
    ['select /*!50000 1 */', 'a versioned executable comment'],
    ['select /*M! 1 */', 'a MariaDB executable comment'],
    ["select 'a\\'b'", 'a backslash escape'],
    ['select "a\\"b"', 'a backslash in double quotes'],
    ['select 1--1', '-- without a following space'],
    ['select 1 --', '-- at the end'],
    ['select 1 */', 'a comment end outside a comment'],
    ['select /* a /* b */', 'a comment opening inside a comment'],
    ['select 1 /* open', 'an unterminated comment'],
    ["select 'open", 'an unterminated string'],
    ['select `open', 'an unterminated identifier'],
    ['select 1abc', 'a name starting with digits'],
    ['select 0x1f', 'a hex number'],
    ['select .5', 'a number starting with a dot'],
    ['select # a\rb', 'a carriage return inside a comment'],
    ['select é', 'non-ASCII outside a literal'],
    ["select x'1g'", 'a bad hex string'],
    ["PREPARE s FROM 'DELETE FROM t'", 'PREPARE'],
    ['EXECUTE s', 'EXECUTE'],
    ['select 1\u0000', 'a NUL byte'],
  ])('%j is not keyed: %s', (sql) => {
    expect(normalizeMysql(sql)).toBeNull()
  })

  it.each([
    ['select "a"', 'select "b"'],
    ["select 'a'", 'select "a"'],
    ['select 1', "select '1'"],
  ])('keeps %j and %j apart', (a, b) => {
    expect(normalizeMysql(a)).not.toBe(normalizeMysql(b))
  })
})

/** An analyzer that reads a tiny made-up language, so the cache's bookkeeping can be tested alone. */
function fakeAnalyzer(calls: string[]) {
  return (sql: string, _d: Dialect, actx: AnalyzeContext): Analysis => {
    calls.push(sql)
    if (sql.startsWith('bad')) return {ok: false, error: 'cannot read'}
    const literalSensitive = sql.includes('where 1')
    return {
      ok: true,
      operations: [
        {
          kind: sql.startsWith('drop') ? 'drop' : 'select',
          tables: [`${actx.defaultSchema}.t`],
          functions: [],
          where: null,
        },
      ],
      statements: 1,
      prepares: [],
      deallocates: [],
      literalSensitive,
    }
  }
}

const policy = parsePolicy(`version: 1
rules:
  - {name: no-drop, when: {kinds: [drop]}, action: deny}
  - {name: agents, when: {actors: [agent]}, action: review}
  - {name: prod, when: {targets: [prod]}, action: review}
  - {name: alice, when: {identities: [alice]}, action: review}
  - {name: dba, when: {groups: [dba]}, action: review}
  - {name: other-schema, when: {tables: [other.t]}, action: deny}
`)
const human: EvalContext = {actor: 'human'}
const pub: AnalyzeContext = {defaultSchema: 'public'}

describe('Guard decision cache', () => {
  it('shares one entry between statements that differ only in literals', () => {
    const calls: string[] = []
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer(calls)})
    guard.decide('select * from t where id = 1', human, pub)
    const second = guard.decide('select * from t where id = 2', human, pub)
    expect(calls).toEqual(['select * from t where id = 1'])
    expect(second.decision.decision).toBe('allow')
    expect(guard.stats).toEqual({hits: 1, misses: 1, bypassed: 0})
  })

  it.each<[string, EvalContext, AnalyzeContext]>([
    ['actor', {actor: 'agent'}, pub],
    ['target', {actor: 'human', target: 'prod'}, pub],
    ['identity', {actor: 'human', identity: 'alice'}, pub],
    ['groups', {actor: 'human', groups: ['dba']}, pub],
    ['default schema', human, {defaultSchema: 'other'}],
  ])('keys on the %s', (_name, ctx, actx) => {
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer([])})
    expect(guard.decide('select 1', human, pub).decision.decision).toBe('allow')
    const other = guard.decide('select 2', ctx, actx)
    expect(other.decision.decision).not.toBe('allow')
    expect(guard.stats.hits).toBe(0)
  })

  it('keeps contexts apart whose fields would run together', () => {
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer([])})
    guard.decide('select 1', {actor: 'human', groups: ['a,b']}, pub)
    guard.decide('select 1', {actor: 'human', groups: ['a', 'b']}, pub)
    guard.decide('select 1', {actor: 'human', identity: 'x', target: undefined}, pub)
    guard.decide('select 1', {actor: 'human', identity: undefined, target: 'x'}, pub)
    guard.decide('select 1', {actor: 'human', identity: '', groups: []}, pub)
    guard.decide('select 1', {actor: 'human'}, pub)
    expect(guard.stats).toEqual({hits: 0, misses: 6, bypassed: 0})
  })

  it('never shares a literal-sensitive analysis: its shape always takes the cold path', () => {
    const calls: string[] = []
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer(calls)})
    guard.decide('select * from t where 1 = 1', human, pub)
    guard.decide('select * from t where 1 = 1', human, pub)
    guard.decide('select * from t where 2 = 1', human, pub)
    expect(calls).toHaveLength(3)
    expect(guard.stats).toEqual({hits: 0, misses: 1, bypassed: 2})
  })

  it('does not cache unparseable statements', () => {
    const calls: string[] = []
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer(calls)})
    expect(guard.decide('bad 1', human, pub).decision.unparseable).toBe(true)
    guard.decide('bad 2', human, pub)
    expect(calls).toHaveLength(2)
    expect(guard.cacheEntries).toBe(0)
  })

  it('takes the cold path when the lexer is not certain', () => {
    const calls: string[] = []
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer(calls)})
    guard.decide("select 'a\\'", human, pub)
    guard.decide("select 'a\\'", human, pub)
    expect(calls).toHaveLength(2)
    expect(guard.stats.bypassed).toBe(2)
  })

  it('evicts the least recently used entry when full', () => {
    const calls: string[] = []
    const guard = new Guard(policy, 'postgres', {cacheSize: 2, analyzer: fakeAnalyzer(calls)})
    guard.decide('select a', human, pub)
    guard.decide('select b', human, pub)
    guard.decide('select a', human, pub) // a is now the most recent
    guard.decide('select c', human, pub) // evicts b
    guard.decide('select a', human, pub)
    guard.decide('select b', human, pub)
    expect(calls).toEqual(['select a', 'select b', 'select c', 'select b'])
    expect(guard.cacheEntries).toBe(2)
  })

  it('is disabled by cacheSize 0', () => {
    const calls: string[] = []
    const guard = new Guard(policy, 'postgres', {cacheSize: 0, analyzer: fakeAnalyzer(calls)})
    guard.decide('select 1', human, pub)
    guard.decide('select 1', human, pub)
    expect(calls).toHaveLength(2)
  })

  it('hands out cached verdicts that cannot be changed by one consumer for the next', () => {
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer([])})
    guard.decide('drop table t', human, pub)
    const hit = guard.decide('drop table t', human, pub)
    expect(Object.isFrozen(hit.decision)).toBe(true)
    expect(Object.isFrozen(hit.decision.operations[0]!.tables)).toBe(true)
  })

  it('decides protocol-level operations without SQL', () => {
    const guard = new Guard(policy, 'postgres', {analyzer: fakeAnalyzer([])})
    const d = guard.decideOperations([{kind: 'drop', tables: [], functions: [], where: null}], human)
    expect(d).toMatchObject({decision: 'deny', rule: 'no-drop'})
  })
})
