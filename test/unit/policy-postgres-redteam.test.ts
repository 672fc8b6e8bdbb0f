/**
 * Red-team lineage cases: writes nested where the top-level statement does not show them, and values
 * a built-in stores where a later statement reads them back.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {lineagePostgres} from '../../src/policy/lineage/postgres.js'
import {loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {catalog} from './policy-lineage-fixture.js'

const ctx = {defaultSchema: 'public'}

beforeAll(async () => {
  await loadPostgresParser()
})

/** `table<-reads` for every write effect of a query. */
function writes(sql: string): string[] {
  const r = lineagePostgres(sql, catalog, ctx)
  if (!r.ok) throw new Error(r.error)
  return r.effects.flat().flatMap((e) => (e.kind === 'write' ? [`${e.table}<-${e.reads.join(',')}`] : []))
}

describe('writes nested below the top-level statement', () => {
  it.each([
    'with w as (update orders set card = u.email from users u where u.id = orders.user_id returning 1) select * from w',
    'with w as (insert into orders (card) select email from users returning 1) select 1',
    'explain analyze update orders set card = u.email from users u where u.id = orders.user_id',
    'prepare p as insert into orders (card) select email from users',
    'select * from (with w as (update orders set card = (select email from users limit 1) where id = 1 returning id) select id from w) x',
    'with m as (merge into orders o using users u on o.user_id = u.id when matched then update set card = u.email returning 1) select 1',
  ])('%s taints orders', (sql) => {
    expect(writes(sql).some((w) => w.startsWith('public.orders<-') && w.includes('public.users.email'))).toBe(
      true,
    )
  })

  it('does not taint a table a nested write fills from constants only', () => {
    expect(writes("with w as (insert into orders (card) values ('x') returning 1) select 1")).toEqual([])
  })
})

describe('values stored by built-ins', () => {
  it.each([
    "select setval('s', ascii(substr(email, 1, 1))) from users",
    "select set_config('application_name', email, false) from users",
    "select pg_catalog.set_config('x.y', (select email from users limit 1), false)",
  ])('%s makes the session opaque', (sql) => {
    const r = lineagePostgres(sql, catalog, ctx)
    expect(r.ok && r.statements[0]?.runsCode).toBe(true)
  })

  it.each(["select setval('s', 42)", "select set_config('application_name', 'psql', false)"])(
    '%s with constants does not',
    (sql) => {
      const r = lineagePostgres(sql, catalog, ctx)
      expect(r.ok && r.statements[0]?.runsCode).not.toBe(true)
    },
  )

  it.each(["select currval('s')", 'select lastval()'])('%s is of unknown lineage', (sql) => {
    const r = lineagePostgres(sql, catalog, ctx)
    expect(r.ok && r.statements[0]?.readsUnknown).toBe(true)
  })
})
