import {describe, expect, it} from 'vitest'

import {viewTables, type RowsQuery} from '../../src/proxy/mysql/view-tables.js'

/** A catalog of views by `schema.name` (lower case), answering the lookup's queries as MariaDB would. */
function catalog(views: Record<string, string | null>): {ask: RowsQuery; asked: string[]} {
  const asked: string[] = []
  const ask: RowsQuery = (sql) => {
    asked.push(sql)
    const hex = [...sql.matchAll(/X'([0-9a-f]*)'/g)].map((m) => Buffer.from(m[1] ?? '', 'hex').toString())
    const rows: (string | null)[][] = []
    for (let i = 0; i + 1 < hex.length; i += 2) {
      const key = `${hex[i]}.${hex[i + 1]}`.toLowerCase()
      if (key in views) rows.push([hex[i] ?? '', hex[i + 1] ?? '', views[key] ?? null])
    }
    return Promise.resolve(rows)
  }
  return {ask, asked}
}

describe('the tables a MySQL view reads', () => {
  it('follows views of views, in their own schemas, and stops at tables', async () => {
    const {ask, asked} = catalog({
      'app.v_outer': 'select `app`.`v_inner`.`v` AS `v` from `app`.`v_inner`',
      'app.v_inner': 'select `hr`.`secrets`.`v` AS `v` from `hr`.`secrets` join `app`.`items`',
    })
    expect(await viewTables(ask, {schema: 'app', name: 'v_outer'})).toEqual([
      'app.v_inner',
      'hr.secrets',
      'app.items',
    ])
    // One query per level: the outer view, the inner one, then the tables (which are no views).
    expect(asked).toHaveLength(3)
  })

  it('answers nothing for a table', async () => {
    expect(await viewTables(catalog({}).ask, {schema: 'app', name: 'items'})).toEqual([])
  })

  it.each([
    ['a definition hidden from the user', null, /hidden from this user: grant it SHOW VIEW/],
    ['an empty definition', '', /hidden from this user/],
    ['a definition the analyzer cannot read', 'select from where (((', /could not be read/],
  ])('rejects %s, so the statement is denied', async (_, definition, error) => {
    const {ask} = catalog({'app.v': definition})
    await expect(viewTables(ask, {schema: 'app', name: 'v'})).rejects.toThrow(error)
  })

  it('gives up on views nested without end', async () => {
    const views: Record<string, string> = {}
    for (let i = 0; i < 100; i++) views[`app.v${i}`] = `select * from \`app\`.\`v${i + 1}\``
    await expect(viewTables(catalog(views).ask, {schema: 'app', name: 'v0'})).rejects.toThrow(
      /more than 64 views/,
    )
  })

  it('rejects when the query fails', async () => {
    const ask: RowsQuery = () => Promise.reject(new Error('connection lost'))
    await expect(viewTables(ask, {schema: 'app', name: 'v'})).rejects.toThrow('connection lost')
  })
})
