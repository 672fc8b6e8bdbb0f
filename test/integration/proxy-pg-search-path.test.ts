/**
 * Tables named without a schema through the proxy, with the real psql: the session's search_path decides
 * which table that is, so a rule on `hr.salaries` must hold whichever way the path was changed.
 */

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {startTestProxy, type TestProxy} from '../support/proxy.js'
import {psqlThrough, type PsqlRun} from '../support/psql.js'

const POLICY: Policy = {
  version: 1,
  defaults: {action: 'deny', unparseable: 'deny'},
  rules: [
    {name: 'no-salaries', when: {tables: ['hr.salaries']}, action: 'deny', message: 'Pay is private.'},
    {name: 'public-reads', when: {tables: ['public.*'], kinds: ['select']}, action: 'allow'},
    {name: 'settings', when: {kinds: ['set', 'show']}, action: 'allow'},
    {name: 'set-config', when: {functions: ['set_config']}, action: 'allow'},
  ],
  masking: [],
}

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_search_path',
    `create schema hr; create table hr.salaries(id int, amount int); insert into hr.salaries values (1, 987654);
     create table public.salaries(id int, amount int); insert into public.salaries values (1, 5);
     create table public.users(id int, name text); insert into public.users values (1, 'ann');`,
  )
  proxy = await startTestProxy(db.url, POLICY)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

describe('a deny rule on a schema-qualified table, and names without a schema', () => {
  it.each([
    ['SET search_path', 'set search_path = hr, public;\nselect * from salaries;\n', {}],
    ['set_config()', "select set_config('search_path', 'hr', false);\nselect amount from salaries;\n", {}],
    ['startup options', 'select amount from salaries;\n', {PGOPTIONS: '-c search_path=hr'}],
  ])('denies the bare name after %s: the hr table never reaches the client', async (_, input, env) => {
    const r = await psql(input, env)
    expect(r.stderr.match(/ERROR/g)).toHaveLength(1)
    expect(r.stderr).toContain('dbgate: denied by rule "no-salaries"')
    expect(r.stdout).not.toContain('987654')
  })

  it('lets a schema-qualified name in an allowed schema, and other bare names, through', async () => {
    const r = await psql('select amount from public.salaries;\nselect name from users;\n')
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/amount\s*\n-+\s*\n\s*5\s*\n/)
    expect(r.stdout).toContain('ann')
  })
})

function psql(input: string, env: Record<string, string> = {}): Promise<PsqlRun> {
  return psqlThrough(proxy.port, db.name, {input, env})
}
