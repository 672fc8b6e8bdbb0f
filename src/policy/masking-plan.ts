/**
 * The masking plan: for each field of a result, whether and how to mask it, from the masking rules
 * that apply to this session, the field's own column (RowDescription) and the statement's lineage.
 * Fails closed: a field whose lineage is unknown is masked whenever it might carry a masked column.
 */
import {anyMatch, compileGlob, type GlobMatcher} from './glob.js'
import type {LineageEffect, StatementLineage} from './lineage/types.js'
import type {Classifier, MaskingRule, MaskStyle, Operation} from './types.js'
import {pureFunction} from './lineage/functions.js'

/** One field of a result as the proxy sees it. */
export interface PlanField {
  readonly name: string
  /** `schema.table.column` resolved from RowDescription's table OID and column number; null when OID is 0. */
  readonly direct: string | null
  /**
   * `text` when the value's text form can hold free text (text, varchar, char, name, json, jsonb, xml,
   * unknown, arrays, records and other types dbgate does not know: see `typeCategory`); `other` for the
   * rest (numbers, dates, booleans, uuid, bytea...), on which classifiers never run.
   */
  readonly typeCategory: 'text' | 'other'
  /** `direct` is a view's column: it may be computed (a view's column is named for any expression). */
  readonly view?: boolean
}

/** A detect rule as the masker takes it (src/masking DetectRule). */
export interface DetectPlan {
  readonly rule: string
  readonly classifiers: readonly Classifier[]
  readonly style: MaskStyle
}

/**
 * What to do with one field; the same shape as src/masking's FieldMask without `type`, which the proxy
 * adds from the field's type and format: `maskField(bytes, {...plan, type}, key)`. null: forward untouched.
 */
export type FieldPlan =
  | null
  | {
      readonly kind: 'column'
      readonly rule: string
      readonly style: MaskStyle
      /**
       * SQL NULL is masked too: the field is not a stored column's value passed on whole
       * (OutputColumn.whole), so whether it is NULL may answer a question about what it was computed
       * from (`nullif(substr(email, 1, 1), 'a')` is NULL when the address starts with 'a').
       */
      readonly nulls?: true
    }
  | {readonly kind: 'detect'; readonly rules: readonly DetectPlan[]}

/** Strictness of styles (as src/masking ranks them): an uncertain field gets the strictest candidate. */
const STRICTNESS: Readonly<Record<MaskStyle, number>> = {partial: 0, hash: 1, redact: 2, null: 3}

const compiled = new WeakMap<MaskingRule, readonly GlobMatcher[]>()

function matchers(rule: MaskingRule): readonly GlobMatcher[] {
  let m = compiled.get(rule)
  if (m === undefined) {
    m = (rule.columns ?? []).map(compileGlob)
    compiled.set(rule, m)
  }
  return m
}

/** The first rule among `rules` whose column globs match `column` (`schema.table.column`). */
export function ruleFor(rules: readonly MaskingRule[], column: string): MaskingRule | undefined {
  return rules.find((r) => anyMatch(matchers(r), column))
}

/** True when some masking rule names columns (globs); only those need lineage. */
export function hasColumnRules(rules: readonly MaskingRule[]): boolean {
  return rules.some((r) => (r.columns?.length ?? 0) > 0)
}

/**
 * Whether a column rule names a `schema.table.column`: by default every part compares
 * case-insensitively (PostgreSQL folds unquoted names; quoted ones rarely differ only in case).
 */
export type ColumnMatch = (rule: MaskingRule, column: string) => boolean

const caseInsensitive: ColumnMatch = (rule, column) => anyMatch(matchers(rule), column)

function firstMatch(
  rules: readonly MaskingRule[],
  columns: Iterable<string>,
  match: ColumnMatch,
): MaskingRule | undefined {
  const list = [...columns]
  // Policy order decides between rules: the first rule that matches any of the columns.
  return rules.find((r) => list.some((c) => match(r, c)))
}

/**
 * The rule that masks a field whose lineage is uncertain: among the column rules that could match
 * something the statement reads (all of them when it reads something unknown), the strictest, first
 * in policy order on a tie. Undefined when none could: the field cannot carry a masked column.
 */
function strictestCandidate(
  rules: readonly MaskingRule[],
  lineage: StatementLineage | undefined,
  match: ColumnMatch,
): MaskingRule | undefined {
  if (lineage === undefined || lineage.readsUnknown) return strictestRule(rules)
  return strictestRule(rules, (r) => lineage.reads.some((c) => match(r, c)))
}

/** The strictest of the rules `take` accepts (all of them by default), first in policy order on a tie. */
export function strictestRule(
  rules: readonly MaskingRule[],
  take: (rule: MaskingRule) => boolean = () => true,
): MaskingRule | undefined {
  let best: MaskingRule | undefined
  for (const r of rules)
    if (take(r) && (best === undefined || STRICTNESS[r.style] > STRICTNESS[best.style])) best = r
  return best
}

/**
 * The plan for each field of a result. `rules` are the masking rules that apply to this session
 * (Decision.masking); `lineage` is the statement's (undefined when unknown: every field is then
 * uncertain). A field is masked whole when its own column or any of its lineage sources matches a
 * column rule (first rule in policy order), or when its lineage is uncertain and the statement might
 * read a masked column (strictest such rule). Otherwise text fields go to the detect rules, if any.
 * `match` says whether a rule names a column (MySQL passes its own name rules).
 * A field that is not a stored column passed on whole (a computed value: OutputColumn.whole; without
 * lineage, a field RowDescription names no column of) masks NULL too, and is redacted where its rule
 * would keep part of it or hash it: the client shapes a computed value, so what `partial` keeps of it
 * (its first character: `substr(email, k)` shows the k-th) or an equal hash (`UNION ALL SELECT 'a'`
 * beside `substr(email, 1, 1)`) shows the source.
 */
export function planMasking(
  rules: readonly MaskingRule[],
  fields: readonly PlanField[],
  lineage: StatementLineage | undefined,
  match: ColumnMatch = caseInsensitive,
): FieldPlan[] {
  const columnRules = rules.filter((r) => (r.columns?.length ?? 0) > 0)
  const detect: DetectPlan[] = rules
    .filter((r) => (r.detect?.length ?? 0) > 0)
    .map((r) => ({rule: r.name, classifiers: r.detect ?? [], style: r.style}))
  const detectPlan: FieldPlan = detect.length > 0 ? {kind: 'detect', rules: detect} : null
  const computedDetect: FieldPlan =
    detect.length > 0
      ? {kind: 'detect', rules: detect.map((d) => ({...d, style: computedStyle(d.style)}))}
      : null
  /** Detect rules for a text field: their own styles where it holds a stored column whole. */
  const detectFor = (f: PlanField, whole: boolean): FieldPlan =>
    f.typeCategory !== 'text' ? null : whole ? detectPlan : computedDetect
  if (columnRules.length === 0) return fields.map((f) => detectFor(f, f.direct !== null && f.view !== true))
  // Lineage that does not line up with the fields (a misjudged `*`, rows from a rule's action) is
  // wrong somewhere: it says nothing about any field, nor about what the statement reads.
  const columns = lineage?.columns
  const aligned =
    columns !== null && columns !== undefined && columns.length === fields.length ? columns : null
  const trusted = aligned === null && columns !== null ? undefined : lineage
  let fallback: MaskingRule | undefined | null = null
  return fields.map((f, i) => {
    const col = aligned?.[i]
    const named = col ? [...col.sources] : []
    if (f.direct !== null) named.push(f.direct)
    const hit = firstMatch(columnRules, named, match)
    // Without lineage a field is whole only where no column rule could cover what it computes from.
    const whole =
      col !== undefined
        ? col.whole === true
        : lineage === NO_MASKED_READS && f.direct !== null && f.view !== true
    const masked = (rule: MaskingRule): FieldPlan =>
      whole
        ? {kind: 'column', rule: rule.name, style: rule.style}
        : {kind: 'column', rule: rule.name, style: computedStyle(rule.style), nulls: true}
    if (hit) return masked(hit)
    if (!col || col.opaque) {
      if (fallback === null) fallback = strictestCandidate(columnRules, trusted, match)
      if (fallback) return masked(fallback)
    }
    return detectFor(f, whole)
  })
}

/** The style of a computed value: `partial` and `hash` show what the client shaped, so they redact. */
function computedStyle(style: MaskStyle): MaskStyle {
  return style === 'partial' || style === 'hash' ? 'redact' : style
}

/**
 * The lineage to plan with when `mayReadMaskedColumns` said false, without computing lineage: nothing
 * the statement reads is masked, so only direct columns and detect rules can mask a field.
 */
export const NO_MASKED_READS: StatementLineage = Object.freeze({
  columns: null,
  reads: [],
  readsUnknown: false,
})

/**
 * Operation kinds that can return rows whose source the operation's table list does not show (SHOW
 * returns a setting, which set_config() can fill with any value).
 */
const HIDDEN_SOURCES = new Set(['execute', 'call', 'do', 'other', 'show'])

/**
 * Whether a query might return a value of a masked column, from its analysis alone: false means no
 * field can need column masking, so lineage can be skipped (detect rules may still scan text fields).
 * True when unsure: a table the catalog does not know, a view, a function lineage cannot see into, a
 * statement that returns another statement's rows (FETCH, EXECUTE), or a column a rule matches.
 */
export function mayReadMaskedColumns(
  rules: readonly MaskingRule[],
  operations: readonly Operation[],
  catalog: {
    columns(schema: string, table: string): readonly string[] | undefined
    viewDefinition?(schema: string, name: string): string | undefined
  },
): boolean {
  const columnRules = rules.filter((r) => (r.columns?.length ?? 0) > 0)
  if (columnRules.length === 0) return false
  for (const op of operations) {
    if (HIDDEN_SOURCES.has(op.kind)) return true
    // A SELECT that names no table may be a FETCH from a cursor over anything.
    if (op.kind === 'select' && op.tables.length === 0) return true
    if (op.functions.some((f) => pureFunction(f.split('.')) === undefined)) return true
    for (const table of op.tables) {
      const dot = table.indexOf('.')
      const schema = table.slice(0, dot)
      const name = table.slice(dot + 1)
      const names = catalog.columns(schema, name)
      if (names === undefined || catalog.viewDefinition?.(schema, name) !== undefined) return true
      if (names.some((c) => columnRules.some((r) => anyMatch(matchers(r), `${table}.${c}`)))) return true
    }
  }
  return false
}

/** Type OIDs (pg_type) whose text form cannot hold free text: classifiers skip them. */
const NON_TEXT_OIDS = new Set([
  16, // bool
  17, // bytea: shown as hex or escapes, not as the text it may encode
  20, // int8
  21, // int2
  23, // int4
  26, // oid
  28, // xid
  700, // float4
  701, // float8
  790, // money
  1082, // date
  1083, // time
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
  1266, // timetz
  1560, // bit
  1562, // varbit
  1700, // numeric
  2950, // uuid
  869, // inet
  650, // cidr
  829, // macaddr
  3220, // pg_lsn
])

/**
 * The category of a result field by its type OID: `other` only for built-in types whose values
 * cannot spell free text; anything else (text types, json, xml, arrays, records, composites,
 * domains and user types dbgate does not know) is `text`, so detect rules scan it.
 */
export function typeCategory(typeOid: number): 'text' | 'other' {
  return NON_TEXT_OIDS.has(typeOid) ? 'other' : 'text'
}

/** A write effect of lineage: what a statement stores into a relation, and from what. */
export type StoredWrite = Extract<LineageEffect, {kind: 'write'}>

/** A statement that would store a masked column's values where other sessions read them unmasked. */
export interface MaskedCopy {
  /** `schema.table.column` that would hold the values (`schema.table` when the column is unknown). */
  readonly target: string
  /** The masked column copied; undefined when the statement reads something lineage cannot see. */
  readonly source: string | undefined
  /** The masking rule the copy would escape. */
  readonly rule: string
}

const NO_RULES: ReadonlySet<MaskingRule> = new Set()

/**
 * Whether a write stores values of a masked column into a column no rule masks as strictly (a column
 * of another table, another column of the same table, a renamed one). Rules name columns, so such a
 * copy would be read unmasked by every later session. A stored column whose lineage is uncertain may
 * hold anything the statement reads; a write whose columns are unknown may store every column it
 * reads. Fails closed: what lineage cannot see counts as masked (the strictest column rule).
 * `sessionOnly` are rules that mask for this session alone (what it tainted): they mask what the session
 * copies from, but never guard where it copies to, since other sessions do not apply them.
 */
export function maskedCopy(
  write: StoredWrite,
  rules: readonly MaskingRule[],
  match: ColumnMatch = caseInsensitive,
  sessionOnly: ReadonlySet<MaskingRule> = NO_RULES,
): MaskedCopy | undefined {
  const columnRules = rules.filter((r) => (r.columns?.length ?? 0) > 0)
  if (columnRules.length === 0) return undefined
  /** The strictest rule on any of these names. */
  const strictest = (...names: string[]): MaskingRule | undefined =>
    strictestRule(columnRules, (r) => names.some((n) => match(r, n)))
  const escapes = (target: string, sources: readonly string[]): MaskedCopy | undefined => {
    // The stored column under its own name or its parents' (a partition's), as every session masks it.
    const column = target.slice(target.lastIndexOf('.') + 1)
    const names = [target, ...(write.ancestors ?? []).map((a) => `${a}.${column}`)]
    const guard = strictestRule(columnRules, (r) => !sessionOnly.has(r) && names.some((n) => match(r, n)))
    for (const source of sources) {
      const rule = strictest(source)
      if (rule !== undefined && (guard === undefined || STRICTNESS[guard.style] < STRICTNESS[rule.style]))
        return {target, source, rule: rule.name}
    }
    return undefined
  }
  const unknown = (target: string): MaskedCopy | undefined => {
    const rule = strictestRule(columnRules)
    return rule === undefined ? undefined : {target, source: undefined, rule: rule.name}
  }
  if (write.columns === null) return write.unknown ? unknown(write.table) : escapes(write.table, write.reads)
  for (const c of write.columns) {
    const target = `${write.table}.${c.name}`
    const found = !c.opaque
      ? escapes(target, c.sources)
      : write.unknown
        ? unknown(target)
        : escapes(target, write.reads)
    if (found !== undefined) return found
  }
  return undefined
}
