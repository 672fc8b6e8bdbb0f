import {beforeAll, describe, expect, it} from 'vitest'

import {Guard, loadParsers, type Policy} from '../../src/policy/index.js'
import {decideNotNull, needsNotNull} from '../../src/proxy/not-null.js'

const STRICT: Policy = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [{name: 'no-unbounded', when: {kinds: ['delete', 'update'], where: 'absent'}, action: 'deny'}],
  masking: [],
}
const OPEN: Policy = {...STRICT, rules: [{name: 'no-drop', when: {kinds: ['drop']}, action: 'deny'}]}
const ctx = {actor: 'human' as const, identity: 'ann', target: 'db'}

beforeAll(async () => {
  await loadParsers()
})

function decide(policy: Policy, sql: string) {
  const guard = new Guard(policy, 'postgres')
  return {guard, decision: guard.decide(sql, ctx, {defaultSchema: 'public'}).decision}
}

describe('NOT NULL facts for a WHERE that only drops NULLs', () => {
  it('asks only when the answer could change the decision', () => {
    const strict = decide(STRICT, 'delete from t where id is not null')
    expect(strict.decision.decision).toBe('allow')
    expect(needsNotNull(strict.guard, strict.decision, ctx)).toBe(true)
    const open = decide(OPEN, 'delete from t where id is not null')
    expect(needsNotNull(open.guard, open.decision, ctx)).toBe(false)
    const bounded = decide(STRICT, 'delete from t where id is not null and id = 3')
    expect(needsNotNull(bounded.guard, bounded.decision, ctx)).toBe(false)
  })

  it('decides with the catalog’s answer, and a failed lookup as NOT NULL (fail closed)', async () => {
    const {guard, decision} = decide(STRICT, 'delete from t where id is not null')
    const asked: unknown[] = []
    const notNull = await decideNotNull(guard, decision, ctx, (check) => {
      asked.push(check)
      return Promise.resolve(true)
    })
    expect(asked).toEqual([{schema: null, table: 't', columns: ['id']}])
    expect(notNull).toMatchObject({decision: 'deny', rule: 'no-unbounded'})
    expect(notNull.operations[0]?.where).toBe('absent')
    expect(await decideNotNull(guard, decision, ctx, () => Promise.resolve(false))).toMatchObject({
      decision: 'allow',
    })
    const failed = await decideNotNull(guard, decision, ctx, () => Promise.reject(new Error('no catalog')))
    expect(failed).toMatchObject({decision: 'deny', rule: 'no-unbounded'})
  })
})
