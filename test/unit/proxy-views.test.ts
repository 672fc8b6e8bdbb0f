import {beforeAll, describe, expect, it} from 'vitest'

import {Guard, loadParsers, type Decision, type Policy} from '../../src/policy/index.js'
import {SessionViews, type NamedRelation} from '../../src/proxy/views.js'

const POLICY: Policy = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [{name: 'secrets', when: {tables: ['*.secrets']}, action: 'review'}],
  masking: [],
}
const CTX = {actor: 'human', identity: 'alice', target: 't'} as const

/** The catalog: v_sec reads secrets (through v_inner); every other name is a table. */
const VIEWS: Record<string, string[]> = {
  v_sec: ['public.v_inner', 'public.secrets'],
  v_inner: ['public.secrets'],
}

function fixture(policy = POLICY): {
  views: SessionViews
  asked: NamedRelation[]
  decide: (sql: string) => Promise<Decision>
  fail: {on: boolean}
} {
  const asked: NamedRelation[] = []
  const fail = {on: false}
  const views = new SessionViews((r) => {
    asked.push(r)
    return fail.on ? Promise.reject(new Error('connection lost')) : Promise.resolve(VIEWS[r.name] ?? [])
  })
  const guard = new Guard(policy, 'postgres')
  // As the engine does: a statement that runs is told to the views, once decided.
  const decide = async (sql: string): Promise<Decision> => {
    const d = await views.expand(
      policy,
      guard,
      guard.decide(sql, CTX, {defaultSchema: 'public'}).decision,
      CTX,
    )
    if (d.decision === 'allow') views.ran(d)
    return d
  }
  return {views, asked, decide, fail}
}

beforeAll(async () => {
  await loadParsers()
})

describe('tables a view reads meet the rules on them', () => {
  it('asks once per table name, and a view again for each statement that names it', async () => {
    const f = fixture()
    expect((await f.decide('select * from v_sec')).rule).toBe('secrets')
    expect((await f.decide('select * from v_sec')).rule).toBe('secrets')
    expect((await f.decide('select * from notes')).decision).toBe('allow')
    expect((await f.decide('select * from notes')).decision).toBe('allow')
    // Another session may have redefined the view since: it is asked again; a table is not.
    expect(f.asked).toEqual([
      {schema: null, name: 'v_sec'},
      {schema: null, name: 'v_sec'},
      {schema: null, name: 'notes'},
    ])
    // A qualified name is asked in its schema.
    await f.decide('select * from rep.v_sec')
    expect(f.asked.at(-1)).toEqual({schema: 'rep', name: 'v_sec'})
  })

  it('asks again after DDL, which may have made a table a view', async () => {
    const f = fixture()
    await f.decide('select * from notes')
    await f.decide('create table other (id int)')
    await f.decide('select * from notes')
    expect(f.asked.filter((r) => r.name === 'notes')).toHaveLength(2)
  })

  it('refuses the statement when the catalog cannot answer, and asks again next time', async () => {
    const f = fixture()
    f.fail.on = true
    const d = await f.decide('select * from v_sec')
    expect(d.decision).toBe('deny')
    expect(d.message).toMatch(/could not see which tables the views .*connection lost/)
    f.fail.on = false
    expect((await f.decide('select * from v_sec')).rule).toBe('secrets')
  })

  it('asks nothing when no rule names tables, or the statement is denied already', async () => {
    const none = fixture({...POLICY, rules: [{name: 'no-drop', when: {kinds: ['drop']}, action: 'deny'}]})
    expect((await none.decide('select * from v_sec')).decision).toBe('allow')
    expect((await none.decide('drop table v_sec')).decision).toBe('deny')
    expect(none.asked).toEqual([])
  })
})
