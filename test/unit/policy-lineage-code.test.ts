/**
 * User code a statement runs without naming a function (operators, casts, domains, triggers, rules,
 * policies) and temporary relations: what the catalog says decides, and what it cannot say fails closed.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {lineagePostgres} from '../../src/policy/lineage/postgres.js'
import type {CatalogView, LineageResult} from '../../src/policy/lineage/types.js'
import {loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {catalog as base} from './policy-lineage-fixture.js'

beforeAll(async () => {
  await loadPostgresParser()
})

/** The fixture catalog with user code: operator ###, casts to `wrap_text`, domain `checked`, hooks on orders. */
function withCode(over: {implicit?: boolean; unknown?: string; temporary?: string} = {}): CatalogView {
  return {
    ...base,
    temporary: (name) => name === over.temporary,
    code: (kind, name) => {
      if (`${kind}:${name}` === over.unknown) return undefined
      if (kind === 'operator') return name === '###'
      if (name === '*implicit*') return over.implicit === true
      return name === 'wrap_text' || name === 'checked'
    },
    // orders has a trigger (write) and a row security policy calling a user's function (read).
    relationCode: (schema, table) => schema === 'public' && table === 'orders',
  }
}

function first(r: LineageResult): {runsCode: boolean; opaque: boolean[] | null; unknown: boolean} {
  if (!r.ok) throw new Error(r.error)
  const s = r.statements[0]!
  return {
    runsCode: s.runsCode === true,
    opaque: s.columns?.map((c) => c.opaque) ?? null,
    unknown: s.readsUnknown,
  }
}

const run = (sql: string, catalog: CatalogView = withCode()) =>
  first(lineagePostgres(sql, catalog, {defaultSchema: 'public'}))

describe('statements that may run user code', () => {
  it.each([
    'select 1 ### 1',
    'select id from users where id ### 1 = 1',
    'select id from users order by id using ###',
    'select id from users where id ### any(array[1])',
    'select id from users where id = any(select 1 ### 1)',
    'select id operator(public.+) 1 from users',
    'select email::wrap_text from users',
    'select cast(email as checked) from users',
    'select wrap_text(email) from users',
    'select array[email]::checked[] from users',
    'insert into orders values (1, 1, null)',
    'insert into orders values (1, 1, null) returning card',
    'update orders set card = null where id = 1',
    'delete from orders where id = 1',
    'with x as (delete from orders where id = 1 returning id) select 1',
    'copy orders from stdin',
    'select card from orders',
    'create table c as select * from orders',
  ])('%s', (sql) => {
    const l = run(sql)
    expect(l.runsCode).toBe(true)
    expect(l.unknown).toBe(true)
    if (l.opaque !== null) expect(l.opaque.every(Boolean)).toBe(true)
  })

  it.each([
    'select id + 1, email || name, id between 1 and 2 from users',
    "select case id when 1 then email end, email::text, coalesce(email, '') from users",
    'select email from users where email like $1 order by id',
    'insert into users(id) values (1) returning email',
  ])('no user code: %s', (sql) => {
    const l = run(sql)
    expect(l.runsCode).toBe(false)
    expect(l.unknown).toBe(false)
  })

  it('counts what the catalog cannot tell as code, and every expression once an implicit cast runs user code', () => {
    expect(run('select id + 1 from users', withCode({unknown: 'operator:+'})).runsCode).toBe(true)
    expect(run('select id between 1 and 2 from users', withCode({unknown: 'operator:<='})).runsCode).toBe(
      true,
    )
    expect(run('select email from users', withCode({implicit: true})).runsCode).toBe(true)
    expect(run('select 1', withCode({implicit: true})).runsCode).toBe(false)
  })

  it('leaves catalogs without the hooks as they were', () => {
    expect(run('select 1 ### 1', base).runsCode).toBe(false)
  })
})

describe('temporary relations', () => {
  it('reports the names a statement may make in the temporary schema', () => {
    const r = lineagePostgres(
      'create temp view users as select 1 as email; create table pg_temp.t(a int); create temporary table u2 as select 1; select 1 into temp t3',
      withCode(),
      {defaultSchema: 'public'},
    )
    if (!r.ok) throw new Error(r.error)
    const names = r.effects.flat().flatMap((e) => (e.kind === 'temporary' ? [e.name] : []))
    expect(names).toEqual(['users', 't', 'u2', 't3'])
  })

  it('follows a rename of a temporary relation, and not of another', () => {
    const temp = withCode({temporary: 'tt'})
    const r = lineagePostgres('alter table tt rename to users; alter table orders rename to o2', temp, {
      defaultSchema: 'public',
    })
    if (!r.ok) throw new Error(r.error)
    expect(r.effects.flat().filter((e) => e.kind === 'temporary')).toEqual([
      {kind: 'temporary', name: 'users'},
    ])
  })

  it('resolves an unqualified name of one as unknown, before pg_catalog', () => {
    const temp = withCode({temporary: 'users'})
    expect(run('select id from users', temp)).toMatchObject({unknown: true, opaque: [true]})
    expect(run('select relname from pg_class', withCode({temporary: 'pg_class'}))).toMatchObject({
      unknown: true,
      opaque: [true],
    })
    expect(run('select id from public.users', temp)).toMatchObject({unknown: false, opaque: [false]})
  })
})
