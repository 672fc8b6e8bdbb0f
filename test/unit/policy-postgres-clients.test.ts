import {readdirSync, readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import type {Operation} from '../../src/policy/types.js'

const ctx = {defaultSchema: 'public'}
const fixtures = fileURLToPath(new URL('../fixtures/postgres/', import.meta.url))

function read(dir: string): [string, string][] {
  return readdirSync(`${fixtures}${dir}`)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => [f, readFileSync(`${fixtures}${dir}/${f}`, 'utf8')])
}

beforeAll(async () => {
  await loadPostgresParser()
})

describe('postgres analysis: queries psql sends for meta-commands', () => {
  const queries = read('psql')
  const catalogQueries = queries.filter(([f]) => !f.startsWith('copy-'))

  it('has the captured queries', () => {
    expect(catalogQueries.length).toBeGreaterThanOrEqual(40)
  })

  it.each(catalogQueries)('%s is a select of the catalog only', (_file, sql) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok).toBe(true)
    if (!a.ok) return
    expect(a.statements).toBe(1)
    expect(a.operations.map((o) => o.kind)).toEqual(['select'])
    for (const t of a.operations[0]?.tables ?? []) expect(t).toMatch(/^pg_catalog\.pg_/)
  })

  it.each([
    [
      'dt.sql',
      ['pg_catalog.pg_class', 'pg_catalog.pg_namespace', 'pg_catalog.pg_am'],
      'pg_catalog.pg_table_is_visible',
    ],
    ['l.sql', ['pg_catalog.pg_database'], 'pg_catalog.pg_encoding_to_char'],
    ['du.sql', ['pg_catalog.pg_auth_members', 'pg_catalog.pg_roles'], undefined],
    ['df.sql', ['pg_catalog.pg_proc', 'pg_catalog.pg_namespace'], 'pg_catalog.pg_function_is_visible'],
    ['d-users-1.sql', ['pg_catalog.pg_class', 'pg_catalog.pg_namespace'], 'pg_catalog.pg_table_is_visible'],
  ])('%s reads the right catalog tables', (file, tables, fn) => {
    const sql = queries.find(([f]) => f === file)?.[1] ?? ''
    const a = analyzePostgres(sql, ctx)
    expect(a.ok && a.operations[0]?.tables).toEqual(tables)
    if (fn) expect(a.ok && a.operations[0]?.functions).toContain(fn)
  })

  /** `\copy users ...` names users without a schema: the search_path decides which it is. */
  const unqualified = [['public.users', 'users', false]]

  it.each([
    [
      'copy-to-stdout.sql',
      [
        {kind: 'copy', tables: ['public.users'], functions: [], where: null, unqualified},
        {kind: 'select', tables: ['public.users'], functions: [], where: null, unqualified},
      ],
    ],
    [
      'copy-from-stdin.sql',
      [
        {kind: 'copy', tables: ['public.users'], functions: [], where: null, unqualified},
        {kind: 'insert', tables: ['public.users'], functions: [], where: null, unqualified},
      ],
    ],
    [
      'copy-query-to-stdout.sql',
      [
        {kind: 'copy', tables: ['public.users'], functions: [], where: null, unqualified},
        {kind: 'select', tables: ['public.users'], functions: [], where: null, unqualified},
      ],
    ],
  ])('\\copy sends %s', (file, expected) => {
    const sql = queries.find(([f]) => f === file)?.[1] ?? ''
    const a = analyzePostgres(sql, ctx)
    expect(a.ok && a.operations).toEqual(expected)
  })
})

describe('postgres analysis: queries pg_dump sends', () => {
  const queries = read('pg_dump').filter(([f]) => /^\d+\.sql$/.test(f))

  it('has at least 30 distinct captured queries', () => {
    expect(new Set(queries.map(([, sql]) => sql)).size).toBeGreaterThanOrEqual(30)
  })

  it('parses every one, in order, with EXECUTE resolved from the earlier PREPARE', () => {
    const prepared = new Map<string, readonly Operation[]>()
    const kinds = new Set<string>()
    for (const [file, sql] of queries) {
      const a = analyzePostgres(sql, {defaultSchema: 'public', prepared})
      expect(a.ok, `${file}: ${a.ok ? '' : a.error}`).toBe(true)
      if (!a.ok) continue
      for (const p of a.prepares) prepared.set(p.name, p.operations)
      for (const o of a.operations) kinds.add(o.kind)
      // pg_dump only reads: nothing it sends may look like a write.
      for (const o of a.operations)
        expect(['select', 'set', 'transaction', 'lock', 'prepare', 'execute', 'copy']).toContain(o.kind)
    }
    expect([...kinds].sort()).toEqual(['copy', 'execute', 'lock', 'prepare', 'select', 'set', 'transaction'])
    expect([...prepared.keys()].sort()).toEqual([
      'dumpdomain',
      'dumpenumtype',
      'dumpfunc',
      'getcolumnacls',
      'getdomainconstraints',
    ])
  })

  it('reads the table locks and data copies of the dumped tables', () => {
    const tablesOf = (kind: string): string[] =>
      queries.flatMap(([, sql]) => {
        const a = analyzePostgres(sql, {
          defaultSchema: 'public',
          prepared: new Map([
            ['dumpfunc', []],
            ['dumpdomain', []],
            ['dumpenumtype', []],
            ['getcolumnacls', []],
            ['getdomainconstraints', []],
          ]),
        })
        return a.ok ? a.operations.filter((o) => o.kind === kind).flatMap((o) => o.tables) : []
      })
    expect(tablesOf('lock')).toEqual(['public.users', 'app.orders'])
    expect(tablesOf('copy')).toEqual(['app.orders', 'public.users'])
  })

  it('parses the restore script pg_dump writes, as one query', () => {
    const sql = read('pg_dump').find(([f]) => f === 'restore-script.sql')?.[1] ?? ''
    const a = analyzePostgres(sql, ctx)
    expect(a.ok).toBe(true)
    if (!a.ok) return
    expect(a.statements).toBe(55)
    const kinds = a.operations.map((o) => o.kind)
    expect(new Set(kinds)).toEqual(
      new Set(['set', 'select', 'create', 'alter', 'comment', 'copy', 'insert', 'grant', 'other']),
    )
    expect(a.operations.find((o) => o.kind === 'grant')?.tables).toEqual(['public.users'])
    expect(a.operations.find((o) => o.kind === 'other')?.tables).toEqual(['app.mv'])
  })
})

/** Statements shaped like what node-postgres, Prisma, TypeORM, SQLAlchemy and friends send. */
const ORM: [string, string[]][] = [
  [
    'INSERT INTO "public"."User" ("email","name") VALUES ($1,$2) RETURNING "public"."User"."id", "public"."User"."email"',
    ['insert|public.User||'],
  ],
  [
    'INSERT INTO users (email) VALUES ($1) ON CONFLICT (email) DO UPDATE SET updated_at = now() RETURNING id',
    // The DO UPDATE is an update of the rows the given values collide with.
    ['insert|public.users|now|', 'update|public.users||present'],
  ],
  ['INSERT INTO users (email) VALUES ($1) ON CONFLICT DO NOTHING', ['insert|public.users||']],
  [
    'SELECT "t0"."id", "t0"."createdAt" FROM "public"."Post" AS "t0" WHERE "t0"."authorId" = ANY($1) ORDER BY "t0"."id" ASC LIMIT $2 OFFSET $3',
    ['select|public.Post||'],
  ],
  ['SELECT * FROM users WHERE id = ANY($1::int[])', ['select|public.users||']],
  [
    'SELECT COUNT(*) AS "_count" FROM (SELECT "public"."Post"."id" FROM "public"."Post" WHERE 1=1 OFFSET $1) AS "sub"',
    ['select|public.Post|count|'],
  ],
  [
    'UPDATE "public"."User" SET "name" = $1 WHERE ("public"."User"."id" = $2 AND 1=1) RETURNING "public"."User"."id"',
    ['update|public.User||present'],
  ],
  [
    'DELETE FROM "public"."Session" WHERE "public"."Session"."expiresAt" < $1',
    ['delete|public.Session||present'],
  ],
  ['DELETE FROM "public"."Tag"', ['delete|public.Tag||absent']],
  [
    'SELECT "User"."id" AS "User_id", "User"."firstName" AS "User_firstName" FROM "user" "User" WHERE "User"."id" IN ($1, $2)',
    ['select|public.user||'],
  ],
  [
    'SELECT "Post".* FROM "post" "Post" LEFT JOIN "user" "author" ON "author"."id"="Post"."authorId" WHERE ("Post"."title" ILIKE $1)',
    ['select|public.post,public.user||'],
  ],
  [
    'INSERT INTO "user"("firstName", "lastName", "age") VALUES ($1, $2, DEFAULT) RETURNING "id", "age"',
    ['insert|public.user||'],
  ],
  ['SELECT users.id, users.name FROM users WHERE users.name = $1', ['select|public.users||']],
  [
    'SELECT anon_1.id FROM (SELECT users.id AS id FROM users WHERE users.id > $1) AS anon_1 LIMIT $2',
    ['select|public.users||'],
  ],
  [
    'SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relname = $1',
    ['select|pg_catalog.pg_class,pg_catalog.pg_namespace||'],
  ],
  [
    'SELECT EXISTS (SELECT 1 FROM "_prisma_migrations" WHERE "migration_name" = $1)',
    ['select|public._prisma_migrations||'],
  ],
  ['SELECT pg_advisory_lock(72707369)', ['select||pg_advisory_lock|']],
  [
    'WITH "cte" AS (SELECT id FROM orders WHERE status = $1) UPDATE orders SET status = $2 FROM "cte" WHERE orders.id = "cte".id',
    ['update|public.orders||present'],
  ],
  ['SELECT set_config($1, $2, false)', ['select||set_config|']],
  ['SELECT version()', ['select||version|']],
  ['SELECT current_database(), current_schema(), current_user', ['select||current_database,current_schema|']],
]

describe('postgres analysis: ORM-style queries with placeholders', () => {
  it.each(ORM)('%s', (sql, expected) => {
    const a = analyzePostgres(sql, ctx)
    expect(a.ok).toBe(true)
    if (!a.ok) return
    const got = a.operations.map((o) =>
      [o.kind, o.tables.join(','), o.functions.join(','), o.where ?? ''].join('|'),
    )
    expect(got).toEqual(expected)
    // Placeholders are structure, not literals: such statements can share a cached decision.
    if (!sql.includes('1=1')) expect(a.literalSensitive).toBe(false)
  })
})
