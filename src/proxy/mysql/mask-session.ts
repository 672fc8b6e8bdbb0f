/**
 * A MySQL session's masking: per allowed statement, the rules that apply and the statement's lineage;
 * per result set, the plan that tells the row path which columns to rewrite. Lineage needs the
 * catalog (columns of the tables a statement names, the definitions of views): what is missing is
 * looked up with a query the proxy sends on the session's own connection just before the client's
 * statement, so its answer is known when the statement's first result arrives. Unknown fails closed.
 */
import type {MaskKey} from '../../masking/index.js'
import {
  hasColumnRules,
  maskedCopy,
  normalizeMysql,
  planMasking,
  ruleFor,
  strictestRule,
  type ColumnMatch,
  type Decision,
  type LineageEffect,
  type MaskingRule,
  type PlanField,
  type StatementLineage,
  type StoredWrite,
} from '../../policy/index.js'
import {EVERY_COLUMN, storedCopy, type StoredCopy} from '../stored-copy.js'
import {
  lineageMysql,
  type MysqlLineageResult,
  type MysqlStatementLineage,
} from '../../policy/lineage/mysql.js'
import {compileTableGlob} from '../../policy/glob.js'
import {Lru} from '../../policy/lru.js'
import {columnCategory, columnMasks, MysqlRowMasker, type ColumnDef} from './mask-rows.js'
import {MysqlCatalog} from './mask-catalog.js'
import {mysqlColumnMatch} from './mask-names.js'
import {
  CodeRows,
  codeCandidates,
  codeQueries,
  missingSchemas,
  quote,
  runsStoredCode,
  type CodeCandidates,
} from './mask-code.js'

/** Masking state of one running statement (a COM_QUERY, or one COM_STMT_EXECUTE). */
export interface MysqlMaskStatement {
  readonly sql: string
  readonly schema: string
  /** The rules that apply; every column's once the session ran stored code. */
  rules: readonly MaskingRule[]
  /** Stored code it may run (procedures, functions, triggers). */
  readonly code: CodeCandidates
  /** Every table the statement names (`schema.table`), wherever it names it. */
  readonly tables: readonly string[]
  /** Per statement of the query; null when unknown; undefined until computed. */
  lineage: readonly MysqlStatementLineage[] | null | undefined
  /** Session changes (SQL PREPARE, DEALLOCATE) per statement, applied as each completes. */
  effects: readonly (readonly LineageEffect[])[]
  /** The statement whose results are arriving. */
  index: number
  /** Lineage computed when the statement was sent, when nothing was missing from the catalog. */
  ready?: MysqlLineageResult | undefined
  /** Output columns masked (`column:rule`) and rules that masked a value, for the audit event. */
  readonly masked: Set<string>
  readonly fired: Set<string>
}

/** Operation kinds after which cached catalog facts may be stale. */
const DDL_KINDS = new Set(['create', 'alter', 'drop', 'other', 'call'])
/** Names per catalog lookup; more are left unknown (fail closed) until the next statement. */
const MAX_NAMES = 50
/** Schemas whose views one lookup reads again. */
const MAX_SCHEMAS = 16

const UNKNOWN: StatementLineage = {columns: null, reads: [], readsUnknown: true}
const NO_COLUMN_RULES: StatementLineage = {columns: null, reads: [], readsUnknown: false}

/** A catalog lookup in flight: what it asked for, to record absent names when it completes. */
export interface CatalogLookup {
  /** The query text the proxy sends. */
  readonly sql: string
  /** One text row of its result. */
  row(values: readonly (string | null)[]): void
  /** The lookup ended (ok: it completed; otherwise what it asked for stays unknown). */
  done(ok: boolean): void
}

/** One session's masking state. */
export class MysqlMaskSession {
  private readonly catalog = new MysqlCatalog()
  private readonly columnRules: boolean
  /** Tables filled from masked columns: masked whole for the rest of the session. */
  private readonly taints: MaskingRule[] = []
  /**
   * Lineage by literal-abstracted shape (lineage never depends on a literal's value), for statements
   * complete in the catalog and touching no view; emptied whenever the catalog changes.
   */
  private cache = new Lru<string, MysqlLineageResult>(1_000)
  /** SQL-level prepared statements' lineage, by lower-case name. */
  private readonly prepared = new Map<string, MysqlStatementLineage>()
  /** Set once a statement may have read a masked column: diagnostics can quote what it read. */
  readMasked = false
  /**
   * Whether the server compares schema and table names by case (lower_case_table_names=0), read with
   * the session's first catalog lookup; undefined until then (lineage is then computed both ways).
   */
  private exactNames: boolean | undefined = undefined
  /** Rules the proxy made (taints): matched case-insensitively, their names come lower-cased. */
  private readonly folded = new Set<MaskingRule>()
  private match: ColumnMatch | undefined

  constructor(
    private readonly allRules: readonly MaskingRule[],
    readonly key: MaskKey,
  ) {
    this.columnRules = allRules.some((r) => (r.columns?.length ?? 0) > 0)
  }

  /** The masking state of an allowed statement; undefined when nothing can be masked. */
  statement(sql: string, decision: Decision | undefined, schema: string): MysqlMaskStatement | undefined {
    if (this.allRules.length === 0) return undefined
    if (decision?.operations.some((o) => DDL_KINDS.has(o.kind)) === true) {
      this.catalog.clear()
      this.cache = new Lru(1_000)
    }
    const base = decision === undefined ? this.allRules : decision.masking
    if (base.length === 0 && this.taints.length === 0) return undefined
    return {
      sql,
      schema,
      rules: this.taints.length === 0 ? base : [...base, ...this.taints],
      code: codeCandidates(decision?.operations, schema),
      tables: decision?.operations.flatMap((o) => o.tables) ?? [],
      lineage: undefined,
      effects: [],
      index: 0,
      masked: new Set(),
      fired: new Set(),
    }
  }

  /**
   * The catalog lookup to send before the statement, when its lineage needs names not cached yet;
   * undefined when none is needed. Lineage is computed again when the results arrive.
   */
  lookup(m: MysqlMaskStatement): CatalogLookup | undefined {
    if (!m.rules.some((r) => (r.columns?.length ?? 0) > 0)) return undefined
    // Which of the names it calls and writes are stored functions and tables with triggers.
    const schemas = missingSchemas(m.code, this.catalog.storedCode)
    const key = cacheKey(m)
    const hit = key === undefined ? undefined : this.cache.get(key)
    if (hit !== undefined) {
      m.ready = hit
      return schemas.length === 0 ? undefined : this.lookupOf([], schemas)
    }
    // Until the server said how it compares names, what either way needs is looked up.
    const modes = this.exactNames === undefined ? [false, true] : [this.exactNames]
    const wanted = new Set<string>()
    let r: MysqlLineageResult = {ok: false, error: 'not computed'}
    for (const exact of modes) {
      this.catalog.exact = exact
      this.catalog.misses.clear()
      this.catalog.used.clear()
      r = lineageMysql(m.sql, this.catalog, schemaFor(m, exact), this.prepared, exact)
      for (const n of [...this.catalog.misses, ...this.catalog.used]) wanted.add(n)
    }
    this.catalog.exact = this.exactNames === true
    // Views are read again for each statement that reads one: another session may have changed them.
    const names = [...wanted].slice(0, MAX_NAMES)
    // Nothing to look up: no query is sent, so ROW_COUNT(), FOUND_ROWS() and SHOW WARNINGS stay the client's.
    if (names.length === 0 && schemas.length === 0 && this.exactNames !== undefined) {
      m.ready = r
      if (key !== undefined && r.ok && !r.statements.some((l) => l.readsUnknown)) this.cache.set(key, r)
      return undefined
    }
    return this.lookupOf(names, schemas)
  }

  /**
   * One query for the columns of `names` and the views of their schemas (and of the schemas read
   * before): one SELECT per name or schema, each with equality on TABLE_SCHEMA (and TABLE_NAME), so
   * that the server opens only those tables instead of every table it has.
   */
  private lookupOf(names: readonly string[], codeSchemas: readonly string[]): CatalogLookup {
    const split = (n: string): [string, string] => {
      const dot = n.indexOf('.')
      return [n.slice(0, dot), n.slice(dot + 1)]
    }
    const schemas = [...new Set([...names.map((n) => split(n)[0]), ...this.catalog.viewSchemas])].slice(
      0,
      MAX_SCHEMAS,
    )
    const parts = [
      ...names.map((n) => {
        const [schema, table] = split(n)
        // A generated column's expression follows its name after a NUL (no column name holds one).
        return `SELECT 0, TABLE_SCHEMA, TABLE_NAME, CONCAT(COLUMN_NAME, IF(GENERATION_EXPRESSION IS NULL OR GENERATION_EXPRESSION = '', '', CONCAT(CHAR(0), GENERATION_EXPRESSION))), ORDINAL_POSITION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${quote(schema)} AND TABLE_NAME = ${quote(table)}`
      }),
      ...schemas.map(
        (schema) =>
          `SELECT 1, TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, 0 FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${quote(schema)}`,
      ),
    ]
    parts.push(...codeQueries(codeSchemas.slice(0, MAX_SCHEMAS)))
    if (this.exactNames === undefined) parts.push(`SELECT 5, @@lower_case_table_names, '', '', 0`)
    let caseRule: string | undefined
    const found = new Map<string, [number, string][]>()
    const viewDefs = new Map<string, string>()
    const code = new CodeRows()
    return {
      sql: parts.join(' UNION ALL '),
      row: (v) => {
        const [kind, schema, table, text, pos] = v
        if (schema == null || table == null) return
        if (kind === '5') caseRule = schema
        if (kind === '5' || code.row(kind ?? null, schema, table)) return
        // Under both forms: the exact one for lower_case_table_names=0, lower-case for the others.
        for (const key of new Set([`${schema}.${table}`, `${schema}.${table}`.toLowerCase()])) {
          if (kind === '1') viewDefs.set(key, text ?? '')
          else if (text != null) found.set(key, [...(found.get(key) ?? []), [Number(pos), text]])
        }
      },
      done: (ok) => {
        if (!ok) return
        if (caseRule !== undefined) {
          this.exactNames = caseRule === '0'
          this.catalog.exact = this.exactNames
          this.match = undefined
        }
        this.cache = new Lru(1_000)
        code.commit(codeSchemas, this.catalog.storedCode)
        for (const n of names)
          this.catalog.setColumns(
            n,
            found
              .get(n)
              ?.sort((a, b) => a[0] - b[0])
              .map(([, text]) => text) ?? null,
          )
        // The views of these schemas, all from this one moment.
        const looked = new Set(schemas.map((x) => x.toLowerCase()))
        for (const k of [...this.catalog.views.keys()])
          if (looked.has(split(k)[0].toLowerCase())) this.catalog.views.delete(k)
        for (const [k, def] of viewDefs) this.catalog.views.set(k, def)
        this.catalog.viewSchemas.clear()
        for (const schema of schemas) this.catalog.viewSchemas.add(schema).add(schema.toLowerCase())
      },
    }
  }

  /**
   * Whether the statement would store values of a masked column where other sessions read them
   * unmasked (`maskedCopy`), judged before it is sent, once its catalog lookup (`lookup`) answered.
   * `stale`: the catalog may not be what the statement will see (the lookup failed, or statements sent
   * before it may change it): any write from other tables is refused.
   */
  storedCopy(m: MysqlMaskStatement, stale: boolean): StoredCopy | undefined {
    if (!hasColumnRules(m.rules)) return undefined
    const r = this.lineageOf(m)
    if (!r.ok) return undefined
    // The catalog answered for this statement: its lineage at the first result is this one.
    if (!stale) m.ready = r
    const writes = r.effects.flat().filter((e): e is StoredWrite => e.kind === 'write')
    return storedCopy(writes, m.rules, {
      dialect: 'mysql',
      stale,
      inFlight: false,
      match: this.columnMatch(),
      sessionOnly: new Set(this.taints),
    })
  }

  /** The statement's lineage: computed when it was sent, or now over the catalog as cached. */
  private lineageOf(m: MysqlMaskStatement): MysqlLineageResult {
    const exact = this.exactNames === true
    return m.ready ?? lineageMysql(m.sql, this.catalog, schemaFor(m, exact), this.prepared, exact)
  }

  /** How rules name columns on this server (made once the server said how it compares names). */
  private columnMatch(): ColumnMatch {
    return (this.match ??= mysqlColumnMatch(this.exactNames === true, this.folded))
  }

  /** The current statement's lineage (computed once, when its first result arrives). */
  private current(
    m: MysqlMaskStatement,
  ): StatementLineage & {diagnostics?: boolean; copiesToSystemVariable?: boolean} {
    // Detect rules alone need no lineage: every text field is scanned whatever it comes from.
    if (!m.rules.some((r) => (r.columns?.length ?? 0) > 0)) return NO_COLUMN_RULES
    if (m.lineage === undefined) {
      const r = this.lineageOf(m)
      m.lineage = r.ok ? r.statements : null
      m.effects = r.ok ? r.effects : []
      // A statement of unknown shape (CALL) can return several results: later ones cannot be placed.
      if (
        m.lineage !== null &&
        m.lineage.length > 1 &&
        m.lineage.some((l) => l.columns === null && l.readsUnknown)
      )
        m.lineage = null
      if (r.ok) for (const effects of r.effects) this.taint(m, effects)
      if (r.ok && r.statements.some((l) => l.copiesToSystemVariable === true)) {
        this.catalog.systemVariablesCopied = true
        this.cache = new Lru(1_000)
      }
      if (
        runsStoredCode(m.code, this.catalog.storedCode) ||
        (r.ok && r.statements.some((l) => l.runsCode === true))
      )
        this.taintAll(m)
    }
    const l = m.lineage === null ? UNKNOWN : (m.lineage[m.index] ?? UNKNOWN)
    if (this.reads(m, l)) this.readMasked = true
    return l
  }

  /** True when a statement's lineage reads something a column rule masks, or something unknown. */
  private reads(m: MysqlMaskStatement, l: StatementLineage): boolean {
    const columnRules = m.rules.filter((r) => (r.columns?.length ?? 0) > 0)
    if (columnRules.length === 0) return false
    return l.readsUnknown || l.reads.some((c) => ruleFor(columnRules, c) !== undefined)
  }

  /**
   * True when the current statement keeps a value it computed for the session (`LAST_INSERT_ID(expr)`)
   * and reads masked columns: its OK's last-insert-id may carry that value.
   */
  keepsMasked(m: MysqlMaskStatement): boolean {
    const l = this.current(m)
    return l.copiesToSystemVariable === true && this.reads(m, l)
  }

  /**
   * True when the current statement may read a masked column (its error text is withheld): lineage
   * says so, or it names a table a column rule covers anywhere (an error in a WHERE subquery, which
   * lineage does not follow, quotes the value as well).
   */
  readsMasked(m: MysqlMaskStatement): boolean {
    if (this.reads(m, this.current(m))) return true
    const tableGlobs = m.rules.flatMap((r) => (r.columns ?? []).map((c) => c.slice(0, c.lastIndexOf('.'))))
    return tableGlobs.some((g) => {
      const match = compileTableGlob(g)
      return m.tables.some((t) => match(t))
    })
  }

  /** The row masker of a result set with these columns; undefined when no column is masked. */
  plan(
    m: MysqlMaskStatement,
    cols: readonly ColumnDef[],
    binary: boolean,
    /** False when text results come in a charset masking cannot read (charset.ts `maskableCharset`). */
    readableText = true,
  ): MysqlRowMasker | undefined {
    let lineage: StatementLineage = this.current(m)
    // Warnings and errors of the statement before can quote the values it read.
    if ((lineage as MysqlStatementLineage).diagnostics === true && this.readMasked) lineage = UNKNOWN
    lineage = checkLabels(lineage, cols)
    const fields: PlanField[] = cols.map((c) => ({
      name: c.name,
      // Derived tables and CTEs also name themselves here; lineage has their sources.
      direct: c.orgTable === '' ? null : `${c.schema}.${c.orgTable}.${c.orgName}`,
      typeCategory: columnCategory(c),
    }))
    let plans = planMasking(m.rules, fields, lineage, this.columnMatch())
    // Text the classifiers cannot read, nor the styles write: every text value is withheld (fail closed).
    const unreadable = m.rules[0]
    if (!readableText && unreadable !== undefined)
      plans = plans.map((p, i) =>
        fields[i]?.typeCategory === 'text'
          ? {kind: 'column', rule: p?.kind === 'column' ? p.rule : unreadable.name, style: 'null'}
          : p,
      )
    plans.forEach((p, i) => {
      if (p?.kind === 'column') m.masked.add(`${cols[i]?.name ?? ''}:${p.rule}`)
    })
    const masks = columnMasks(plans, cols)
    if (masks === null) return undefined
    return new MysqlRowMasker(
      masks,
      cols.map((c) => c.type),
      binary,
      this.key,
      m.fired,
    )
  }

  /** The current statement of the query completed: the next result belongs to the next one. */
  completed(m: MysqlMaskStatement): void {
    // Computes lineage (and the tables it fills) for statements that returned no rows too.
    this.current(m)
    for (const e of m.effects[m.index] ?? []) {
      if (e.kind === 'prepare') this.prepared.set(e.name, {diagnostics: false, ...e.lineage})
      else if (e.kind === 'deallocate') this.prepared.delete(e.name)
    }
    m.index++
  }

  /** What the audit event lists as masked. */
  auditMasked(m: MysqlMaskStatement): string[] | undefined {
    if (m.masked.size === 0 && m.fired.size === 0) return undefined
    return [...m.masked, ...[...m.fired].map((r) => `*:${r}`)]
  }

  /**
   * The statement runs stored code, which may copy what it reads anywhere (another table, a variable):
   * every column of every table is masked from now on with the strictest column rule's style, this
   * statement's results included.
   */
  private taintAll(m: MysqlMaskStatement): void {
    this.readMasked = true
    const strictest = strictestRule(m.rules.filter((r) => (r.columns?.length ?? 0) > 0))
    if (strictest === undefined) return
    const rule: MaskingRule = {name: strictest.name, columns: [EVERY_COLUMN], style: strictest.style}
    this.folded.add(rule)
    if (!this.taints.some((t) => t.columns?.[0] === EVERY_COLUMN)) this.taints.push(rule)
    if (!m.rules.some((r) => r.columns?.[0] === EVERY_COLUMN)) m.rules = [...m.rules, rule]
    this.cache = new Lru(1_000)
  }

  /** A table filled from masked (or unknown) columns is masked whole, with the strictest rule involved. */
  private taint(m: MysqlMaskStatement, effects: readonly LineageEffect[]): void {
    const columnRules = m.rules.filter((r) => (r.columns?.length ?? 0) > 0)
    const match = this.columnMatch()
    for (const e of effects) {
      if (e.kind !== 'write') continue
      // A persistent table that stores no masked value outside its rule (copies were refused before
      // they ran) is not masked whole.
      if (!e.temporary && !e.unknown && maskedCopy(e, m.rules, match) === undefined) continue
      const hits =
        e.unknown === true
          ? columnRules
          : columnRules.filter((r) => (e.reads ?? []).some((c) => ruleFor([r], c)))
      const strictest = strictestRule(hits)
      if (strictest === undefined) continue
      const rule: MaskingRule = {name: strictest.name, columns: [`${e.table}.*`], style: strictest.style}
      this.folded.add(rule)
      this.taints.push(rule)
    }
  }
}

/** The schema unqualified names resolve in, as lineage compares names. */
function schemaFor(m: MysqlMaskStatement, exact: boolean): string {
  return exact ? m.schema : m.schema.toLowerCase()
}

/** The cache key of a statement's lineage; undefined when it depends on session state or cannot be shaped. */
function cacheKey(m: MysqlMaskStatement): string | undefined {
  if (/\b(PREPARE|EXECUTE|DEALLOCATE|USE)\b/i.test(m.sql)) return undefined
  const shape = normalizeMysql(m.sql)
  return shape === null ? undefined : `${m.schema}\0${shape}`
}

/**
 * A lineage column whose name differs from the column's label is wrong somewhere (the catalog went
 * stale: another session altered the table): it is opaque, so it is masked if anything could be.
 */
function checkLabels(l: StatementLineage, cols: readonly ColumnDef[]): StatementLineage {
  const lc = l.columns
  if (lc === null || lc.length !== cols.length) return l
  let changed = false
  const columns = lc.map((c, i) => {
    const label = cols[i]?.name.toLowerCase() ?? ''
    if (c.name === '' || c.opaque || c.name === label) return c
    changed = true
    return {...c, opaque: true}
  })
  return changed ? {...l, columns} : l
}
