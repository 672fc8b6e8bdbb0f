import {readdirSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

import {parseSync} from 'libpg-query'
import {beforeAll, describe, expect, it} from 'vitest'

import {analyzePostgres, loadPostgresParser} from '../../src/policy/postgres/analyze.js'
import {isMappedStatement, kindOf} from '../../src/policy/postgres/kinds.js'
import {BARE_FIELDS} from '../../src/policy/postgres/walk.js'

/** The parse-tree type definitions libpg-query ships (@pgsql/types). */
const typesFile = createRequire(import.meta.url).resolve('@pgsql/types/types.d.ts')
const typesSource = readFileSync(typesFile, 'utf8')

/** `[interface, field, type]` for every field of every interface in the type definitions. */
function fields(): [string, string, string][] {
  const out: [string, string, string][] = []
  let current: string | undefined
  for (const line of typesSource.split('\n')) {
    const start = /^export interface (\w+) /.exec(line)
    if (start) current = start[1]
    else if (line.startsWith('}')) current = undefined
    const field = /^\s+(\w+)\??: ([\w[\]]+);/.exec(line)
    if (current && field) out.push([current, field[1]!, field[2]!])
  }
  return out
}

beforeAll(async () => {
  await loadPostgresParser()
})

describe('postgres walker: coverage of the grammar', () => {
  it('knows every bare field that is or can contain a RangeVar, FuncCall, query or WITH clause', () => {
    const all = fields()
    const interfaces = new Set(all.map(([iface]) => iface))
    const special = new Set(['RangeVar', 'FuncCall', 'SelectStmt', 'WithClause', 'IntoClause'])
    // Structs that hold one of those bare, directly or through other bare structs.
    const containers = new Set<string>()
    for (let grew = true; grew;) {
      grew = false
      for (const [iface, , type] of all) {
        if ((special.has(type) || containers.has(type)) && !containers.has(iface)) {
          containers.add(iface)
          grew = true
        }
      }
    }
    const expected: Record<string, Record<string, string>> = {}
    for (const [iface, field, type] of all) {
      if (!special.has(type) && !containers.has(type)) continue
      expect(interfaces.has(type)).toBe(true)
      expected[iface] = {...expected[iface], [field]: type}
    }
    expect(Object.keys(expected).length).toBeGreaterThan(30)
    expect(BARE_FIELDS).toEqual(expected)
  })

  it('maps every statement node of the grammar to a kind on purpose', () => {
    const statements = [...typesSource.matchAll(/^export interface (\w+Stmt) /gm)].map((m) => m[1]!)
    // Containers of the parse result and analyzer-only nodes, never a statement of a raw parse tree.
    const notStatements = new Set(['RawStmt', 'SetOperationStmt'])
    const unmapped = statements.filter((s) => !notStatements.has(s) && !isMappedStatement(s))
    expect(unmapped).toEqual([])
    expect(statements.length).toBeGreaterThan(100)
  })

  it("reads an unknown statement node as 'other'", () => {
    expect(kindOf('FutureStmt', {})).toBe('other')
    expect(kindOf('constructor', {})).toBe('other')
  })
})

/** Every RangeVar, FuncCall and function a DDL statement names, as a naive scan of the whole parse tree finds them. */
function scan(value: unknown, tables: Set<string>, functions: Set<string>, ctes: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) scan(v, tables, functions, ctes)
    return
  }
  if (typeof value !== 'object' || value === null) return
  const o = value as Record<string, unknown>
  if (typeof o.relname === 'string') tables.add(o.relname)
  if (typeof o.ctename === 'string') ctes.add(o.ctename)
  // CallStmt holds its FuncCall bare.
  const call = (o.FuncCall ?? o.funccall) as {funcname?: {String: {sval: string}}[]} | undefined
  if (call?.funcname)
    functions.add(
      call.funcname
        .map((n) => n.String.sval)
        .join('.')
        .toLowerCase(),
    )
  // DDL naming a function a later statement calls unnamed: a function with its argument types
  // (ALTER FUNCTION, CREATE CAST), a trigger's, a conversion's, a language's, an operator's option.
  const names = (list: unknown): string | undefined =>
    Array.isArray(list)
      ? (list as {String?: {sval: string}}[])
          .map((n) => n.String?.sval)
          .join('.')
          .toLowerCase()
      : undefined
  const named = [names(o.objname)]
  for (const [stmt, fields] of Object.entries(NAMING_FIELDS)) {
    const node = o[stmt] as Record<string, unknown> | undefined
    for (const f of fields) named.push(names(node?.[f]))
  }
  const def = o.DefElem as {defname?: string; arg?: {TypeName?: {names?: unknown}; List?: {items?: unknown}}}
  if (def?.defname !== undefined && FUNCTION_OPTIONS.includes(def.defname))
    named.push(names(def.arg?.TypeName?.names ?? def.arg?.List?.items))
  for (const n of named) if (n !== undefined) functions.add(n)
  for (const k in o) scan(o[k], tables, functions, ctes)
}

const NAMING_FIELDS: Record<string, string[]> = {
  CreateTrigStmt: ['funcname'],
  CreateEventTrigStmt: ['funcname'],
  CreateConversionStmt: ['func_name'],
  CreatePLangStmt: ['plhandler', 'plinline', 'plvalidator'],
}
const FUNCTION_OPTIONS = ['function', 'procedure', 'sfunc', 'finalfunc', 'handler', 'validator', 'support']

const fixtures = fileURLToPath(new URL('../fixtures/postgres/', import.meta.url))
const corpus = ['psql', 'pg_dump'].flatMap((dir) =>
  readdirSync(`${fixtures}${dir}`)
    .filter((f) => f.endsWith('.sql'))
    .map((f): [string, string] => [`${dir}/${f}`, readFileSync(`${fixtures}${dir}/${f}`, 'utf8')]),
)
const statements: [string, string][] = [
  'WITH a AS (SELECT f(x) FROM t1), b AS (DELETE FROM t2 WHERE g() RETURNING *) SELECT * FROM a, b, LATERAL h(a.x), ROWS FROM (i(), j()) r',
  'MERGE INTO t3 USING (SELECT k() AS id FROM t4) s ON t3.id = s.id WHEN MATCHED AND l() THEN UPDATE SET v = m() WHEN NOT MATCHED THEN INSERT VALUES (n())',
  'CREATE TABLE t5 (a int DEFAULT o() CHECK (a > p()), b int GENERATED ALWAYS AS (q(a)) STORED, LIKE t6, FOREIGN KEY (a) REFERENCES t7)',
  'CREATE INDEX ON t8 USING gin (r(a)) WHERE s(b)',
  'ALTER TABLE t9 ADD CONSTRAINT c CHECK (u() > 0), ALTER COLUMN a SET DEFAULT v(), ALTER COLUMN b TYPE int USING w(b)',
  'UPDATE t10 SET (a, b) = (SELECT x(), y FROM t11) WHERE z() IN (SELECT aa FROM t12)',
  'INSERT INTO t13 SELECT * FROM t14 ON CONFLICT (id) DO UPDATE SET n = bb(EXCLUDED.n) WHERE t13.n < cc() RETURNING dd()',
  'COPY (SELECT ee() FROM t15) TO STDOUT',
  'CREATE VIEW v16 AS SELECT ff() FROM t17 UNION ALL SELECT gg() FROM t18',
  'CREATE MATERIALIZED VIEW v19 AS SELECT * FROM t20 WITH NO DATA',
  'SELECT * FROM t21 t WHERE EXISTS (SELECT 1 FROM t22 WHERE t22.id = t.id) ORDER BY hh() LIMIT ii()',
  "SELECT jj() FILTER (WHERE kk()) OVER w, XMLELEMENT(name a, ll()), JSON_OBJECT('a': mm()) FROM t23 WINDOW w AS (ORDER BY nn())",
  'GRANT SELECT ON t24, t25 TO PUBLIC',
  'LOCK t26, t27',
  'TRUNCATE t28, ONLY t29',
  'VACUUM (ANALYZE) t30 (a), t31',
  'CREATE TRIGGER tr AFTER INSERT ON t32 REFERENCING NEW TABLE AS nt FOR EACH STATEMENT WHEN (oo()) EXECUTE FUNCTION pp()',
  'CREATE POLICY pol ON t33 USING (qq()) WITH CHECK (rr() AND EXISTS (SELECT 1 FROM t34))',
  'CREATE RULE ru AS ON UPDATE TO t35 WHERE ss() DO ALSO INSERT INTO t36 VALUES (tt())',
  'EXPLAIN ANALYZE SELECT uu() FROM t37',
  'PREPARE pr AS SELECT vv() FROM t38 WHERE id = $1',
  'DECLARE cur CURSOR FOR SELECT ww() FROM t39',
  'CREATE TABLE t40 PARTITION OF t41 FOR VALUES FROM (xx()) TO (MAXVALUE)',
  'CREATE STATISTICS st ON a, b FROM t42',
  'SELECT * FROM t43 TABLESAMPLE system (yy())',
  "SELECT * FROM xmltable('/a' PASSING (SELECT doc FROM t44) COLUMNS a int PATH zz())",
  'CREATE FUNCTION fx() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT ab() FROM t45; END',
  'CALL ac(ad())',
  'CREATE DOMAIN dm AS int CHECK (VALUE > ae()) DEFAULT af()',
  'ALTER TABLE t46 ATTACH PARTITION t47 FOR VALUES IN (1)',
  'SELECT * FROM t48 FOR UPDATE OF t48',
].map((s, i): [string, string] => [`statement ${i + 1}`, s])

describe('postgres walker: what the parser sees, policy sees', () => {
  it.each([...corpus, ...statements])('%s', (_name, sql) => {
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
    expect(a.ok).toBe(true)
    if (!a.ok) return
    const tables = new Set<string>()
    const functions = new Set<string>()
    const ctes = new Set<string>()
    scan(parseSync(sql), tables, functions, ctes)
    const seenTables = new Set(
      a.operations.flatMap((o) => o.tables).map((t) => t.slice(t.lastIndexOf('.') + 1)),
    )
    const seenFunctions = new Set(a.operations.flatMap((o) => o.functions))
    for (const t of tables) if (!ctes.has(t)) expect(seenTables, t).toContain(t)
    expect([...seenFunctions].sort()).toEqual([...functions].sort())
  })
})
