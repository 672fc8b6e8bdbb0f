import {describe, expect, it} from 'vitest'

import {takesValues as mysqlTakesValues} from '../../src/proxy/mysql/review.js'
import {takesValues} from '../../src/proxy/postgres/review.js'
import {typed} from '../../src/proxy/postgres/wire.js'

// Whether a reviewed Parse takes its values later (at Bind), so that approving its text alone would cover any
// values. Untrusted bytes: a frame that cannot be read counts as taking values (fail closed).

function parse(sql: string, types = 0): Buffer {
  const body = [Buffer.from(`\0${sql}\0`), Buffer.from([0, types])]
  for (let i = 0; i < types; i++) body.push(Buffer.from([0, 0, 0, 23]))
  return typed(0x50, Buffer.concat(body))
}

describe('takesValues', () => {
  it.each([
    ['delete from items where id = $1', true],
    ['insert into items values ($1,$2)', true],
    ['select * from items where id=$10', true],
    ['$1', true],
    ['select $1::int', true],
    ["select 'x' || $2 from items", true],
    // `$n` in a literal, a quoted identifier, a comment or a dollar-quoted body is no placeholder.
    ["select 'costs $1' from items", false],
    ["select e'costs \\' $1' from items", false],
    ['select 1 -- $2', false],
    ['select 1 /* $1 /* $2 */ */', false],
    ['select 1 as "$1"', false],
    ['select $$ $1 $$ from items', false],
    ['select $tag$ $1 $tag$ from items', false],
    ["select 'a' from items where id = $1 -- '$2'", true],
    // Where the lexer is not certain of the text, any `$n` outside an identifier counts (fails closed).
    ["select 'costs \\' $1' from items", true],
    ["select 'unterminated $1", true],
    ['select 1 /* unterminated $1', true],
    ['select $1abc', true],
    ['prepare p as select 1 -- $1', true],
    ['delete from items where id = 1', false],
    ['select price$1 from items', false],
    ['select $$body$$ from items', false],
    ['select 1', false],
  ])('%s → %s', (sql, expected) => {
    expect(takesValues(parse(sql), sql)).toBe(expected)
  })

  it('declared parameter types count even without a placeholder in the text', () => {
    expect(takesValues(parse('select 1', 1), 'select 1')).toBe(true)
    expect(takesValues(parse('select 1', 0), 'select 1')).toBe(false)
  })

  it('a frame cut before its parameter count, or without its strings, counts as taking values', () => {
    const whole = parse('select 1')
    for (let cut = 5; cut < whole.length; cut++) {
      const frame = Buffer.from(whole.subarray(0, cut))
      frame.writeInt32BE(cut - 1, 1)
      expect(takesValues(frame, 'select 1'), `cut at ${cut}`).toBe(true)
    }
  })
})

describe('takesValues (MySQL)', () => {
  it.each([
    ['DELETE FROM items WHERE id = ?', true],
    ["SELECT 'a' FROM items WHERE id = ? -- '?'", true],
    // `?` in a literal, quoted text or a comment is no placeholder.
    ["SELECT 'costs ?' FROM items", false],
    ['SELECT `col?` FROM items', false],
    ['SELECT 1 # why?', false],
    ['SELECT 1 -- why?', false],
    ['SELECT 1 /* why? */', false],
    // Where the lexer is not certain of the text, any `?` counts (fails closed): the server runs an executable
    // comment's content, and a backslash's meaning depends on the SQL mode.
    ['SELECT 1 /*! + ? */', true],
    ["SELECT 'a\\' ?' FROM items", true],
    ["SELECT 'unterminated ?", true],
    ['PREPARE p FROM "SELECT 1 -- ?"', true],
    ['SELECT 1', false],
  ])('%s → %s', (sql, expected) => {
    expect(mysqlTakesValues(sql)).toBe(expected)
  })
})
