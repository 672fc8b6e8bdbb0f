/**
 * Classifies the WHERE clause of an UPDATE or DELETE: `absent` when it cannot restrict the rows.
 *
 * The clause is evaluated with SQL's three-valued logic over five kinds of value: a constant
 * (boolean, exact number, string, NULL), `filter` (depends on the row: a column, CURRENT OF, a
 * volatile function) and `opaque` (the same for every row but not computed here: a parameter, a
 * function of constants, an operator not modelled). A clause that is true or opaque is `absent`:
 * it passes every row or none, and failing closed here means an unbounded-write rule still applies.
 *
 * `lit` marks values whose kind or value depended on literal values, so that two statements differing
 * only in literals get the same `literalSensitive` (and the same classification when it is false).
 */
import {type AstObject, isObject, list, listItems, obj, str, stringList, unwrap} from './ast.js'
import {
  arithmetic,
  compareDecimal,
  decimalToBoolean,
  fromInteger,
  parseBoolean,
  parseDecimal,
} from './consts.js'
import {likePattern, printableAscii} from '../like-pattern.js'
import {fewestNotNull, NEVER_NULL} from '../not-null.js'
import {
  COMPARE,
  OPAQUE,
  operatorName,
  restricts,
  sampling,
  type Sampling,
  tautology,
  term,
  termKey,
  underNullTest,
  type Val,
  volatile,
  volatileCall,
  withSampling,
} from './where-terms.js'
import {
  selfJoinEquality,
  selfMatch,
  selfMatchArray,
  targetColumn,
  type SelfMatch,
  type WriteTarget,
} from './where-self.js'

/** The WHERE state of an UPDATE/DELETE and whether deciding it looked at literal values. */
export interface WhereResult {
  readonly where: 'present' | 'absent'
  readonly literalSensitive: boolean
  /** A `present` WHERE that only drops rows where these columns of the target are NULL. */
  readonly notNull?: readonly string[]
}

const ABSENT: WhereResult = {where: 'absent', literalSensitive: false}

/** The table the clause being classified belongs to, if known: for its self-matches (where-self.ts). */
let target: WriteTarget | undefined

/** Classifies a WHERE clause (undefined: none) of a write to `of`, if given. */
export function classifyWhere(clause: unknown, of?: WriteTarget): WhereResult {
  if (clause === undefined) return ABSENT
  const outer = target
  target = of
  try {
    return withSampling(
      () => truth(ev(clause)),
      (s, v): WhereResult => {
        const absent = (v.k === 'bool' && v.v) || v.k === 'opaque'
        if (v.k !== 'filter' || restricts(clause))
          return {where: absent ? 'absent' : 'present', literalSensitive: v.lit}
        // A filter of another shape may still pass every row (where-terms.ts); the samples are the
        // clause's constants, so the verdict depends on literal values whenever it has any.
        const everywhere = tautology(s, () => truth(ev(clause)))
        const literalSensitive = v.lit || s.constants.length > 0 || s.innerLiterals
        if (everywhere) return {where: 'absent', literalSensitive}
        const nulls = nullsOnly(s, () => truth(ev(clause)))
        // Only columns that are never NULL were tested: the clause passes every row.
        if (nulls?.notNull.length === 0) return {where: 'absent', literalSensitive}
        return {where: 'present', literalSensitive, ...nulls}
      },
    )
  } finally {
    target = outer
  }
}

/**
 * The target's columns that, if NOT NULL, make the clause true everywhere (`id is not null`, `id is null
 * or id > 0 or id <= 0`): the clause's NULL-tested terms that are plain columns of the target.
 */
function nullsOnly(s: Sampling, evaluate: () => Val): {notNull: string[]} | undefined {
  if (target === undefined) return undefined
  const found: {key: string; column: string}[] = []
  for (const [key, tested] of s.terms) {
    const column = tested ? targetColumn(s.columns.get(key), target) : undefined
    if (column !== undefined) found.push({key, column})
  }
  const notNull = fewestNotNull(found, (keys) => tautology(s, evaluate, keys), NEVER_NULL.postgres)
  return notNull === undefined ? undefined : {notNull}
}

/**
 * A test of the target against itself is true wherever its column is not NULL, as `id = id`, when the
 * subquery's own WHERE restricts nothing; undefined when it is no such test. When literal values decided
 * that the subquery's WHERE restricts, the test is a filter that says so.
 */
function selfTest(m: SelfMatch): Val | undefined {
  if (m === undefined) return undefined
  const inner = classifyWhere(m.innerWhere)
  // Its constants are not the sampled clause's: the clause's verdict still depends on them.
  if (inner.literalSensitive && sampling !== undefined && sampling.world === undefined)
    sampling.innerLiterals = true
  if (inner.where === 'absent') return {k: 'bool', v: true, lit: inner.literalSensitive}
  return inner.literalSensitive ? {k: 'filter', lit: true} : undefined
}

/** True when a subtree reads the current row: a column, CURRENT OF, or a volatile function. */
function dependsOnRow(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(dependsOnRow)
  if (!isObject(value)) return false
  const t = unwrap(value)
  // An unqualified `*` (`exists (select * from t)`, `exists (table t)`) is the subquery's own columns.
  if (t?.type === 'ColumnRef' && starOnly(t.node)) return false
  if (t?.type === 'ColumnRef' || t?.type === 'CurrentOfExpr' || volatileCall(value)) return true
  for (const key in value) if (dependsOnRow(value[key])) return true
  return false
}

/** A ColumnRef that is `*` alone. */
function starOnly(node: AstObject): boolean {
  const fields = list(node, 'fields')
  return fields.length === 1 && unwrap(fields[0])?.type === 'A_Star'
}

function ev(value: unknown): Val {
  const t = unwrap(value)
  if (!t) return dependsOnRow(value) ? term(value) : OPAQUE
  switch (t.type) {
    case 'A_Const': {
      const c = constant(t.node)
      // The first pass of a sampling records the constants: they are the sampled values (where-terms.ts).
      if (sampling !== undefined && sampling.world === undefined) sampling.constants.push(c)
      return c
    }
    case 'ColumnRef':
    case 'CurrentOfExpr':
      return term(value)
    case 'TypeCast':
      return cast(ev(t.node.arg), t.node)
    case 'BoolExpr':
      return boolExpr(t.node)
    case 'A_Expr':
      return aExpr(t.node)
    case 'NullTest': {
      const v = underNullTest(() => ev(t.node.arg))
      if (v.k === 'filter' || v.k === 'opaque') return v
      const isNull = v.k === 'null'
      return {k: 'bool', v: str(t.node, 'nulltesttype') === 'IS_NULL' ? isNull : !isNull, lit: v.lit}
    }
    case 'BooleanTest':
      return booleanTest(truth(underNullTest(() => ev(t.node.arg))), str(t.node, 'booltesttype'))
    case 'SubLink':
      return (
        selfTest(target === undefined ? undefined : selfMatch(t.node, target)) ??
        (dependsOnRow(value) ? term(value) : OPAQUE)
      )
    case 'FuncCall':
      return builtinCall(t.node) ?? (dependsOnRow(value) ? term(value) : OPAQUE)
    case 'MinMaxExpr': {
      // GREATEST and LEAST of numbers (a numeric constant among the arguments says so; strings follow the
      // collation, and stay a term): NULL arguments are ignored.
      const args = list(t.node, 'args')
      if (!args.some(numericConstant)) return dependsOnRow(value) ? term(value) : OPAQUE
      const vals = args.map((a) => underNullTest(() => ev(a)))
      const filter = filterOf(vals)
      if (filter) return filter
      const lit = vals.some((v) => v.lit)
      const sign = str(t.node, 'op') === 'IS_GREATEST' ? 1 : str(t.node, 'op') === 'IS_LEAST' ? -1 : 0
      if (sign === 0 || vals.some((v) => v.k === 'opaque')) return {k: 'opaque', lit}
      return extreme(vals, sign, lit) ?? {k: 'opaque', lit}
    }
    default:
      // Parameters, functions of constants, CASE, subqueries without columns...: computed elsewhere.
      return dependsOnRow(value) ? term(value) : OPAQUE
  }
}

/** The number of a computed value. */
const number = (n: number, lit: boolean): Val => ({k: 'num', v: fromInteger(n), lit})

/**
 * Built-ins computed over sampled values, so that `abs(id) >= 0` reads as the tautology it is (up to
 * NULLs, as `a > 0 or a <= 0`): each returns undefined for arguments it does not model (the call is then
 * opaque). Strict ones are NULL for a NULL argument. Only functions whose values the samples bound (far
 * numbers are sampled once a term is computed) are here: not `length`, whose value over the short sample
 * strings would make `length(name) < 100` look true everywhere.
 */
const STRICT_FUNCTIONS: Readonly<Record<string, (args: readonly Val[], lit: boolean) => Val | undefined>> = {
  abs: ([a], lit) =>
    a?.k === 'num' ? {k: 'num', v: {...a.v, m: a.v.m < 0n ? -a.v.m : a.v.m}, lit} : undefined,
}

/** Built-ins that look at NULL arguments: their arguments are sampled with NULL. */
const NULL_FUNCTIONS: Readonly<Record<string, (args: readonly Val[], lit: boolean) => Val | undefined>> = {
  num_nulls: (args, lit) => number(args.filter((a) => a.k === 'null').length, lit),
  num_nonnulls: (args, lit) => number(args.filter((a) => a.k !== 'null').length, lit),
}

/** An integer or numeric literal. */
function numericConstant(value: unknown): boolean {
  const t = unwrap(value)
  return t?.type === 'A_Const' && (isObject(t.node.ival) || isObject(t.node.fval))
}

/** GREATEST (`sign` 1) or LEAST (-1) of numbers, NULLs ignored; undefined for strings (the collation orders them). */
function extreme(args: readonly Val[], sign: number, lit: boolean): Val | undefined {
  const nums = args.filter((a) => a.k !== 'null')
  if (nums.length === 0) return {k: 'null', lit}
  let best: Val | undefined
  for (const a of nums) {
    if (a.k !== 'num') return undefined
    if (best?.k !== 'num' || compareDecimal(a.v, best.v) * sign > 0) best = a
  }
  return best === undefined ? undefined : {...best, lit}
}

/** A call of a modelled built-in, computed; undefined for any other call (or form: aggregates, VARIADIC...). */
function builtinCall(node: AstObject): Val | undefined {
  const parts = stringList(list(node, 'funcname'))
  if (parts === undefined || parts.length > 2 || (parts.length === 2 && parts[0] !== 'pg_catalog'))
    return undefined
  if (node.agg_star === true || node.agg_distinct === true || node.func_variadic === true) return undefined
  if (node.over !== undefined || node.agg_filter !== undefined || node.agg_order !== undefined)
    return undefined
  const name = parts[parts.length - 1] ?? ''
  const strict = STRICT_FUNCTIONS[name]
  const nullAware = NULL_FUNCTIONS[name]
  const args = list(node, 'args')
  if ((strict === undefined && nullAware === undefined) || args.length === 0) return undefined
  if (strict !== undefined && args.length !== 1) return undefined
  const vals = args.map((a) => (nullAware !== undefined ? underNullTest(() => ev(a)) : ev(a)))
  // As for arithmetic: a computed term is sampled far beyond the clause's constants too.
  if (sampling !== undefined && sampling.world === undefined) sampling.computed = true
  const filter = filterOf(vals)
  if (filter) return filter
  const lit = vals.some((v) => v.lit)
  if (vals.some((v) => v.k === 'opaque')) return {k: 'opaque', lit}
  if (strict !== undefined && vals[0]?.k === 'null') return {k: 'null', lit}
  return (strict ?? nullAware)?.(vals, lit) ?? {k: 'opaque', lit}
}

function constant(node: AstObject): Val {
  if (node.isnull === true) return {k: 'null', lit: true}
  const ival = node.ival
  if (isObject(ival))
    return {k: 'num', v: fromInteger(typeof ival.ival === 'number' ? ival.ival : 0), lit: true}
  const fval = node.fval
  if (isObject(fval) && typeof fval.fval === 'string') {
    const d = parseDecimal(fval.fval, false)
    return d ? {k: 'num', v: d, lit: true} : {k: 'opaque', lit: true}
  }
  const sval = node.sval
  if (isObject(sval)) return {k: 'str', v: typeof sval.sval === 'string' ? sval.sval : '', lit: true}
  const boolval = node.boolval
  if (isObject(boolval)) return {k: 'bool', v: boolval.boolval === true, lit: true}
  return {k: 'opaque', lit: true}
}

const INT_TYPES = new Set(['int2', 'int4', 'int8', 'smallint', 'integer', 'int', 'bigint'])
const NUMERIC_TYPES = new Set(['numeric', 'decimal'])
const TEXT_TYPES = new Set(['text', 'varchar'])

function cast(v: Val, typeCast: AstObject): Val {
  if (v.k === 'filter' || v.k === 'opaque') return v
  const opaque: Val = {k: 'opaque', lit: v.lit}
  const typeName = obj(typeCast, 'typeName')
  const names = typeName ? stringList(list(typeName, 'names')) : undefined
  if (!typeName || !names || typeName.arrayBounds !== undefined || typeName.typmods !== undefined)
    return opaque
  // Only the built-in types are modelled: a type of another schema could be anything.
  if (names.length > 2 || (names.length === 2 && names[0] !== 'pg_catalog')) return opaque
  if (v.k === 'null') return v
  const type = names[names.length - 1] ?? ''
  if (type === 'bool' || type === 'boolean') {
    const b =
      v.k === 'bool'
        ? v.v
        : v.k === 'str'
          ? parseBoolean(v.v)
          : v.k === 'num'
            ? decimalToBoolean(v.v)
            : undefined
    return b === undefined ? opaque : {k: 'bool', v: b, lit: v.lit}
  }
  const int = INT_TYPES.has(type)
  if (int || NUMERIC_TYPES.has(type)) {
    const d = v.k === 'str' ? parseDecimal(v.v, int) : v.k === 'num' && (v.v.int || !int) ? v.v : undefined
    return d ? {k: 'num', v: {...d, int}, lit: v.lit} : opaque
  }
  return TEXT_TYPES.has(type) && v.k === 'str' ? v : opaque
}

/** A value in a boolean context: an unknown-typed string literal is read as a boolean, as PostgreSQL does. */
function truth(v: Val): Val {
  switch (v.k) {
    case 'bool':
    case 'null':
    case 'filter':
    case 'opaque':
      return v
    case 'str': {
      const b = parseBoolean(v.v)
      return b === undefined ? {k: 'opaque', lit: v.lit} : {k: 'bool', v: b, lit: v.lit}
    }
    case 'num':
      return {k: 'opaque', lit: v.lit}
  }
}

function anyLit(vals: readonly Val[]): boolean {
  return vals.some((v) => v.lit)
}

function boolExpr(node: AstObject): Val {
  const args = list(node, 'args').map((a) => truth(ev(a)))
  const lit = anyLit(args)
  const has = (k: Val['k'], b?: boolean): boolean =>
    args.some((a) => a.k === k && (b === undefined || (a.k === 'bool' && a.v === b)))
  switch (str(node, 'boolop') ?? '') {
    case 'AND_EXPR':
      if (has('bool', false)) return {k: 'bool', v: false, lit}
      if (args.every((a) => a.k === 'bool')) return {k: 'bool', v: true, lit}
      return {k: has('filter') ? 'filter' : has('opaque') ? 'opaque' : 'null', lit}
    case 'OR_EXPR':
      if (has('bool', true)) return {k: 'bool', v: true, lit}
      if (has('opaque')) return {k: 'opaque', lit}
      return has('filter') ? {k: 'filter', lit} : has('null') ? {k: 'null', lit} : {k: 'bool', v: false, lit}
    case 'NOT_EXPR': {
      const a = args[0]
      if (!a) return OPAQUE
      return a.k === 'bool' ? {k: 'bool', v: !a.v, lit} : a
    }
    default:
      return dependsOnRow(node) ? term(node) : OPAQUE
  }
}

function booleanTest(v: Val, test: string | undefined): Val {
  if (v.k === 'filter' || v.k === 'opaque') return v
  if (v.k !== 'bool' && v.k !== 'null') return {k: 'opaque', lit: v.lit}
  const b = v.k === 'bool' ? v.v : undefined
  const results: Readonly<Record<string, boolean>> = {
    IS_TRUE: b === true,
    IS_NOT_TRUE: b !== true,
    IS_FALSE: b === false,
    IS_NOT_FALSE: b !== false,
    IS_UNKNOWN: b === undefined,
    IS_NOT_UNKNOWN: b !== undefined,
  }
  const r = test === undefined ? undefined : results[test]
  return r === undefined ? {k: 'opaque', lit: v.lit} : {k: 'bool', v: r, lit: v.lit}
}

/**
 * The result when some operand depends on the row: a filter. Its kind is structural unless every
 * filter operand became one through literal values (`(a = 1 AND true) = true`).
 */
function filterOf(vals: readonly Val[]): Val | undefined {
  if (!vals.some((v) => v.k === 'filter')) return undefined
  return {k: 'filter', lit: !vals.some((v) => v.k === 'filter' && !v.lit)}
}

/** The same row-dependent term on both sides (volatile calls are never the same). */
function sameTerm(a: unknown, b: unknown): boolean {
  if (sameColumn(a, b)) return true
  return dependsOnRow(a) && !volatile(a) && termKey(a) === termKey(b)
}

function sameColumn(a: unknown, b: unknown): boolean {
  const x = unwrap(a)
  const y = unwrap(b)
  if (x?.type !== 'ColumnRef' || y?.type !== 'ColumnRef') return false
  const xs = stringList(list(x.node, 'fields'))
  const ys = stringList(list(y.node, 'fields'))
  return xs !== undefined && ys !== undefined && xs.length === ys.length && xs.every((s, i) => s === ys[i])
}

function aExpr(node: AstObject): Val {
  const kind = str(node, 'kind')
  const op = operatorName(node)
  const nullAware = kind === 'AEXPR_DISTINCT' || kind === 'AEXPR_NOT_DISTINCT'
  const side = (v: unknown): Val => (nullAware ? underNullTest(() => ev(v)) : ev(v))
  if (kind === 'AEXPR_OP_ANY' && target !== undefined) {
    const self = selfTest(selfMatchArray(node, target))
    if (self !== undefined) return self
  }
  const l = node.lexpr === undefined ? undefined : side(node.lexpr)
  if (kind === 'AEXPR_IN' || kind === 'AEXPR_BETWEEN' || kind === 'AEXPR_NOT_BETWEEN') {
    const items = (listItems(node.rexpr) ?? []).map(ev)
    if (!l) return OPAQUE
    return filterOf([l, ...items]) ?? (kind === 'AEXPR_IN' ? inList(op, l, items) : between(kind, l, items))
  }
  const r = side(node.rexpr)
  // The same column of two scans of the written table: each row pairs with itself, as `a = a` below.
  const equality = kind === 'AEXPR_NOT_DISTINCT' || (kind === 'AEXPR_OP' && op === '=')
  if (equality && target !== undefined && selfJoinEquality(node.lexpr, node.rexpr, target))
    return {k: 'bool', v: true, lit: false}
  // A term compared with itself (`a = a`, `lower(a) >= lower(a)`) is decided for every row where it is not
  // NULL: `=`, `<=`, `>=` and IS NOT DISTINCT FROM are no restriction, `<>`, `<`, `>`, IS DISTINCT FROM false.
  if (sameTerm(node.lexpr, node.rexpr)) {
    if (nullAware) return {k: 'bool', v: kind === 'AEXPR_NOT_DISTINCT', lit: false}
    if (op === '=' || op === '<=' || op === '>=') return {k: 'bool', v: true, lit: false}
    if (kind === 'AEXPR_OP' && (op === '<>' || op === '!=' || op === '<' || op === '>'))
      return {k: 'bool', v: false, lit: false}
  }
  if (sampling !== undefined && sampling.world === undefined && kind === 'AEXPR_OP' && STRICT.has(op ?? ''))
    sampling.computed = true
  const filter = filterOf(l ? [l, r] : [r])
  if (filter) return filter
  const lit = (l?.lit ?? false) || r.lit
  if (op === undefined) return {k: 'opaque', lit}
  switch (kind ?? '') {
    case 'AEXPR_OP':
      return l ? binary(op, l, r) : unary(op, r)
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
      return l ? like(op, l, r, kind === 'AEXPR_ILIKE') : {k: 'opaque', lit}
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT': {
      if (!l) return {k: 'opaque', lit}
      const eq = notDistinct(l, r)
      if (eq.k !== 'bool') return eq
      return {k: 'bool', v: kind === 'AEXPR_DISTINCT' ? !eq.v : eq.v, lit}
    }
    default:
      return {k: 'opaque', lit}
  }
}

/** `a LIKE p` (`~~`, `!~~`, ILIKE `~~*`, `!~~*`) of two known strings; opaque for what is not modelled. */
function like(op: string, l: Val, r: Val, insensitive: boolean): Val {
  const lit = l.lit || r.lit
  if (!['~~', '!~~', '~~*', '!~~*'].includes(op)) return {k: 'opaque', lit}
  if (l.k === 'null' || r.k === 'null') return {k: 'null', lit}
  if (l.k !== 'str' || r.k !== 'str') return {k: 'opaque', lit}
  const pattern = likePattern(r.v, insensitive)
  if (pattern === undefined || (insensitive && !printableAscii(l.v))) return {k: 'opaque', lit}
  return {k: 'bool', v: pattern.test(l.v) !== op.startsWith('!'), lit}
}

function unary(op: string, r: Val): Val {
  if (r.k === 'null') return r
  if (r.k === 'num' && (op === '-' || op === '+'))
    return op === '+' ? r : {k: 'num', v: {...r.v, m: -r.v.m}, lit: r.lit}
  return {k: 'opaque', lit: r.lit}
}

/** -1/0/1 between two constants, coercing an untyped string to the other side's type; undefined if not modelled. */
function compare(l: Val, r: Val, op: string): number | undefined {
  if (l.k === 'num' && r.k === 'num') return compareDecimal(l.v, r.v)
  if (l.k === 'bool' && r.k === 'bool') return Number(l.v) - Number(r.v)
  // Text ordering depends on the collation; equality of deterministic collations does not, and the empty
  // string sorts first in every one (`note >= ''` holds for every text).
  if (l.k === 'str' && r.k === 'str') {
    if (op === '=' || op === '<>' || op === '!=') return l.v === r.v ? 0 : 1
    if (r.v === '') return l.v === '' ? 0 : 1
    if (l.v === '') return -1
    return undefined
  }
  if (l.k === 'str' && (r.k === 'num' || r.k === 'bool')) return compare(coerce(l, r), r, op)
  if (r.k === 'str' && (l.k === 'num' || l.k === 'bool')) return compare(l, coerce(r, l), op)
  return undefined
}

function coerce(s: Val & {k: 'str'}, to: Val): Val {
  // Whether the text converts depends on its value: a failure is still literal-sensitive.
  const failed: Val = {k: 'opaque', lit: s.lit || to.lit}
  if (to.k === 'num') {
    const d = parseDecimal(s.v, to.v.int)
    return d ? {k: 'num', v: d, lit: s.lit} : failed
  }
  const b = parseBoolean(s.v)
  return b === undefined ? failed : {k: 'bool', v: b, lit: s.lit}
}

const STRICT = new Set(['+', '-', '*', '/', '%', '||'])

function binary(op: string, l: Val, r: Val): Val {
  const lit = l.lit || r.lit
  if (l.k === 'opaque' || r.k === 'opaque') return {k: 'opaque', lit}
  const test = COMPARE[op]
  // Comparison and arithmetic operators are strict: NULL in, NULL out.
  if (l.k === 'null' || r.k === 'null') return {k: test || STRICT.has(op) ? 'null' : 'opaque', lit}
  if (test) {
    const c = compare(l, r, op)
    return c === undefined ? {k: 'opaque', lit} : {k: 'bool', v: test(c), lit}
  }
  if (op === '||' && l.k === 'str' && r.k === 'str') return {k: 'str', v: l.v + r.v, lit}
  const a = l.k === 'str' && r.k === 'num' ? coerce(l, r) : l
  const b = r.k === 'str' && l.k === 'num' ? coerce(r, l) : r
  if (a.k !== 'num' || b.k !== 'num') return {k: 'opaque', lit}
  const d = arithmetic(op, a.v, b.v)
  return d ? {k: 'num', v: d, lit} : {k: 'opaque', lit}
}

function notDistinct(l: Val, r: Val): Val {
  const lit = l.lit || r.lit
  if (l.k === 'null' || r.k === 'null') return {k: 'bool', v: l.k === r.k, lit}
  return binary('=', l, r)
}

function inList(op: string | undefined, l: Val, items: readonly Val[]): Val {
  // `x IN (...)` is `x = ANY`; `x NOT IN (...)` is `x <> ALL`.
  const negate = op === '<>'
  const results = items.map((i) => binary('=', l, i))
  const lit = l.lit || anyLit(items)
  let out: Val = {k: 'bool', v: false, lit}
  for (const res of results) {
    if (res.k === 'bool' && res.v) return {k: 'bool', v: !negate, lit}
    if (res.k === 'opaque') out = {k: 'opaque', lit}
    else if (res.k === 'null' && out.k === 'bool') out = {k: 'null', lit}
  }
  return out.k === 'bool' ? {k: 'bool', v: negate, lit} : out
}

function between(kind: string, l: Val, items: readonly Val[]): Val {
  const [lo, hi] = items
  if (!lo || !hi) return {k: 'opaque', lit: l.lit}
  const inside = boolAnd(binary('>=', l, lo), binary('<=', l, hi))
  if (kind === 'AEXPR_BETWEEN' || inside.k !== 'bool') return inside
  return {k: 'bool', v: !inside.v, lit: inside.lit}
}

function boolAnd(a: Val, b: Val): Val {
  const lit = a.lit || b.lit
  if ((a.k === 'bool' && !a.v) || (b.k === 'bool' && !b.v)) return {k: 'bool', v: false, lit}
  if (a.k === 'bool' && b.k === 'bool') return {k: 'bool', v: true, lit}
  return {k: a.k === 'opaque' || b.k === 'opaque' ? 'opaque' : 'null', lit}
}
