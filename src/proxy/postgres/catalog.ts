/**
 * The catalog as the proxy reads it on the side connection: NOT NULL facts for the guard
 * (columnsNotNull), and a session's view for masking: relation columns and view definitions by name (for
 * lineage) and by OID (for RowDescription's table OID and column number). Loaded through the side
 * connection, cached per session. OIDs are stable identities, so a DROP/CREATE under the same name is a
 * new OID and a miss; a rename keeps the OID, so a field whose label disagrees with the cached column
 * name is looked up again; DDL the session runs drops everything. What cannot be loaded is unknown,
 * and unknown fails closed in the masking plan.
 */
import {expressionColumns, type CatalogView, type NotNullCheck} from '../../policy/index.js'
import type {NamedRelation} from '../views.js'

/** One relation as the catalog described it. */
export interface CatalogRelation {
  readonly schema: string
  readonly name: string
  /** Column names by attribute number (index 0 unused; dropped columns are undefined). */
  readonly attnames: readonly (string | undefined)[]
  /** Column names in attribute order, dropped columns left out. */
  readonly columns: readonly string[]
  /** The view's or materialized view's query (empty search_path: relations schema-qualified). */
  readonly definition: string | undefined
  /** Reading it may run user code (a view's rules, row security policies calling a user's function). */
  readonly readCode: boolean
  /** Writing it may run user code (triggers, rules, defaults, constraints, indexes, domain checks). */
  readonly writeCode: boolean
  /** Generated columns: the columns each is computed from (null: its expression could not be read). */
  readonly generated: ReadonlyMap<string, readonly string[] | null>
  /** The tables it inherits from (partitioned tables, inheritance parents), as `schema.table`. */
  readonly ancestors: readonly string[]
  /** Columns that take any value without a check (see CatalogView.acceptsAny). */
  readonly acceptsAny: ReadonlySet<string>
}

/** Runs one simple query on a side connection, rows as text. */
export type SideQuery = (sql: string) => Promise<(string | null)[][]>

/** Bounds a catalog lookup: a lock the session holds must not stall it (it then fails closed). */
const PREAMBLE = "SET search_path = ''; SET statement_timeout = 5000; SET lock_timeout = 2000; "

/** Schemas whose functions, operators and types are the server's own. */
const SYSTEM = "('pg_catalog', 'information_schema')"

/**
 * SQL: true when object `oid` of catalog `classid` is no extension's member. An extension's functions,
 * operators and types are installed code, like the server's own (citext, PostGIS): only a user's count.
 */
function notExtension(classid: string, oid: string): string {
  return (
    `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '${classid}'::pg_catalog.regclass ` +
    `AND e.objid = ${oid} AND e.deptype = 'e')`
  )
}

/** SQL: true when object `objid` of catalog `classid` depends on a user's function or operator (outside SYSTEM). */
function dependsOnUserCode(classid: string, objids: string): string {
  return (
    `EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${classid}'::pg_catalog.regclass ` +
    `AND d.objid IN (${objids}) AND (` +
    `(d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p ` +
    `JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = d.refobjid AND pn.nspname NOT IN ${SYSTEM} ` +
    `AND ${notExtension('pg_catalog.pg_proc', 'p.oid')})) ` +
    `OR (d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_operator o ` +
    `JOIN pg_catalog.pg_namespace pn ON pn.oid = o.oprnamespace WHERE o.oid = d.refobjid AND pn.nspname NOT IN ${SYSTEM} ` +
    `AND ${notExtension('pg_catalog.pg_operator', 'o.oid')}))))`
  )
}

/** A relation's generated columns and their expressions, as a JSON object (NULL when it has none). */
const GENERATED =
  '(SELECT pg_catalog.json_object_agg(a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid)) ' +
  'FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum ' +
  "WHERE a.attrelid = c.oid AND a.attgenerated <> '' AND NOT a.attisdropped)"

/**
 * The columns of a plain table (no partition, no row security) that take any text: of type text or
 * unbounded varchar, in no constraint (CHECK, UNIQUE, primary or foreign key, referenced or referencing),
 * no index (key, expression or predicate) and no generated column's expression, as a JSON array.
 */
const ACCEPTS_ANY =
  '(SELECT pg_catalog.json_agg(a.attname) FROM pg_catalog.pg_attribute a ' +
  "WHERE a.attrelid = c.oid AND c.relkind = 'r' AND NOT c.relispartition AND NOT c.relrowsecurity " +
  'AND a.attnum > 0 AND NOT a.attisdropped AND (a.atttypid = 25 OR (a.atttypid = 1043 AND a.atttypmod < 0)) ' +
  'AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE (k.conrelid = c.oid AND a.attnum = ANY (k.conkey)) ' +
  'OR (k.confrelid = c.oid AND a.attnum = ANY (k.confkey))) ' +
  'AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND (a.attnum = ANY (i.indkey::pg_catalog.int2[]) ' +
  "OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass " +
  'AND d.objid = i.indexrelid AND d.refobjid = c.oid AND d.refobjsubid = a.attnum))) ' +
  "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass " +
  'AND d.objid = ad.oid WHERE ad.adrelid = c.oid AND d.refobjid = c.oid AND d.refobjsubid = a.attnum))'

/** The tables a relation inherits from, all levels up (partitions and inheritance), as a JSON array of [schema, table]. */
const ANCESTORS =
  '(WITH RECURSIVE up(oid) AS (SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid ' +
  'UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid) ' +
  'SELECT pg_catalog.json_agg(pg_catalog.json_build_array(an.nspname, ac.relname)) FROM up ' +
  'JOIN pg_catalog.pg_class ac ON ac.oid = up.oid JOIN pg_catalog.pg_namespace an ON an.oid = ac.relnamespace)'

/** SQL: reading relation `c` may run user code. */
const READ_CODE =
  dependsOnUserCode(
    'pg_catalog.pg_rewrite',
    'SELECT r.oid FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid',
  ) +
  ' OR ' +
  dependsOnUserCode(
    'pg_catalog.pg_policy',
    'SELECT p.oid FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid',
  )

/** SQL: writing relation `c` may run user code. */
const WRITE_CODE = [
  'EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)',
  "EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN')",
  // A foreign key's cascade writes the referencing table, firing its triggers and rules.
  `EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f WHERE f.confrelid = c.oid AND f.contype = 'f' AND (` +
    `EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = f.conrelid AND NOT t.tgisinternal) OR ` +
    `EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = f.conrelid AND r.rulename <> '_RETURN')))`,
  dependsOnUserCode(
    'pg_catalog.pg_attrdef',
    'SELECT a.oid FROM pg_catalog.pg_attrdef a WHERE a.adrelid = c.oid',
  ),
  dependsOnUserCode(
    'pg_catalog.pg_constraint',
    'SELECT k.oid FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid',
  ),
  dependsOnUserCode(
    'pg_catalog.pg_policy',
    'SELECT p.oid FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid',
  ),
  dependsOnUserCode(
    'pg_catalog.pg_class',
    'SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid',
  ),
  `EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid ` +
    `JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE a.attrelid = c.oid AND a.attnum > 0 ` +
    `AND t.typtype = 'd' AND tn.nspname NOT IN ${SYSTEM} AND ${notExtension('pg_catalog.pg_type', 't.oid')} ` +
    `AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid))`,
].join(' OR ')

/** SQL: casts that run a user's function (`f`: its target type's name; `context`: i, a or e). */
const USER_CASTS =
  `SELECT pg_catalog.lower(tt.typname), c.castcontext FROM pg_catalog.pg_cast c ` +
  `JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace ` +
  `JOIN pg_catalog.pg_type tt ON tt.oid = c.casttarget WHERE pn.nspname NOT IN ${SYSTEM} ` +
  `AND ${notExtension('pg_catalog.pg_proc', 'p.oid')}`

/** Per-session catalog cache; implements the synchronous view lineage reads. */
export class SessionCatalog implements CatalogView {
  private readonly byOid = new Map<number, CatalogRelation>()
  /** By `schema.table`; null: known not to exist (until the next invalidation). */
  private readonly byName = new Map<string, CatalogRelation | null>()
  /** Names lineage asked for that are not loaded yet. */
  readonly misses = new Set<string>()
  /** Function names, lower-case and unqualified: true when some function of that name is user-defined. */
  private readonly functions = new Map<string, boolean>()
  /** Operators and casts that run user code (`operator:name`, `cast:name`), as `code()` reports them. */
  private readonly userCode = new Map<string, boolean>()
  /** `kind:name` keys of code() asked for and not loaded yet. */
  readonly codeMisses = new Set<string>()
  /**
   * Names of relations the session may have made in its temporary schema (searched first). Kept
   * across invalidations: only the session's own statements make them, and a stale one only masks more.
   */
  private readonly temporaries = new Set<string>()

  constructor(private readonly query: SideQuery) {}

  /** Existing schemas of the session's search_path, in order; undefined until loaded for the current path. */
  private pathSchemas: readonly string[] | undefined

  /** True when the current search_path's schemas are known. */
  get pathLoaded(): boolean {
    return this.pathSchemas !== undefined
  }

  /** Forgets the search_path's schemas (the session's search_path changed). */
  resetPath(): void {
    this.pathSchemas = undefined
  }

  /**
   * Loads the schemas a search_path names (as set_config takes it; undefined: the role's and database's
   * default), resolved the way the server does: `$user` expanded, missing schemas left out.
   */
  async loadPath(path: string | undefined): Promise<void> {
    const set =
      path === undefined
        ? 'RESET search_path; '
        : `SELECT pg_catalog.set_config('search_path', ${lit(path)}, false); `
    const rows = await this.query(
      `${set}SELECT pg_catalog.array_to_string(pg_catalog.current_schemas(false), chr(10))`,
    )
    const list = rows.at(-1)?.[0] ?? ''
    this.pathSchemas = list === '' ? [] : list.split('\n')
  }

  /**
   * The schema an unqualified relation name resolves to: the first schema of the search_path that
   * has it. undefined while that is not known (the names still to load are remembered as misses).
   */
  schemaOf(name: string): string | undefined {
    const schemas = this.pathSchemas
    if (schemas === undefined) return undefined
    let unknown = false
    for (const schema of schemas) {
      const key = `${schema}.${name}`
      const rel = this.byName.get(key)
      if (rel === undefined) {
        this.misses.add(key)
        unknown = true
      } else if (rel !== null) return unknown ? undefined : schema
    }
    return unknown ? undefined : schemas[0]
  }

  /** Columns of a relation by name; a miss is remembered so the caller can load it. */
  columns(schema: string, table: string): readonly string[] | undefined {
    // Lineage's name for an unqualified relation whose schema is not known yet.
    if (schema.startsWith('\u0000')) return undefined
    const key = `${schema}.${table}`
    const rel = this.byName.get(key)
    if (rel === undefined) this.misses.add(key)
    return rel?.columns ?? undefined
  }

  /** The tables a table inherits from (see CatalogView.ancestors). */
  ancestors(schema: string, table: string): readonly string[] | undefined {
    return this.byName.get(`${schema}.${table}`)?.ancestors
  }

  /** Whether a column takes any value without a check (see CatalogView.acceptsAny). */
  acceptsAny(schema: string, table: string, column: string): boolean | undefined {
    return this.byName.get(`${schema}.${table}`)?.acceptsAny.has(column)
  }

  /** The columns a generated column is computed from (see CatalogView.generatedFrom). */
  generatedFrom(schema: string, table: string, column: string): readonly string[] | null | undefined {
    return this.byName.get(`${schema}.${table}`)?.generated.get(column)
  }

  /** A view's definition by name (remembered as read: forgetViews). */
  viewDefinition(schema: string, name: string): string | undefined {
    const key = `${schema}.${name}`
    const definition = this.byName.get(key)?.definition ?? undefined
    if (definition !== undefined) this.viewsRead.add(key)
    return definition
  }

  /** Views whose definitions lineage read since the last forgetViews. */
  private readonly viewsRead = new Set<string>()

  /**
   * Forgets the views lineage read, so that the next statement reads their definitions again: another
   * session may have redefined one (`CREATE OR REPLACE VIEW v AS SELECT email ...`) since. True when
   * there were any (lineage computed over them is stale too).
   */
  forgetViews(): boolean {
    if (this.viewsRead.size === 0) return false
    for (const key of this.viewsRead) {
      const rel = this.byName.get(key)
      this.byName.delete(key)
      for (const [oid, r] of this.byOid) if (r === rel) this.byOid.delete(oid)
    }
    this.viewsRead.clear()
    return true
  }

  /** True when an unqualified name may resolve to the session's temporary relation. */
  temporary(name: string): boolean {
    return this.temporaries.has(name)
  }

  /** Remembers that the session may have made a temporary relation of this name. */
  addTemporary(name: string): void {
    this.temporaries.add(name)
  }

  /**
   * Whether an operator, a cast to a type of this name, or a call of a function of this name may run
   * user code; a miss is remembered.
   */
  code(kind: 'operator' | 'cast' | 'function', name: string): boolean | undefined {
    const key = `${kind}:${name}`
    const known = kind === 'function' ? this.functions.get(name) : this.userCode.get(key)
    if (known === undefined) this.codeMisses.add(key)
    return known
  }

  /** Whether reading or writing a loaded relation may run user code; undefined when not loaded. */
  relationCode(schema: string, table: string, write: boolean): boolean | undefined {
    const rel = this.byName.get(`${schema}.${table}`)
    if (rel === undefined || rel === null) return undefined
    return write ? rel.writeCode : rel.readCode
  }

  /**
   * Loads whether these operators, casts and functions (`operator:name`, `cast:name`, `function:name`
   * keys) run user code: operators of the name outside the system schemas; casts to a type of the name
   * through a user's function, or domains of the name with constraints (`cast:*implicit*` stands for any
   * implicit or assignment cast through a user's function); functions as `loadFunctions` finds them.
   */
  async loadCode(keys: readonly string[]): Promise<void> {
    const functions = keys.filter((k) => k.startsWith('function:'))
    if (functions.length > 0) {
      await this.loadFunctions(functions.map((k) => k.slice(9)))
      for (const key of functions) this.codeMisses.delete(key)
      keys = keys.filter((k) => !k.startsWith('function:'))
    }
    if (keys.length === 0) return
    const ops = keys.filter((k) => k.startsWith('operator:')).map((k) => k.slice(9))
    const rows = await this.query(
      `${PREAMBLE}SELECT 'operator:' || o.oprname FROM pg_catalog.pg_operator o ` +
        `JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace WHERE n.nspname NOT IN ${SYSTEM} ` +
        `AND ${notExtension('pg_catalog.pg_operator', 'o.oid')} ` +
        `AND o.oprname IN (${ops.length > 0 ? ops.map(lit).join(',') : 'NULL'}) ` +
        `UNION SELECT 'cast:' || f.lower FROM (${USER_CASTS}) f(lower, context) ` +
        `UNION SELECT 'cast:*implicit*' FROM (${USER_CASTS}) f(lower, context) WHERE f.context IN ('i', 'a') ` +
        `UNION SELECT 'cast:' || pg_catalog.lower(t.typname) FROM pg_catalog.pg_type t ` +
        `JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'd' ` +
        `AND n.nspname NOT IN ${SYSTEM} AND ${notExtension('pg_catalog.pg_type', 't.oid')} ` +
        `AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid)`,
    )
    const found = new Set(rows.map((r) => r[0]))
    for (const key of keys) {
      this.userCode.set(key, found.has(key))
      this.codeMisses.delete(key)
    }
  }

  /** A relation by OID, if loaded. */
  relation(oid: number): CatalogRelation | undefined {
    return this.byOid.get(oid)
  }

  /** True when a name was looked up (found or known absent). */
  knowsName(key: string): boolean {
    return this.byName.has(key)
  }

  /** Drops everything (the session ran DDL, or a lookup went wrong). */
  invalidate(): void {
    this.byOid.clear()
    this.byName.clear()
    this.misses.clear()
    this.functions.clear()
    this.userCode.clear()
    this.codeMisses.clear()
  }

  /**
   * Whether a call of `name` (lower-case, unqualified) may run a user-defined function: one of that
   * name exists outside pg_catalog and information_schema (it may be what an unqualified call resolves
   * to, even for a built-in's name). undefined when not loaded yet.
   */
  userFunction(name: string): boolean | undefined {
    return this.functions.get(name)
  }

  /** Loads which of these function names (lower-case, unqualified) have user-defined functions. */
  async loadFunctions(names: readonly string[]): Promise<void> {
    if (names.length === 0) return
    const rows = await this.query(
      `${PREAMBLE}SELECT DISTINCT pg_catalog.lower(p.proname) FROM pg_catalog.pg_proc p ` +
        `JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace ` +
        `WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ` +
        `AND pg_catalog.lower(p.proname) IN (${names.map(lit).join(',')})`,
    )
    for (const name of names) this.functions.set(name, false)
    for (const row of rows) if (row[0] != null) this.functions.set(row[0], true)
  }

  /** Loads relations by OID and by `schema.table` name; names not found are remembered as absent. */
  async load(oids: readonly number[], names: readonly string[]): Promise<void> {
    const conds: string[] = []
    if (oids.length > 0) conds.push(`c.oid IN (${oids.map((o) => `${o >>> 0}`).join(',')})`)
    const pairs = names.map(splitName).filter((p) => p !== undefined)
    if (pairs.length > 0)
      conds.push(`(n.nspname, c.relname) IN (${pairs.map(([s, t]) => `(${lit(s)}, ${lit(t)})`).join(',')})`)
    if (conds.length === 0) return
    const rows = await this.query(
      `${PREAMBLE}SELECT c.oid, n.nspname, c.relname, ` +
        `CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END, ` +
        `(SELECT pg_catalog.string_agg(a.attnum || ':' || a.attname, E'\\n' ORDER BY a.attnum) ` +
        `FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ` +
        `${READ_CODE}, ${WRITE_CODE}, ${GENERATED}, ${ANCESTORS}, ${ACCEPTS_ANY} ` +
        `FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
        `WHERE ${conds.join(' OR ')}`,
    )
    for (const name of names) this.byName.set(name, null)
    for (const row of rows) {
      const rel = relationOf(row)
      if (rel === undefined) continue
      this.byOid.set(Number(row[0]), rel)
      this.byName.set(`${rel.schema}.${rel.name}`, rel)
    }
    for (const name of names) this.misses.delete(name)
  }
}

/**
 * Whether every column of a check is NOT NULL in a relation of that name: in its schema when the statement
 * names one, else in any schema (the session's search_path may reach any of them: the stricter reading).
 */
export async function columnsNotNull(query: SideQuery, check: NotNullCheck): Promise<boolean> {
  if (check.columns.length === 0) return false
  const schema = check.schema === null ? '' : ` AND n.nspname = ${lit(check.schema)}`
  const rows = await query(
    `${PREAMBLE}SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
      `WHERE c.relname = ${lit(check.table)}${schema} AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a ` +
      `WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull ` +
      `AND a.attname IN (${check.columns.map(lit).join(',')})) = ${new Set(check.columns).size}`,
  )
  return rows.length > 0
}

/**
 * The relations the views (and materialized views) of that name read, through views of views, as
 * `schema.name`: in its schema when the statement names one, else in any schema (the search path may
 * reach any of them: the stricter reading); [] when no view has that name.
 */
export async function viewTables(query: SideQuery, relation: NamedRelation): Promise<string[]> {
  const schema = relation.schema === null ? '' : ` AND n.nspname = ${lit(relation.schema)}`
  const rows = await query(
    `${PREAMBLE}WITH RECURSIVE v(oid) AS (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ` +
      `ON n.oid = c.relnamespace WHERE c.relname = ${lit(relation.name)}${schema} AND c.relkind IN ('v', 'm') ` +
      `UNION SELECT d.refobjid FROM v JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid ` +
      `JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid ` +
      `AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> v.oid) ` +
      `SELECT DISTINCT n.nspname, c.relname FROM v JOIN pg_catalog.pg_class c ON c.oid = v.oid ` +
      `JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
  )
  const out: string[] = []
  for (const [nspname, relname] of rows)
    if (nspname != null && relname != null) out.push(`${nspname}.${relname}`)
  return out
}

function relationOf(row: readonly (string | null)[]): CatalogRelation | undefined {
  const [oid, schema, name, definition, attrs, readCode, writeCode, generated, ancestors, accepts] = row
  if (oid == null || schema == null || name == null) return undefined
  const attnames: (string | undefined)[] = []
  const columns: string[] = []
  for (const line of (attrs ?? '').split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const attname = line.slice(colon + 1)
    attnames[Number(line.slice(0, colon))] = attname
    columns.push(attname)
  }
  // Anything but a plain 'f' (false) counts as code.
  return {
    schema,
    name,
    attnames,
    columns,
    definition: definition ?? undefined,
    readCode: readCode !== 'f',
    writeCode: writeCode !== 'f',
    generated: generatedColumns(generated ?? null, columns),
    ancestors: ancestorsOf(ancestors ?? null),
    // A trigger or rule may check what is written too.
    acceptsAny: writeCode === 'f' ? new Set(names(accepts ?? null)) : new Set(),
  }
}

/** The strings of a JSON array; [] for anything else (what cannot be read takes nothing). */
function names(json: string | null): string[] {
  if (json === null) return []
  try {
    const list: unknown = JSON.parse(json)
    return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : []
  } catch {
    return []
  }
}

/** `schema.table` of each [schema, table] of the JSON array; entries that are not pairs of strings are left out. */
function ancestorsOf(json: string | null): string[] {
  if (json === null) return []
  let list: unknown
  try {
    list = JSON.parse(json)
  } catch {
    return []
  }
  if (!Array.isArray(list)) return []
  return list.flatMap((p: unknown) =>
    Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string' ? [`${p[0]}.${p[1]}`] : [],
  )
}

/**
 * The columns each generated column is computed from, from the JSON object of their expressions; a
 * reply that cannot be read makes every column of the relation opaque (fail closed).
 */
function generatedColumns(
  json: string | null,
  columns: readonly string[],
): ReadonlyMap<string, readonly string[] | null> {
  const out = new Map<string, readonly string[] | null>()
  if (json === null) return out
  let exprs: unknown
  try {
    exprs = JSON.parse(json)
  } catch {
    exprs = undefined
  }
  if (exprs === null || typeof exprs !== 'object' || Array.isArray(exprs)) {
    for (const c of columns) out.set(c, null)
    return out
  }
  for (const [column, expr] of Object.entries(exprs as Record<string, unknown>))
    out.set(column, typeof expr === 'string' ? expressionColumns(expr) : null)
  return out
}

/** Splits `schema.table` at its first dot (lineage folds names; neither part is quoted). */
function splitName(key: string): [string, string] | undefined {
  const dot = key.indexOf('.')
  return dot <= 0 ? undefined : [key.slice(0, dot), key.slice(dot + 1)]
}

/**
 * A SQL string literal. An escape string (E'...'), so that it reads the same whatever the server's
 * standard_conforming_strings: the side connection takes the server's default, which may be off.
 */
function lit(s: string): string {
  return `E'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}
