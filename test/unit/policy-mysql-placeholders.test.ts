/**
 * The MySQL lexer counts a prepared statement's `?` placeholders: only those the server would bind, never a
 * `?` in a string, quoted text or an ordinary comment. Text the lexer is not certain of gives no count.
 */
import {describe, expect, it} from 'vitest'

import {scanMysql, ShapeScan} from '../../src/policy/index.js'

/** The number of placeholders the lexer finds, or null when it is not certain of the text. */
function placeholders(sql: string): number | null {
  const s = new ShapeScan()
  return scanMysql(sql, s) ? s.placeholders : null
}

describe('MySQL placeholder count', () => {
  it.each<[string, number | null]>([
    ['DELETE FROM items WHERE id = ?', 1],
    ['INSERT INTO items VALUES (?,?,?)', 3],
    ['SELECT ?+1', 1],
    ["SELECT 'a?' FROM items WHERE id = ?", 1],
    ['SELECT 1', 0],
    // A `?` in a literal, quoted text or an ordinary comment is no placeholder.
    ["SELECT 'costs ?' FROM items", 0],
    ["SELECT 'it''s ?' FROM items", 0],
    ['SELECT "what?" FROM items', 0],
    ['SELECT `col?` FROM items', 0],
    ['SELECT 1 # why?', 0],
    ['SELECT 1 -- why?', 0],
    ['SELECT 1 /* why? */', 0],
    ["SELECT x'3f' FROM items", 0],
    ['SELECT 1 # ?\nFROM items WHERE id = ?', 1],
    // Text the lexer is not certain of gives no count: the caller decides (an executable comment's `?` is read
    // by the server, a backslash's meaning depends on the SQL mode).
    ['SELECT 1 /*! + ? */', null],
    ['SELECT 1 /*M! + ? */', null],
    ["SELECT 'a\\'?' FROM items", null],
    ["SELECT 'unterminated ?", null],
    ['SELECT 1 --?', null],
  ])('%s → %s', (sql, expected) => {
    expect(placeholders(sql)).toBe(expected)
  })

  it('one scan object reused for the next statement starts its count again', () => {
    const s = new ShapeScan()
    expect(scanMysql('SELECT ?, ?', s)).toBe(true)
    expect(scanMysql("SELECT '?'", s)).toBe(true)
    expect(s.placeholders).toBe(0)
  })
})
