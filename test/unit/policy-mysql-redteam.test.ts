import {describe, expect, it} from 'vitest'
import {summarize} from '../fixtures/mysql/summarize.js'

/**
 * Texts a server would split differently once the session's sql_mode has NO_BACKSLASH_ESCAPES or
 * ANSI_QUOTES (set earlier in the same query, or in one the proxy cannot see into): refused.
 */
const MODE_DEPENDENT: ReadonlyArray<readonly [string, string]> = [
  ['string ends at the backslash without escapes', "SELECT '\\' ; DROP TABLE items; -- '"],
  ['hidden column list', "SELECT '\\' , code FROM vault -- '"],
  ['mode set in the same query', "SET sql_mode='NO_BACKSLASH_ESCAPES'; SELECT '\\'; DROP TABLE x; -- '"],
  ['ANSI_QUOTES identifier holding a backslash', 'SELECT 1 AS "\\"; DROP TABLE items; -- "'],
  ['statement ends before an unterminated tail', "SELECT '\\'; DROP TABLE items; SELECT '"],
  ['inside an executable comment', "/*!50000 SELECT '\\' ; DROP TABLE items; -- ' */"],
]

/** Backslashes every sql_mode reads the same way (or stops at before running anything): still read. */
const MODE_SAFE: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['escaped backslash', "SELECT 'C:\\\\dir' FROM t", ['select app.t']],
  ['backslash before a letter', 'SELECT \'a\\nb\', "x\\ty" FROM t', ['select app.t']],
  ['escaped quote in the only statement', "SELECT 'it\\'s' FROM t", ['select app.t']],
  ['LIKE escape', "DELETE FROM t WHERE name LIKE 'a\\_b%'", ['delete app.t where=present']],
]

describe('analyzeMysql: text that reads differently in another sql_mode', () => {
  it.each(MODE_DEPENDENT)('refuses %s', (_name, sql) => {
    expect(summarize(sql)).toEqual(['error'])
  })
  it.each(MODE_SAFE)('reads %s', (_name, sql, expected) => {
    expect(summarize(sql)).toEqual([...expected].sort())
  })
})

describe('analyzeMysql: non-ASCII outside quotes the connection charset could read as a space', () => {
  it.each([
    // a latin1 client's 0xA0 (a space there) reaches the guard as U+FFFD, not UTF-8
    ['not UTF-8', 'SELECT 1 FROM items\ufffdUNION\ufffdSELECT\ufffdv\ufffdFROM\ufffdsecrets'],
    // `à` is C3 A0: latin1 reads `Ã` and a space
    ['a character holding byte 0xA0', 'SELECT 1 FROM tà UNION SELECT 1'],
  ])('refuses %s', (_name, sql) => {
    expect(summarize(sql)).toEqual(['error'])
  })
  it('reads other non-ASCII names and any text inside quotes', () => {
    expect(summarize("SELECT 'à\ufffd' FROM café")).toEqual(['select app.café'])
  })
})
