/**
 * A session's masking: per statement, the rules that apply (the decision's, plus tables the session
 * filled from masked columns), the statement's lineage (computed when its first response arrives, so
 * cursors and prepared statements are as the statements before it left them), and per result set the
 * plan that tells the row path which fields to rewrite. Anything unknown fails closed.
 */
import type {MaskKey} from '../../masking/index.js'
import {
  LineageCache,
  applyLineageEffects,
  hasColumnRules,
  lineagePostgres,
  maskedCopy,
  planMasking,
  ruleFor,
  strictestRule,
  typeCategory,
  type CursorLineage,
  type Decision,
  type LineageContext,
  type LineageEffect,
  type LineageResult,
  type MaskingRule,
  type PlanField,
  type StatementLineage,
  type StoredWrite,
} from '../../policy/index.js'
import {EVERY_COLUMN, judgedBeforeSent, storedCopy, type StoredCopy} from '../stored-copy.js'
import {SessionCatalog, type SideQuery} from './catalog.js'
import type {CopyMasker} from './mask-copy.js'
import {fieldMasks, RowMasker, type ResultField} from './mask-rows.js'
import {lazyRowKernel} from './row-kernel.js'
import {SearchPath} from './search-path.js'

/** Masking state of one running statement (one Query, or one Execute of a portal). */
export interface MaskStatement {
  readonly sql: string
  /** The rules that apply; grows when the statement turns out to run code the proxy cannot see. */
  rules: readonly MaskingRule[]
  /** Functions the statement calls, as the analysis names them (`name` or `schema.name`). */
  readonly functions: readonly string[]
  /** DO or CALL: code the proxy cannot see. */
  readonly runsCode: boolean
  /** True once the called functions were checked for user-defined ones. */
  codeChecked: boolean
  /** Per top-level statement; null when lineage is unknown; undefined until computed. */
  lineage: readonly StatementLineage[] | null | undefined
  effects: readonly (readonly LineageEffect[])[]
  /** The top-level statement whose results are arriving. */
  index: number
  /** The current result set's row masker; undefined: rows go through as they are. */
  rows: RowMasker | undefined
  /** The current COPY TO STDOUT's masker. */
  copy: CopyMasker | undefined
  /** Catalog loads done for this statement (bounded: what is still unknown after them fails closed). */
  loads: number
  /** Output columns masked (`field:rule`), for the audit event. */
  readonly masked: Set<string>
  readonly fired: Set<string>
  /**
   * Whether the statement may store rows (CREATE TABLE AS, INSERT, UPDATE, MERGE, ALTER) and how its
   * copies can be judged before it runs: `columns` per stored column (the catalog is as the statement
   * will see it; a statement after DDL in the same query counts as stale), `stale` not at all (DDL
   * earlier in the transaction, or an unknown search_path: any write from other relations is refused);
   * undefined: it stores nothing.
   */
  readonly stores: 'columns' | 'stale' | undefined
  /**
   * The lineage `storedCopy` computed before a one-statement query was sent, with the catalog as that
   * statement sees it (once sent, its own DDL would make the catalog count as stale).
   */
  judged: LineageResult | undefined
}

/** Operation kinds after which the session's own catalog view may be stale. */
const DDL_KINDS = new Set(['create', 'alter', 'drop', 'comment', 'other', 'do', 'call'])
/** Operation kinds after which cached catalog and lineage are dropped (a SET may change name resolution). */
const INVALIDATING_KINDS = new Set([...DDL_KINDS, 'set'])
const MAX_LOADS = 4

/** Built-ins that run SQL given as text: as opaque as a user-defined function. */
const RUNS_SQL = new Set([
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'ts_stat',
  'ts_rewrite',
])
/** Schemas whose functions are the server's own. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema'])

/** One session's masking state. */
export class MaskSession {
  readonly catalog: SessionCatalog
  private readonly lineageCache: LineageCache
  readonly cursors = new Map<string, CursorLineage>()
  readonly prepared = new Map<string, StatementLineage>()
  /** Tables the session filled from masked columns: all their columns are masked like the source. */
  private readonly taints: MaskingRule[] = []
  /** True once a statement may have read a masked column: notification payloads are then redacted. */
  readMasked = false
  private readonly columnRules: boolean
  /** The session's row kernel, made when a result first needs it. */
  private readonly rowKernel = lazyRowKernel()
  /** The search_path unqualified names resolve on. */
  private readonly path = new SearchPath(() => {
    this.catalog.resetPath()
    this.lineageCache.clear()
  })

  constructor(
    side: SideQuery,
    readonly key: MaskKey,
    /** All masking rules of the policy: for a statement the proxy could not tie to a decision. */
    private readonly allRules: readonly MaskingRule[],
    /** search_path from the startup packet (options=-c search_path=...), if any. */
    private readonly startupPath?: string,
  ) {
    this.catalog = new SessionCatalog(side)
    this.columnRules = allRules.some((r) => (r.columns?.length ?? 0) > 0)
    this.lineageCache = new LineageCache(this.catalog)
  }

  /** The masking state of an allowed statement about to run; undefined when nothing can be masked. */
  statement(sql: string, decision: Decision | undefined): MaskStatement | undefined {
    const m = this.draft(sql, decision)
    this.started(sql, decision, m)
    return m
  }

  /**
   * The masking state of a statement not sent yet (its copies are judged first: `storedCopy`); call
   * `started` once it is sent. undefined when nothing can be masked.
   */
  draft(sql: string, decision: Decision | undefined): MaskStatement | undefined {
    // A policy without masking rules costs one comparison per statement.
    if (this.allRules.length === 0) return undefined
    // Views an earlier statement read are read again: another session may have redefined them.
    if (this.catalog.forgetViews()) this.lineageCache.clear()
    const ops = decision?.operations ?? []
    const base = decision === undefined ? this.allRules : decision.masking
    if (base.length === 0 && this.taints.length === 0) return undefined
    // Judged before the statement is sent: the catalog is as it (the first of its query) will see it.
    const stores = !judgedBeforeSent(decision)
      ? undefined
      : this.path.unknown || this.path.ddl
        ? 'stale'
        : 'columns'
    return {
      sql: decision === undefined ? '' : sql,
      rules: this.taints.length === 0 ? base : [...base, ...this.taints],
      functions: ops.flatMap((o) => o.functions),
      runsCode: ops.some((o) => o.kind === 'do' || o.kind === 'call'),
      codeChecked: false,
      lineage: undefined,
      effects: [],
      index: 0,
      rows: undefined,
      copy: undefined,
      loads: 0,
      masked: new Set(),
      fired: new Set(),
      stores,
      judged: undefined,
    }
  }

  /** A statement (with its draft `m`) is sent to the server: what it may change is followed from now on. */
  started(sql: string, decision: Decision | undefined, m: MaskStatement | undefined): void {
    if (this.allRules.length === 0) return
    const ops = decision?.operations ?? []
    if (ops.some((o) => INVALIDATING_KINDS.has(o.kind))) this.invalidate()
    if (ops.some((o) => DDL_KINDS.has(o.kind))) this.path.ranDdl()
    // set_config() can change search_path where no statement shows it.
    if (ops.some((o) => o.functions.some((f) => /(^|\.)set_config$/i.test(f)))) this.path.unknown = true
    if (m !== undefined || !this.columnRules) return
    // Its effects are not followed: a path it sets, or the end of a transaction that set one, is unknown.
    this.path.unfollowed(sql)
    // Nor the temporary relations it makes: every relation it names may be one.
    if (/temp/i.test(sql))
      for (const t of ops.flatMap((o) => o.tables)) this.addTemporary(t.slice(t.indexOf('.') + 1))
  }

  /** Drops cached catalog and lineage (the session ran DDL or changed settings). */
  invalidate(): void {
    this.catalog.invalidate()
    this.lineageCache.clear()
  }

  /** An ErrorResponse arrived: the transaction failed, what it set will be undone. */
  failed(): void {
    this.path.failed()
  }

  /**
   * ReadyForQuery with this transaction status (`I` idle, `T` in a transaction, `E` failed): at the
   * end of a transaction the search_path it set is kept or undone, and the catalog is read again if
   * the session ran DDL in it (the side connection saw none of it while it was open).
   */
  ready(status: number | undefined): void {
    if (this.path.ready(status)) this.invalidate()
  }

  /**
   * Makes the statement's lineage known; a Promise when the catalog must be loaded first (call again
   * after it settles). Only statements under column rules need lineage.
   */
  ensureLineage(m: MaskStatement): Promise<void> | undefined {
    if (m.lineage !== undefined) return undefined
    if (!m.rules.some((r) => (r.columns?.length ?? 0) > 0)) {
      m.lineage = []
      return undefined
    }
    if (!m.codeChecked) {
      const pending = this.checkCode(m)
      if (pending !== undefined) return pending
    }
    if (m.judged !== undefined) return this.applyLineage(m, m.judged)
    // The side connection sees the catalog as committed: after DDL in the session's open transaction
    // (or earlier in the same query) a name may stand for something else (CREATE OR REPLACE VIEW).
    if (this.path.unknown || this.path.ddl) return this.staleLineage(m)
    const r = this.committedLineage(m)
    return r instanceof Promise ? r : this.applyLineage(m, r)
  }

  /**
   * The query's lineage over the catalog as committed; a Promise when the search path or relations
   * must be loaded first (call again after it settles; what is still missing after MAX_LOADS is unknown).
   */
  private committedLineage(m: MaskStatement): LineageResult | Promise<void> {
    if (!this.catalog.pathLoaded) return this.loadPath(m)
    this.catalog.misses.clear()
    this.catalog.codeMisses.clear()
    const r = this.lineageCache.lineage(m.sql, this.lineageContext())
    const misses = this.catalog.misses.size + this.catalog.codeMisses.size
    if (misses > 0 && m.loads < MAX_LOADS) return this.load(m, [], [...this.catalog.misses])
    return r
  }

  private applyLineage(m: MaskStatement, r: LineageResult): undefined {
    m.lineage = r.ok ? r.statements : null
    this.follow(m, r.ok ? r.effects : [], m.lineage?.some((l) => l.runsCode === true) === true)
    if (!this.readMasked) this.readMasked = m.lineage === null || m.lineage.some((l) => this.reads(m, l))
    return undefined
  }

  /**
   * Whether the statement would store values of a masked column where other sessions read them
   * unmasked (`maskedCopy`: a column of a persistent table no rule masks as strictly), judged before it
   * runs. Temporary targets are the session's own: their taint masks them for the rest of it. A
   * Promise when the catalog must be loaded first (call again after it settles). `inFlight`: earlier
   * statements still run, so the catalog and search_path may not be what this one will see.
   */
  storedCopy(m: MaskStatement, inFlight: boolean): StoredCopy | undefined | Promise<void> {
    if (m.stores === undefined || !hasColumnRules(m.rules)) return undefined
    const r = this.committedLineage(m)
    if (r instanceof Promise) return r
    // SQL the parser cannot read, the server cannot run either.
    if (!r.ok) return undefined
    if (m.stores === 'columns' && !inFlight && r.statements.length === 1) m.judged = r
    const writes = r.effects.flat().filter((e): e is StoredWrite => e.kind === 'write')
    return storedCopy(writes, m.rules, {
      dialect: 'postgres',
      stale: m.stores === 'stale',
      inFlight,
      sessionOnly: new Set(this.taints),
    })
  }

  /**
   * True when any statement of the query may read a masked column: what the server reports once the
   * query ends (ParameterStatus comes after the last CommandComplete) may carry it.
   */
  queryReadsMasked(m: MaskStatement): boolean {
    if (!m.rules.some((r) => (r.columns?.length ?? 0) > 0)) return false
    return m.lineage == null || m.lineage.some((l) => this.reads(m, l))
  }

  private lineageContext(): LineageContext {
    return {defaultSchema: 'public', cursors: this.cursors, prepared: this.prepared}
  }

  /**
   * Lineage while the session catalog may be stale (DDL in the open transaction) or the path is
   * unknown: nothing about the result is trusted, but the statement's effects (the search_path it
   * sets, cursors, tables it fills, temporary relations) are still followed, failing closed.
   */
  private staleLineage(m: MaskStatement): Promise<void> | undefined {
    this.catalog.codeMisses.clear()
    const r = lineagePostgres(m.sql, this.catalog, this.lineageContext())
    // Operators and casts as committed (relations are not read again until the transaction ends).
    if (this.catalog.codeMisses.size > 0 && m.loads < MAX_LOADS) return this.load(m, [], [])
    this.readMasked = true
    const effects = r.ok
      ? r.effects.map((list) => list.map((e) => (e.kind === 'write' ? {...e, unknown: true} : e)))
      : []
    this.follow(m, effects, r.ok && r.statements.some((l) => l.runsCode === true))
    m.lineage = null
    return undefined
  }

  /**
   * Takes a statement's effects: tables it fills are tainted, temporary relations remembered, and
   * code it may run masks the session. (SQL the parser cannot read, the server cannot run either.)
   */
  private follow(m: MaskStatement, effects: readonly (readonly LineageEffect[])[], runsCode: boolean): void {
    m.effects = effects
    for (const list of effects) for (const e of list) if (e.kind === 'temporary') this.addTemporary(e.name)
    this.taint(m)
    if (runsCode) this.taintAll(m)
  }

  private addTemporary(name: string): void {
    if (this.catalog.temporary(name)) return
    this.catalog.addTemporary(name)
    this.lineageCache.clear()
  }

  /**
   * A statement that runs code the proxy cannot see (a user-defined function, DO, CALL, a built-in
   * that runs SQL text) may copy masked values anywhere: into its result, another table, a setting.
   * From then on every column of every relation is masked for the rest of the session, this
   * statement's result included (fail closed). A Promise when function names must be looked up first.
   */
  private checkCode(m: MaskStatement): Promise<void> | undefined {
    const unseen = this.unseenCode(m)
    if (Array.isArray(unseen)) return this.loadFunctions(m, unseen)
    m.codeChecked = true
    if (unseen) this.taintAll(m)
    return undefined
  }

  /** True when the statement runs unseen code, false when not, or the function names to look up. */
  private unseenCode(m: MaskStatement): boolean | string[] {
    if (m.runsCode) return true
    const load: string[] = []
    for (const f of m.functions) {
      const dot = f.lastIndexOf('.')
      const name = f.slice(dot + 1).toLowerCase()
      if (dot >= 0 && !SYSTEM_SCHEMAS.has(f.slice(0, dot).toLowerCase())) return true
      if (RUNS_SQL.has(name)) return true
      const user = this.catalog.userFunction(name)
      // A lookup that failed or kept missing: unknown, and unknown is unseen.
      if (user === true || (user === undefined && m.loads >= MAX_LOADS)) return true
      if (user === undefined) load.push(name)
    }
    return load.length > 0 ? [...new Set(load)] : false
  }

  private async loadFunctions(m: MaskStatement, names: string[]): Promise<void> {
    m.loads++
    try {
      await this.catalog.loadFunctions(names)
    } catch {
      m.loads = MAX_LOADS
    }
  }

  /** Masks every column of every relation from now on, with the strictest column rule's style. */
  private taintAll(m: MaskStatement): void {
    this.readMasked = true
    if (m.rules.some((r) => r.columns?.[0] === EVERY_COLUMN)) return
    const strictest = strictestRule(m.rules, (r) => (r.columns?.length ?? 0) > 0)
    if (strictest === undefined) return
    const rule: MaskingRule = {name: strictest.name, columns: [EVERY_COLUMN], style: strictest.style}
    if (!this.taints.some((t) => t.columns?.[0] === EVERY_COLUMN)) this.taints.push(rule)
    m.rules = [...m.rules, rule]
    this.lineageCache.clear()
  }

  private async loadPath(m: MaskStatement): Promise<void> {
    m.loads++
    try {
      await this.catalog.loadPath(this.path.current ?? this.startupPath)
    } catch {
      // A path the side connection cannot take (or no side connection): unknown, and unknown is masked.
      this.path.unknown = true
    }
  }

  /** True when a statement's lineage reads something a column rule masks, or something unknown. */
  private reads(m: MaskStatement, l: StatementLineage): boolean {
    if (l.readsUnknown) return true
    const columnRules = m.rules.filter((r) => (r.columns?.length ?? 0) > 0)
    return l.reads.some((c) => ruleFor(columnRules, c) !== undefined)
  }

  /** Applies the current statement's effects (it completed) and moves to the next statement. */
  completed(m: MaskStatement): void {
    const effects = m.effects[m.index]
    if (effects !== undefined) {
      applyLineageEffects(this, effects)
      this.path.follow(effects)
    }
    m.index++
    m.rows = undefined
    m.copy = undefined
  }

  /** True when the current statement may read a masked column (its errors and notices get scrubbed). */
  readsMasked(m: MaskStatement): boolean {
    if (!m.rules.some((r) => (r.columns?.length ?? 0) > 0)) return false
    const l = m.lineage === null ? undefined : m.lineage?.[m.index]
    return l === undefined || this.reads(m, l)
  }

  /**
   * The row masker of a result set with these fields, undefined when no field is masked; a Promise
   * when relations must be looked up first (call again after it settles).
   */
  plan(m: MaskStatement, fields: readonly ResultField[]): RowMasker | undefined | Promise<void> {
    const pending = this.ensureLineage(m)
    if (pending !== undefined) return pending
    const stale = fields.filter((f) => f.tableOid !== 0 && !this.resolves(f)).map((f) => f.tableOid)
    if (stale.length > 0 && m.loads < MAX_LOADS) return this.load(m, [...new Set(stale)], [])
    const unresolved = new Set<number>()
    const planFields: PlanField[] = fields.map((f, i) => {
      const direct = this.direct(f)
      if (direct === undefined) unresolved.add(i)
      const view = f.tableOid !== 0 && this.catalog.relation(f.tableOid)?.definition !== undefined
      return {name: f.name, direct: direct ?? null, typeCategory: typeCategory(f.typeOid), view}
    })
    const plans = planMasking(m.rules, planFields, this.lineageOf(m, unresolved, fields.length))
    plans.forEach((p, i) => {
      if (p?.kind === 'column') m.masked.add(`${fields[i]?.name ?? ''}:${p.rule}`)
    })
    const masks = fieldMasks(plans, fields)
    return masks === null ? undefined : new RowMasker(masks, this.key, m.fired, this.rowKernel)
  }

  /** Lineage for planning; fields whose relation could not be resolved become opaque (fail closed). */
  private lineageOf(
    m: MaskStatement,
    unresolved: ReadonlySet<number>,
    n: number,
  ): StatementLineage | undefined {
    const l = m.lineage === null ? undefined : m.lineage?.[m.index]
    if (l === undefined || unresolved.size === 0) return l
    const columns = l.columns !== null && l.columns.length === n ? l.columns : undefined
    if (columns === undefined) return {...l, readsUnknown: true}
    return {
      ...l,
      columns: columns.map((c, i) => (unresolved.has(i) ? {...c, opaque: true} : c)),
      readsUnknown: true,
    }
  }

  /** True when the field's relation is cached and its column name agrees with the field's label. */
  private resolves(f: ResultField): boolean {
    const rel = this.catalog.relation(f.tableOid)
    if (rel === undefined) return false
    // A label that differs may be an alias, or a rename the cache missed: look again (once per statement).
    return f.attnum <= 0 || rel.attnames[f.attnum] === f.name
  }

  /** `schema.table.column` of a field; null for a whole-row or computed field; undefined when unresolved. */
  private direct(f: ResultField): string | null | undefined {
    if (f.tableOid === 0) return null
    const rel = this.catalog.relation(f.tableOid)
    if (rel === undefined) return undefined
    if (f.attnum <= 0) return null
    const col = rel.attnames[f.attnum]
    return col === undefined ? undefined : `${rel.schema}.${rel.name}.${col}`
  }

  private async load(m: MaskStatement, oids: number[], names: string[]): Promise<void> {
    m.loads++
    // Each lookup on its own: a relation locked by the session's open transaction (its DDL) times the
    // first out, and functions, operators and casts can still be known.
    const lookups = [
      () => this.catalog.load(oids, names),
      () => this.catalog.loadCode([...this.catalog.codeMisses]),
    ]
    for (const lookup of lookups) {
      try {
        await lookup()
      } catch {
        // The lookup failed: what it was for stays unknown, and unknown is masked.
        m.loads = MAX_LOADS
      }
    }
  }

  /**
   * Tables written from data that may hold masked columns (CREATE TABLE AS, SELECT INTO, INSERT ...
   * SELECT) are masked whole for the rest of the session, with the strictest rule involved. A write
   * into a persistent table that stores no masked value outside its rule (`maskedCopy`; copies were
   * refused before they ran) taints nothing.
   */
  private taint(m: MaskStatement): void {
    for (const effects of m.effects)
      for (const e of effects) {
        if (e.kind !== 'write') continue
        if (!e.temporary && !e.unknown && maskedCopy(e, m.rules) === undefined) continue
        const columnRules = m.rules.filter((r) => (r.columns?.length ?? 0) > 0)
        const hits = e.unknown ? columnRules : columnRules.filter((r) => e.reads.some((c) => ruleFor([r], c)))
        const strictest = strictestRule(hits)
        if (strictest === undefined) continue
        const table = e.table.slice(e.table.indexOf('.') + 1)
        this.taints.push({name: strictest.name, columns: [`*.${table}.*`], style: strictest.style})
        this.lineageCache.clear()
      }
  }
}
