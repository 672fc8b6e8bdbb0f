/**
 * `where: absent` against the real servers: whatever WHERE the guard reads as "true in every row" is
 * checked on a table of varied rows (numbers and strings around the constants the clauses use), and must
 * hold on every one of them. Clauses are drawn at random (seeded) from comparisons, arithmetic, IN, LIKE and NULL tests
 * combined with AND, OR and NOT, so that the sampling of where-terms.ts is held to the database's answer.
 */
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {analyzeMysql} from '../../src/policy/mysql/analyze.js'
import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {mysqlScratch, type MysqlScratch} from '../support/mysql-proxy.js'
import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'

const NUMBERS = [-3, -1, 0, 1, 2, 4, 5, 6, 9, 10, 11, 99, 2023, 2024, 2025]
const STRINGS = ['', 'a', 'A', 'b', 'z', 'x', 'abc', 'error', '5', '10', '50', '~', '2024-01-01']

/**
 * A seeded generator of WHERE clauses over `a` (integer) and `b` (text) of table fz, named `table` in
 * subqueries of fz itself (`a in (select a from fz where ...)`, `exists (... where x.a = fz.a)`).
 */
function clauses(seed: number, count: number, table: string): string[] {
  let s = seed
  const rnd = (n: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s % n
  }
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T
  const num = ['0', '1', '5', '10', '-1', '2024', "'5'"]
  const str = ["'a'", "'error'", "''", "'b'", "'x'"]
  const atom = (depth: number): string => {
    const c = rnd(11)
    if (c === 9 && rnd(2) === 0) {
      const op = pick(['=', '<>', '<', '>', '<=', '>='])
      if (rnd(2) === 0)
        return `${pick(['abs(a)', 'coalesce(a, 0)', 'a + 10', 'length(b)'])} ${op} ${pick([...num, 'a'])}`
      return `${pick(["concat(b, '')", 'lower(b)', 'upper(b)'])} ${op} ${pick([...str, 'b'])}`
    }
    if (c === 10) {
      const lhs = `a ${pick(['+', '-', '*', '%'])} ${pick(['0', '1', '2'])}`
      return `${lhs} ${pick(['=', '<>', '<', '>', '<=', '>='])} ${pick(['a', 'a', ...num.slice(0, 6)])}`
    }
    if (c < 3) return `a ${pick(['=', '<>', '<', '>', '<=', '>='])} ${pick(num)}`
    if (c < 5) return `b ${pick(['=', '<>'])} ${pick(str)}`
    if (c === 5) return `a ${pick(['is null', 'is not null'])}`
    if (c === 6) return `b like ${pick(["'%'", "'a%'", "'_%'", "''", "'%r%'"])}`
    if (c === 7) return `a in (${pick(num)}, ${pick(num)})`
    if (c === 8) {
      const col = pick(['a', 'b'])
      const where = rnd(2) === 0 ? '' : ` where ${clause(depth + 1)}`
      return `${col} in (select ${pick([col, col, 'a', 'b'])} from ${table}${where})`
    }
    return `exists (select 1 from ${table} x where x.${pick(['a', 'b'])} = fz.${pick(['a', 'b'])})`
  }
  const clause = (depth: number): string => {
    if (depth > 2 || rnd(3) === 0) return atom(depth)
    const k = rnd(3)
    if (k === 2) return `not (${clause(depth + 1)})`
    return `(${clause(depth + 1)} ${k === 0 ? 'or' : 'and'} ${clause(depth + 1)})`
  }
  return Array.from({length: count}, () => clause(0))
}

/** The clauses the analysis reads as absent. */
function absent(
  all: readonly string[],
  analyze: (sql: string) => ReturnType<typeof analyzePostgres>,
): string[] {
  return all.filter((w) => {
    const a = analyze(`DELETE FROM fz WHERE ${w}`)
    return a.ok && a.operations[0]?.where === 'absent'
  })
}

describe('PostgreSQL', () => {
  let db: ScratchDb
  let client: pg.Client
  beforeAll(async () => {
    await loadPostgresParser()
    db = await createScratchDb(
      'dbgate_where',
      `create table fz(a int, b text);
       insert into fz select x, y from unnest(array[${NUMBERS.join(',')}]) x,
         unnest(array[${STRINGS.map((v) => `'${v}'`).join(',')}]) y;`,
    )
    client = new pg.Client({connectionString: db.url})
    await client.connect()
  })
  afterAll(async () => {
    await client?.end()
    await db?.drop()
  })

  it('every WHERE read as always true is true in every row', async () => {
    const found = absent(clauses(7, 1500, 'fz'), (sql) => analyzePostgres(sql, {defaultSchema: 'public'}))
    expect(found.filter((w) => w.includes('select')).length).toBeGreaterThan(10)
    expect(found.filter((w) => /a [-+*%] \d/.test(w)).length).toBeGreaterThan(5)
    expect(found.length).toBeGreaterThan(50)
    const wrong: string[] = []
    for (const w of found) {
      const r = await client.query<{n: string}>(
        `select count(*) as n from fz where not coalesce((${w}), false)`,
      )
      if (r.rows[0]?.n !== '0') wrong.push(w)
    }
    expect(wrong).toEqual([])
  })

  it('a write of fz matched against itself, read as no restriction, touches every row', async () => {
    const statements = [
      'delete from fz where a in (select a from fz)',
      "delete from fz x where x.b = any (select y.b from fz y where y.b like '%')",
      'delete from fz where exists (select 1 from fz x where x.a = fz.a)',
      'delete from fz using fz f2 where fz.a = f2.a and fz.b = f2.b',
      'delete from fz where b in (select s.b from (select b from fz) s)',
      'delete from fz where (a, b) in (select a, b from fz)',
      'delete from fz x where x in (select y from fz y)',
      'delete from fz where ctid = any (array(select ctid from fz))',
      'delete from fz where a = any ((select array_agg(a) from fz)::int[])',
      'delete from fz where (a, b) in (select a, b from (select * from fz) s)',
    ]
    for (const sql of statements) {
      const a = analyzePostgres(sql, {defaultSchema: 'public'})
      expect(a.ok && a.operations[0]?.where, sql).toBe('absent')
      await client.query('begin')
      try {
        await client.query(sql)
        const left = await client.query<{n: string}>('select count(*) as n from fz')
        expect(left.rows[0]?.n, sql).toBe('0')
      } finally {
        await client.query('rollback')
      }
    }
  })
})

describe('MariaDB', () => {
  let db: MysqlScratch
  beforeAll(async () => {
    db = await mysqlScratch('where')
    await db.admin(`CREATE TABLE \`${db.name}\`.fz (a INT, b VARCHAR(20))`)
    const rows = NUMBERS.flatMap((x) => STRINGS.map((y) => `(${x}, '${y}')`))
    await db.admin(`INSERT INTO \`${db.name}\`.fz VALUES ${rows.join(',')}`)
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('every WHERE read as always true is true in every row', async () => {
    const found = absent(clauses(7, 1500, `\`${db.name}\`.fz`), (sql) =>
      analyzeMysql(sql, {defaultSchema: db.name}),
    )
    expect(found.filter((w) => w.includes('select')).length).toBeGreaterThan(10)
    expect(found.filter((w) => /a [-+*%] \d/.test(w)).length).toBeGreaterThan(5)
    expect(found.filter((w) => /(abs|concat|lower|upper|coalesce)\(/.test(w)).length).toBeGreaterThan(2)
    expect(found.length).toBeGreaterThan(50)
    const wrong: string[] = []
    for (const w of found) {
      const rows = (await db.admin(
        `SELECT COUNT(*) AS n FROM \`${db.name}\`.fz WHERE NOT COALESCE((${w}), FALSE)`,
      )) as {n: number}[]
      if (Number(rows[0]?.n) !== 0) wrong.push(w)
    }
    expect(wrong).toEqual([])
  })

  it('a write of fz matched against itself, read as no restriction, touches every row', async () => {
    const statements = [
      'DELETE FROM fz WHERE a IN (SELECT a FROM fz)',
      'DELETE FROM fz WHERE EXISTS (SELECT 1 FROM fz x WHERE x.b = fz.b)',
      'DELETE f1 FROM fz f1, fz f2 WHERE f1.a = f2.a AND f2.b = f1.b',
      'DELETE FROM fz WHERE a IN (SELECT s.a FROM (SELECT a FROM fz) AS s)',
      'DELETE FROM fz WHERE (a, b) IN (SELECT a, b FROM fz)',
      'DELETE FROM fz WHERE ROW(b, a) = ANY (SELECT b, a FROM (SELECT * FROM fz) AS s)',
    ]
    await db.admin(`USE \`${db.name}\``)
    for (const sql of statements) {
      const a = analyzeMysql(sql, {defaultSchema: db.name})
      expect(a.ok && a.operations[0]?.where, sql).toBe('absent')
      await db.admin('BEGIN')
      try {
        await db.admin(sql)
        const rows = (await db.admin('SELECT COUNT(*) AS n FROM fz')) as {n: number}[]
        expect(Number(rows[0]?.n), sql).toBe(0)
      } finally {
        await db.admin('ROLLBACK')
      }
    }
  })
})
