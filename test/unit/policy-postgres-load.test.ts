import {describe, expect, it} from 'vitest'

import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'

describe('postgres analysis: loading the parser', () => {
  it('fails closed before the parser is loaded, then loads once however often it is asked', async () => {
    const before = analyzePostgres('SELECT 1', {defaultSchema: 'public'})
    expect(before).toEqual({
      ok: false,
      error: 'the Postgres parser is not loaded (loadPostgresParser() was not awaited)',
    })
    await Promise.all([loadPostgresParser(), loadPostgresParser()])
    await loadPostgresParser()
    const after = analyzePostgres('SELECT 1', {defaultSchema: 'public'})
    expect(after.ok && after.operations).toEqual([{kind: 'select', tables: [], functions: [], where: null}])
  })
})
