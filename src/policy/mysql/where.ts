/**
 * Decides whether the WHERE of an UPDATE or DELETE bounds the rows it touches. A condition that does
 * not depend on the row is constant for the whole statement: unless it is provably false (then the
 * statement touches nothing) it counts as absent, so `WHERE 1`, `WHERE 'a'='a'`, `WHERE NOT 0`,
 * `WHERE 1 OR x`, `WHERE @v` and `WHERE id = id` all read as no WHERE at all (fail closed).
 *
 * A condition over columns that is true in every row (`id IS NULL OR id IS NOT NULL`, `id IN (id)`,
 * `id = 5 OR id <> 5`) is absent too: it is evaluated again with each row-dependent term replaced by
 * sample values, as for Postgres (src/policy/postgres/where-terms.ts has the reasoning).
 */
import {likePattern, printableAscii} from '../like-pattern.js'
import {fewestNotNull, NEVER_NULL} from '../not-null.js'
import {isObj, mentionsColumn} from './walk.js'
import {
  type Scans,
  selfExists,
  selfIn,
  selfJoinEquality,
  type SelfMatch,
  targetColumn,
  type WriteTarget,
} from './where-self.js'

type Scalar = number | string | null
/** `row`: depends on the row; `const`: same for every row, value unknown; otherwise a known value. */
type Value = 'row' | 'const' | {readonly v: Scalar}

/** The analysis of a WHERE clause. */
export interface WhereVerdict {
  readonly where: 'present' | 'absent'
  /** A literal's value decided the verdict (`WHERE 1=1` vs `WHERE 1=2`): see Analysis.literalSensitive. */
  readonly literalSensitive: boolean
  /** A `present` WHERE that only drops rows where these columns of the target are NULL. */
  readonly notNull?: readonly string[]
}

const TRUE: Value = {v: 1}
const FALSE: Value = {v: 0}
const NULL: Value = {v: null}

const STRING_TYPES = new Set([
  'single_quote_string',
  'double_quote_string',
  'string',
  'natural_string',
  'backticks_quote_string',
])

/** Undoes the canonical quoting of lexer.ts (`''` and `\\`); node-sql-parser keeps strings raw. */
function unquote(raw: string): string {
  return raw.replace(/\\\\|''/g, (m) => (m === "''" ? "'" : '\\'))
}

/** MySQL's string-to-number conversion: the longest numeric prefix, else 0. */
function toNumber(s: Scalar): number | null {
  if (s === null) return null
  if (typeof s === 'number') return s
  const m = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(s)
  return m ? Number(m[0]) : 0
}

/** The value of a literal node (numbers come as numbers or numeric strings), or undefined. */
function literalValue(node: Record<string, unknown>): Value | undefined {
  const {type, value} = node
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  if (type === 'number' || type === 'bigint') {
    const n = Number(value)
    return Number.isNaN(n) ? 'const' : {v: n}
  }
  if (type === 'hex_string' || type === 'full_hex_string') return {v: parseInt(`0${value}`, 16)}
  if (type === 'bit_string') return {v: parseInt(`0${value}`, 2)}
  if (typeof type === 'string' && STRING_TYPES.has(type)) return {v: unquote(String(value))}
  return undefined
}

/** At most this many rows are sampled per way of typing the terms, over at most this many terms. */
const MAX_ROWS = 2048
const MAX_TERMS = 4
/** At most this many rows are sampled for one clause in all (every typing, every question asked of it). */
const SAMPLE_BUDGET = 4096
const COMPARISONS = new Set(['=', '!=', '<>', '<', '>', '<=', '>='])
/** Functions whose value changes from call to call: each call is its own term. */
const VOLATILE = new Set(['rand', 'uuid', 'uuid_short', 'sys_guid', 'random_bytes', 'sysdate'])

/**
 * Sample values of one type: the constants read as that type, their neighbours, and values unlike them.
 * `computed`: the clause computes with its terms (arithmetic, a modelled function), so a term's value is
 * no longer compared with the constants directly and values far beyond them are sampled too.
 */
function samplesOf(type: 'num' | 'str', constants: readonly Scalar[], computed = false): Scalar[] {
  if (type === 'num') {
    const out: Scalar[] = computed ? [0, 1, -0.5, -1e9, 1e9] : [0, 1]
    // A string compared with a number is read as one (`created_at < '2024-01-01'` as 2024): a sample too.
    for (const c of constants) {
      const n = toNumber(c)
      if (n !== null) out.push(n, n - 1, n + 1, n + 0.5)
    }
    return out
  }
  // A string compared with a number is read as a number: the numeric samples are strings too.
  const out: Scalar[] = ['', '~', ...samplesOf('num', constants, computed).map(String)]
  let longest = ''
  for (const c of constants) {
    if (typeof c !== 'string') continue
    out.push(c)
    if (c.length >= longest.length) longest = c
  }
  out.push(`${longest}~~`)
  return out
}

class Evaluator {
  /**
   * `target`: the table the statement writes, `scans`: the tables it reads side by side, for tests of a
   * table against itself (where-self.ts).
   */
  constructor(
    private readonly target?: WriteTarget,
    private readonly scans?: Scans,
  ) {}

  consulted = false
  /** How many literals the clause holds (any kind): sampled verdicts depend on their values. */
  literals = 0
  /** The first pass: each row-dependent term (by its text), and whether a NULL test encloses it. */
  private readonly terms = new Map<string, boolean>()
  /** The first pass: the known constants, the sample values. */
  private readonly constants: Scalar[] = []
  /** The first pass: the terms that are plain columns, by key. */
  private readonly columns = new Map<string, unknown>()
  /** A sampling pass: each term's value in the sampled row. */
  private world: Map<string, Scalar> | undefined
  private nullTests = 0
  /** Rows sampled so far (SAMPLE_BUDGET): past it, a clause reads as a restriction. */
  private sampled = 0
  /** Volatile calls met so far in this pass. */
  private calls = 0
  /** The first pass met arithmetic or a modelled function over a term (see samplesOf). */
  private computed = false

  /** A row-dependent term: 'row', or in a sampling pass its sampled value. */
  private term(node: Record<string, unknown>): Value {
    let key = JSON.stringify(node)
    if (volatileCall(node)) key += `#${this.calls++}`
    if (this.world !== undefined) {
      const v = this.world.get(key)
      return v === undefined ? 'const' : {v}
    }
    if (this.nullTests > 0 || !this.terms.has(key))
      this.terms.set(key, this.nullTests > 0 || this.terms.get(key) === true)
    if (node.type === 'column_ref') this.columns.set(key, node)
    return 'row'
  }

  private nullAware(node: unknown): Value {
    this.nullTests++
    try {
      return this.eval(node)
    } finally {
      this.nullTests--
    }
  }

  /** The keys of the NULL-tested terms, with the column each names (undefined: not a plain column). */
  nullTested(): [key: string, column: unknown][] {
    return [...this.terms].filter(([, tested]) => tested).map(([key]) => [key, this.columns.get(key)])
  }

  /**
   * True when `where` is TRUE in every sampled row, of numbers and of strings. The terms of `notNull` are
   * never NULL (their columns are assumed NOT NULL).
   */
  tautology(where: unknown, notNull?: ReadonlySet<string>): boolean {
    const keys = [...this.terms.keys()]
    if (keys.length === 0 || keys.length > MAX_TERMS) return false
    const consulted = this.consulted
    try {
      // True for every way of typing the terms: MySQL compares a string with a number as numbers but with a
      // string in collation order, so no sample set of one type stands for every column (unlike Postgres,
      // where a comparison of the wrong type is an error and one type's samples suffice), and each term
      // (an INT column beside a VARCHAR one) has its own type.
      const samples = {
        num: samplesOf('num', this.constants, this.computed),
        str: samplesOf('str', this.constants, this.computed),
      }
      for (let types = 0; types < 1 << keys.length; types++) {
        const domains = keys.map((k, i) => {
          const base = samples[(types >> i) & 1 ? 'str' : 'num']
          return this.terms.get(k) === true && !notNull?.has(k) ? [...base, null] : base
        })
        if (domains.reduce((n, d) => n * d.length, 1) > MAX_ROWS) return false
        if (!this.everywhere(where, keys, domains)) return false
      }
      return true
    } finally {
      this.world = undefined
      this.consulted = consulted
    }
  }

  private everywhere(where: unknown, keys: readonly string[], domains: readonly Scalar[][]): boolean {
    const index = keys.map(() => 0)
    const world = new Map<string, Scalar>()
    this.world = world
    for (;;) {
      if (++this.sampled > SAMPLE_BUDGET) return false
      keys.forEach((k, i) => world.set(k, (domains[i] as Scalar[])[index[i] as number] as Scalar))
      this.calls = 0
      if (this.truth(this.eval(where)) !== true) return false
      let i = 0
      while (
        i < keys.length &&
        (index[i] = ((index[i] as number) + 1) % (domains[i] as Scalar[]).length) === 0
      )
        i++
      if (i === keys.length) return true
    }
  }

  /** Reads a known value: from here on a literal decided something. */
  private read(x: {readonly v: Scalar}): Scalar {
    this.consulted = true
    return x.v
  }

  /** MySQL truth of a value: true, false, or null (unknown stays a string tag). */
  truth(x: Value): 'row' | 'const' | boolean | null {
    if (x === 'row' || x === 'const') return x
    const n = toNumber(this.read(x))
    return n === null ? null : n !== 0
  }

  private fromTruth(t: 'row' | 'const' | boolean | null): Value {
    if (t === 'row' || t === 'const') return t
    return t === null ? NULL : t ? TRUE : FALSE
  }

  eval(node: unknown): Value {
    if (!isObj(node)) return 'const'
    const type = node.type
    const literal = literalValue(node)
    const first = this.world === undefined
    if (literal !== undefined) {
      if (first) this.literals++
      if (first && typeof literal === 'object' && literal.v !== null) this.constants.push(literal.v)
      return literal
    }
    // TRUE, FALSE and NULL are keywords the decision cache's key keeps as they are: not literals.
    if (type === 'bool' || type === 'null') {
      return type === 'null' ? NULL : node.value === true ? TRUE : FALSE
    }
    if (type === 'unary_expr') return this.unary(String(node.operator).toUpperCase(), node.expr)
    if (type === 'function' && functionName(node) === 'exists' && this.target !== undefined) {
      const self = this.self(selfExists(node.args, this.target))
      if (self !== undefined) return self
    }
    // `NOT (a <> b)` comes as a call of a function named not.
    if (type === 'function' && functionName(node) === 'not') {
      const args = isObj(node.args) && Array.isArray(node.args.value) ? (node.args.value as unknown[]) : []
      if (args.length === 1) return this.unaryNot(this.eval(args[0]))
    }
    if (type === 'binary_expr') return this.binary(node)
    const modelled = type === 'function' ? this.call(node) : undefined
    if (modelled !== undefined) return modelled
    return mentionsColumn(node) ? this.term(node) : 'const'
  }

  /** A built-in function of FUNCTIONS, computed from its arguments; undefined for any other call. */
  private call(node: Record<string, unknown>): Value | undefined {
    const name = builtinName(node)
    const model = name === undefined ? undefined : FUNCTIONS[name]
    const args =
      isObj(node.args) && Array.isArray(node.args.value) ? (node.args.value as unknown[]) : undefined
    if (model === undefined || args === undefined || args.length < model.min || args.length > model.max)
      return undefined
    if (this.world === undefined) this.computed = true
    const values = args.map((a) => (model.nullAware ? this.nullAware(a) : this.eval(a)))
    if (values.includes('row')) return 'row'
    if (values.includes('const')) return 'const'
    return model.fn(values.map((v) => this.read(v as {readonly v: Scalar})))
  }

  private unary(op: string, expr: unknown): Value {
    const x = this.eval(expr)
    if (op === 'NOT' || op === '!') {
      const t = this.truth(x)
      return this.fromTruth(typeof t === 'boolean' ? !t : t)
    }
    if (x === 'row' || x === 'const') return x
    if (op === '-') {
      const n = toNumber(this.read(x))
      return n === null ? NULL : {v: -n}
    }
    return op === '+' ? x : 'const'
  }

  private binary(node: Record<string, unknown>): Value {
    const op = String(node.operator).toUpperCase()
    if (op === 'AND' || op === '&&' || op === 'OR' || op === '||' || op === 'XOR') {
      return this.logic(op, this.truth(this.eval(node.left)), this.truth(this.eval(node.right)))
    }
    if (this.world === undefined && ARITHMETIC.has(op)) this.computed = true
    const self = this.selfBinary(op, node.left, node.right)
    if (self !== undefined) return self
    // A term compared with itself is decided for every row where it is not NULL.
    if (sameTerm(node.left, node.right)) {
      if (['=', '<=>', '>=', '<='].includes(op)) return TRUE
      if (['<>', '!=', '<', '>'].includes(op)) return FALSE
    }
    const nullTest = op === 'IS' || op === 'IS NOT' || op === '<=>'
    const left = nullTest ? this.nullAware(node.left) : this.eval(node.left)
    if (this.world !== undefined && isList(node.right)) return this.sampledList(op, left, node.right)
    const right = nullTest ? this.nullAware(node.right) : this.evalList(node.right)
    if (left === 'row' || right === 'row') return 'row'
    if (left === 'const' || right === 'const') return 'const'
    return this.compare(op, this.read(left), this.read(right))
  }

  /**
   * `x IN (SELECT x FROM <target>)`, `x = ANY (...)`, `t1.x = t2.x` over two scans of one table: TRUE when
   * each row finds itself; else undefined.
   */
  private selfBinary(op: string, left: unknown, right: unknown): Value | undefined {
    if ((op === '=' || op === '<=>') && this.scans !== undefined && selfJoinEquality(left, right, this.scans))
      return TRUE
    if (this.target === undefined) return undefined
    if (op === 'IN') return this.self(selfIn(left, right, this.target))
    const any = isObj(right) && right.type === 'function' ? functionName(right) : ''
    if (op === '=' && (any === 'any' || any === 'some') && isObj(right))
      return this.self(selfIn(left, right.args, this.target))
    return undefined
  }

  /**
   * A self-match is TRUE wherever its column is not NULL, as `x = x`, when the subquery's own WHERE
   * restricts nothing; undefined otherwise. The subquery's WHERE may have been decided by literal values.
   */
  private self(m: SelfMatch): Value | undefined {
    if (m === undefined) return undefined
    const inner = judgeWhere(m.innerWhere)
    if (inner.literalSensitive) this.consulted = true
    return inner.where === 'absent' ? TRUE : undefined
  }

  /** `IN (...)` and `BETWEEN` in a sampling pass, where every value is known. */
  private sampledList(op: string, left: Value, list: unknown): Value {
    const items = (isObj(list) && Array.isArray(list.value) ? list.value : (list as unknown[])).map((i) =>
      this.eval(i),
    )
    if (left === 'row' || left === 'const' || items.some((i) => i === 'row' || i === 'const')) return 'const'
    const known = items as {readonly v: Scalar}[]
    const a = left.v
    if (op === 'IN' || op === 'NOT IN') {
      let out: Value = FALSE
      for (const i of known) {
        const eq = this.compare('=', a, i.v)
        if (eq === TRUE) return op === 'IN' ? TRUE : FALSE
        if (eq !== FALSE) out = NULL
      }
      return out === NULL ? NULL : op === 'IN' ? FALSE : TRUE
    }
    if ((op === 'BETWEEN' || op === 'NOT BETWEEN') && known.length === 2) {
      const lo = this.truth(this.compare('>=', a, (known[0] as {v: Scalar}).v))
      const hi = this.truth(this.compare('<=', a, (known[1] as {v: Scalar}).v))
      const inside = this.logic('AND', lo, hi)
      return op === 'BETWEEN' ? inside : this.unaryNot(inside)
    }
    return 'const'
  }

  private unaryNot(x: Value): Value {
    const t = this.truth(x)
    return this.fromTruth(typeof t === 'boolean' ? !t : t)
  }

  /** `IN (...)` and `BETWEEN` lists are not computed: row-dependent or an unknown constant. */
  private evalList(node: unknown): Value {
    if (Array.isArray(node) || (isObj(node) && node.type === 'expr_list')) {
      // The first pass meets the terms and constants of the list too, for sampling.
      const items: unknown = isObj(node) && !Array.isArray(node) ? node.value : node
      if (this.world === undefined && Array.isArray(items)) for (const i of items) this.eval(i)
      return mentionsColumn(node) ? 'row' : 'const'
    }
    return this.eval(node)
  }

  private logic(op: string, a: ReturnType<Evaluator['truth']>, b: ReturnType<Evaluator['truth']>): Value {
    const both = [a, b]
    if (op === 'AND' || op === '&&') {
      if (both.includes(false)) return FALSE
      if (both.includes('row')) return 'row'
      if (both.includes('const')) return 'const'
      return both.includes(null) ? NULL : TRUE
    }
    if (op === 'OR' || op === '||') {
      if (both.includes(true)) return TRUE
      // `x OR @v` touches every row when @v is true: treat an unknown constant as possibly true.
      if (both.includes('const')) return 'const'
      if (both.includes('row')) return 'row'
      return both.includes(null) ? NULL : FALSE
    }
    if (both.includes('row')) return 'row'
    if (both.includes('const')) return 'const'
    if (both.includes(null)) return NULL
    return a !== b ? TRUE : FALSE
  }

  private compare(op: string, a: Scalar, b: Scalar): Value {
    if (op === 'LIKE' || op === 'NOT LIKE') {
      if (a === null || b === null) return NULL
      // The default collations compare without case; beyond ASCII the fold is not modelled. A number is
      // matched by its text.
      const pattern = likePattern(String(b), true)
      const text = String(a)
      if (pattern === undefined || !printableAscii(text)) return 'const'
      return pattern.test(text) === (op === 'LIKE') ? TRUE : FALSE
    }
    if (op === 'IS' || op === 'IS NOT') {
      const same = b === null ? a === null : a !== null && (toNumber(a) !== 0) === (toNumber(b) !== 0)
      return (op === 'IS') === same ? TRUE : FALSE
    }
    if (ARITHMETIC.has(op)) return arithmetic(op, a, b)
    const c = compareScalars(a, b)
    if (op === '<=>') return a === null || b === null ? (a === b ? TRUE : FALSE) : c === 0 ? TRUE : FALSE
    if (c === 'unknown') return 'const'
    if (c === null) return NULL
    const results: Record<string, boolean> = {
      '=': c === 0,
      '!=': c !== 0,
      '<>': c !== 0,
      '<': c < 0,
      '>': c > 0,
      '<=': c <= 0,
      '>=': c >= 0,
    }
    const r = results[op]
    return r === undefined ? 'const' : r ? TRUE : FALSE
  }
}

const ARITHMETIC = new Set(['+', '-', '*', '/', 'DIV', 'MOD', '%'])

/**
 * MySQL arithmetic on two known values: strings are read as numbers (their numeric prefix, else 0), NULL or
 * a division by zero gives NULL. An error in this model either reads a filter as `absent` (a denial too
 * many under a `where: absent` rule) or leaves a clause `present`, as it was before arithmetic was computed.
 */
function arithmetic(op: string, a: Scalar, b: Scalar): Value {
  const x = toNumber(a)
  const y = toNumber(b)
  if (x === null || y === null) return NULL
  let r: number
  if (op === '+') r = x + y
  else if (op === '-') r = x - y
  else if (op === '*') r = x * y
  else if (y === 0) return NULL
  else if (op === '/') r = x / y
  else if (op === 'DIV') r = Math.trunc(x / y)
  else r = x % y
  return Number.isFinite(r) ? {v: r} : 'const'
}

/** Compares as MySQL does with a case- and trailing-space-insensitive collation; 'unknown' beyond ASCII. */
function compareScalars(a: Scalar, b: Scalar): number | null | 'unknown' {
  if (a === null || b === null) return null
  if (typeof a === 'string' && typeof b === 'string') {
    if (!printableAscii(a) || !printableAscii(b)) return 'unknown'
    const x = a.toLowerCase().trimEnd()
    const y = b.toLowerCase().trimEnd()
    return x === y ? 0 : x < y ? -1 : 1
  }
  const x = toNumber(a)!
  const y = toNumber(b)!
  return x === y ? 0 : x < y ? -1 : 1
}

/** The same row-dependent term on both sides (`x = x`, `lower(x) >= lower(x)`); never a volatile call. */
function sameTerm(a: unknown, b: unknown): boolean {
  return isObj(a) && mentionsColumn(a) && !volatileCall(a) && JSON.stringify(a) === JSON.stringify(b)
}

function isList(node: unknown): boolean {
  return Array.isArray(node) || (isObj(node) && node.type === 'expr_list')
}

/** True when a subtree calls a volatile function (RAND(), UUID()...). */
function volatileCall(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(volatileCall)
  if (!isObj(node)) return false
  if (node.type === 'function' && VOLATILE.has(functionName(node))) return true
  return Object.values(node).some(volatileCall)
}

/** The name of a call of a built-in (unqualified: `db.length()` calls a user's function), lower case. */
function builtinName(node: Record<string, unknown>): string | undefined {
  const name = node.name
  if (typeof name === 'string') return name.toLowerCase()
  if (!isObj(name) || name.schema !== undefined || !Array.isArray(name.name) || name.name.length !== 1)
    return undefined
  const part: unknown = name.name[0]
  return isObj(part) && part.type === 'default' && typeof part.value === 'string'
    ? part.value.toLowerCase()
    : undefined
}

const text = (v: Scalar | undefined): string => (typeof v === 'number' ? String(v) : (v ?? ''))
const nullOr =
  (f: (xs: readonly Scalar[]) => Value) =>
  (xs: readonly Scalar[]): Value =>
    xs.includes(null) ? NULL : f(xs)

interface FunctionModel {
  readonly min: number
  readonly max: number
  readonly nullAware?: boolean
  readonly fn: (xs: readonly Scalar[]) => Value
}

const LOWER: FunctionModel = {min: 1, max: 1, fn: nullOr(([x]) => ({v: text(x).toLowerCase()}))}
const UPPER: FunctionModel = {min: 1, max: 1, fn: nullOr(([x]) => ({v: text(x).toUpperCase()}))}

/**
 * Built-ins `where: absent` computes, as the server does for the sample values (ASCII strings and plain
 * numbers): ones that pass a value through, pick one, or keep its order (not LENGTH and kin, whose value
 * no sample set bounds). As with arithmetic, an error in a model errs towards `absent` or leaves the clause
 * `present` as before. `nullAware`: the function tests its argument for NULL,
 * so the argument's column is sampled as NULL too.
 */
const FUNCTIONS: Readonly<Record<string, FunctionModel>> = {
  isnull: {min: 1, max: 1, nullAware: true, fn: ([x]) => (x === null ? TRUE : FALSE)},
  ifnull: {min: 2, max: 2, nullAware: true, fn: ([x, y]) => ({v: x ?? y ?? null})},
  coalesce: {min: 1, max: 64, nullAware: true, fn: (xs) => ({v: xs.find((x) => x !== null) ?? null})},
  concat: {min: 1, max: 64, fn: nullOr((xs) => ({v: xs.map(text).join('')}))},
  lower: LOWER,
  lcase: LOWER,
  upper: UPPER,
  ucase: UPPER,
  abs: {min: 1, max: 1, fn: nullOr(([x]) => ({v: Math.abs(toNumber(x ?? null) ?? 0)}))},
}

function functionName(node: Record<string, unknown>): string {
  const name = node.name
  if (typeof name === 'string') return name.toLowerCase()
  const parts = isObj(name) && Array.isArray(name.name) ? name.name : []
  const last: unknown = parts[parts.length - 1]
  return isObj(last) && typeof last.value === 'string' ? last.value.toLowerCase() : ''
}

/**
 * True when a conjunct compares a column with a literal or `?` (`id = 5`, `x IN (1, 2)`, `x BETWEEN 1
 * AND 9`): some row fails it whatever the values, so no sampling, and no dependence on literal values.
 */
function restricts(where: unknown): boolean {
  if (!isObj(where) || where.type !== 'binary_expr') return false
  const op = String(where.operator).toUpperCase()
  if (op === 'AND' || op === '&&') return restricts(where.left) || restricts(where.right)
  const column = (n: unknown): boolean => isObj(n) && n.type === 'column_ref'
  if (COMPARISONS.has(op))
    return (column(where.left) && isValue(where.right)) || (column(where.right) && isValue(where.left))
  if (op === 'IN' || op === 'NOT IN' || op === 'BETWEEN') {
    const right = where.right
    const items = isObj(right) && Array.isArray(right.value) ? (right.value as unknown[]) : []
    return column(where.left) && items.length > 0 && items.every(isValue)
  }
  return false
}

/**
 * A literal of any kind, or a `?` placeholder, under any unary signs: the parser folds a sign into a
 * number (`-1`) but not into a string (`-'1'`), so a sign must not decide it.
 */
function isValue(node: unknown): boolean {
  if (!isObj(node)) return false
  if (node.type === 'unary_expr' && (node.operator === '-' || node.operator === '+'))
    return isValue(node.expr)
  if (node.type === 'origin' && node.value === '?') return true
  return literalValue(node) !== undefined || node.type === 'bool' || node.type === 'null'
}

/**
 * Classifies the WHERE of an UPDATE or DELETE (null or undefined: no WHERE) of `target`, reading `scans`
 * side by side, if given.
 */
export function judgeWhere(where: unknown, target?: WriteTarget, scans?: Scans): WhereVerdict {
  if (where === null || where === undefined) return {where: 'absent', literalSensitive: false}
  // A conjunct comparing a column with a value makes the clause a filter or FALSE: bounded, whatever the values.
  if (restricts(where)) return {where: 'present', literalSensitive: false}
  const e = new Evaluator(target, scans)
  const t = e.truth(e.eval(where))
  // Only a provably false (or NULL) constant bounds the statement: it touches no row.
  const present = t === 'row' || t === false || t === null
  if (t !== 'row') return {where: present ? 'present' : 'absent', literalSensitive: e.consulted}
  // Sampled with the clause's constants: the verdict depends on literal values whenever it has any.
  const everywhere = e.tautology(where)
  const literalSensitive = e.consulted || e.literals > 0
  if (everywhere) return {where: 'absent', literalSensitive}
  const nulls = nullsOnly(e, where, target)
  // Only columns that are never NULL were tested: the clause passes every row.
  if (nulls?.notNull.length === 0) return {where: 'absent', literalSensitive}
  return {where: 'present', literalSensitive, ...nulls}
}

/**
 * The target's columns that, if NOT NULL, make the clause true everywhere (`id IS NOT NULL`): the
 * clause's NULL-tested terms that are plain columns of the target.
 */
function nullsOnly(
  e: Evaluator,
  where: unknown,
  target: WriteTarget | undefined,
): {notNull: string[]} | undefined {
  if (target === undefined) return undefined
  const found: {key: string; column: string}[] = []
  for (const [key, node] of e.nullTested()) {
    const column = targetColumn(node, target)
    if (column !== undefined) found.push({key, column})
  }
  const notNull = fewestNotNull(found, (keys) => e.tautology(where, keys), NEVER_NULL.mysql)
  return notNull === undefined ? undefined : {notNull}
}
