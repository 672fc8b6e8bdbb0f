import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {lineageMysql} from '../../src/policy/lineage/mysql.js'
import {analyzeMysql} from '../../src/policy/mysql/analyze.js'
import {ctx} from '../fixtures/mysql/summarize.js'

/** Every answer is ok, or a one-line error that quotes none of the input beyond a keyword. */
function expectWellFormed(sql: string): void {
  const a = analyzeMysql(sql, ctx)
  if (a.ok) {
    expect(a.statements).toBeGreaterThanOrEqual(0)
  } else {
    expect(a.error).toMatch(/^[^\n]{1,200}$/)
  }
}

const MALFORMED: ReadonlyArray<readonly [string, string]> = [
  ['garbage', 'asdf qwer zxcv'],
  ['punctuation soup', ')(*&^%$#@!'],
  ['unterminated single quote', "SELECT 'abc"],
  ['unterminated double quote', 'SELECT "abc'],
  ['unterminated backtick', 'SELECT `abc'],
  ['quote ending in backslash', "SELECT 'abc\\"],
  ['unterminated comment', 'SELECT 1 /* never ends'],
  ['unterminated executable comment', 'SELECT 1 /*! , 2'],
  ['lone comment opener', '/*'],
  ['lone executable opener', '/*!'],
  ['NUL byte', 'SELECT 1\0; DROP TABLE x'],
  ['NUL in a comment', 'SELECT 1 /* \0 */'],
  ['control character', 'SELECT \u0001 1'],
  ['lone surrogate', 'SELECT \ud800'],
  ['emoji name', 'SELECT * FROM 😀'],
  ['only an operator', '--'],
  ['bad hex literal', "SELECT X'zz'"],
  ['empty variable', 'SELECT @'],
  ['deep nesting', `SELECT ${'('.repeat(3000)}1${')'.repeat(3000)}`],
  ['many statements', 'SELECT 1;'.repeat(500)],
  ['keyword only', 'SELECT'],
  ['dangling comma', 'SELECT 1,'],
]

describe('analyzeMysql: malformed input never throws', () => {
  it.each(MALFORMED)('%s', (_name, sql) => {
    expectWellFormed(sql)
  })

  it('refuses what it cannot read', () => {
    for (const [name, sql] of MALFORMED.filter(
      ([n]) => !['emoji name', 'many statements', 'lone surrogate', 'only an operator'].includes(n),
    )) {
      expect(analyzeMysql(sql, ctx).ok, name).toBe(false)
    }
  })

  it('refuses parentheses nested past the limit before the parser reads them, and reads those within it', () => {
    // node-sql-parser's time grows exponentially with this form (7.7 s at 22 levels): 40 levels would
    // block the proxy for hours if it reached the parser.
    const nested = (n: number): string => {
      let q = 'SELECT email FROM users LIMIT 1'
      for (let i = 0; i < n; i++) q = `SELECT (${q}) AS x`
      return q
    }
    const deep = analyzeMysql(`INSERT INTO orders (id, total) SELECT 1, (${nested(40)})`, ctx)
    expect(deep).toMatchObject({ok: false, error: expect.stringContaining('nested more than 12 levels deep')})
    expect(analyzeMysql(nested(4), ctx).ok).toBe(true)
    // Parentheses inside strings and quoted names do not count.
    expect(analyzeMysql(`SELECT '${'('.repeat(40)}' AS a, \`${'('.repeat(40)}\` FROM t`, ctx).ok).toBe(true)
    const l = lineageMysql(nested(40), {columns: () => undefined}, 'app')
    expect(l.ok && l.statements[0]).toMatchObject({columns: null, readsUnknown: true})
  })

  it('empty input is an empty query', () => {
    expect(analyzeMysql('', ctx)).toMatchObject({ok: true, statements: 0, operations: []})
    expect(analyzeMysql('   \n\t ', ctx)).toMatchObject({ok: true, statements: 0})
  })

  it('a 1 MB query is analyzed or refused, never thrown', () => {
    const rows = Array.from({length: 40_000}, (_, i) => `(${i},'name ${i}',${i}.5)`).join(',')
    const bulk = `INSERT INTO t VALUES ${rows}`
    expect(bulk.length).toBeGreaterThan(1_000_000)
    expect(analyzeMysql(bulk.slice(0, 1 << 20), ctx).ok).toBe(false)
    const fits = `INSERT INTO t VALUES ${rows.slice(0, 900_000).replace(/,\([^)]*$/, '')}`
    expect(analyzeMysql(fits, ctx)).toMatchObject({ok: true, statements: 1})
    expect(analyzeMysql('x'.repeat(2 << 20), ctx)).toEqual({
      ok: false,
      error: 'query too long to analyze (over 1 MiB)',
    })
  })

  it('arbitrary strings never throw', () => {
    fc.assert(
      fc.property(fc.string({unit: 'binary', maxLength: 200}), (s) => {
        expectWellFormed(s)
      }),
      {numRuns: 300},
    )
  })

  it('arbitrary mixes of SQL fragments never throw', () => {
    const fragment = fc.constantFrom(
      'SELECT',
      'FROM',
      'WHERE',
      'DELETE',
      'SET',
      'SHOW',
      'NAMES',
      ' ',
      ';',
      ',',
      '(',
      ')',
      "'",
      '"',
      '`',
      '\\',
      '--',
      '-- ',
      '#',
      '/*',
      '*/',
      '/*!',
      '/*!50000',
      '/*M!',
      '\n',
      'users',
      '1',
      '@a',
      '@@x',
      '=',
      '?',
    )
    fc.assert(
      fc.property(fc.array(fragment, {maxLength: 40}), (parts) => {
        expectWellFormed(parts.join(''))
      }),
      {numRuns: 300},
    )
  })
})
