/**
 * Tautologies over columns in a WHERE (`id is null or id is not null`, `coalesce(id, 0) = coalesce(id, 0)`,
 * `id in (id)`, `id = 5 or id <> 5`): the clause is evaluated again with every row-dependent term (a
 * column, or an expression of columns the evaluator does not model, identified by its text) replaced by
 * sample values. A clause that is TRUE in every sampled row passes every row: it is no restriction.
 *
 * The samples of a term are the constants the clause compares with, their neighbours, and a value unlike
 * them, all of one type at a time (numbers, strings or booleans). NULL is a sample only for terms the
 * clause tests for NULL (IS NULL, IS DISTINCT FROM, IS TRUE...): as for `a = a`, a clause that only drops
 * NULLs (`a > 0 or a <= 0`) is no restriction, while `deleted_at is not null` is one. A value the
 * evaluator cannot compute in a sample counts as a row the clause may drop (a restriction): only what is
 * provably TRUE everywhere reads as absent. Clauses with many terms are not sampled.
 */
import {
  type AstObject,
  columnRefFields,
  isObject,
  list,
  listItems,
  str as field,
  stringList,
  unwrap,
} from './ast.js'
import {arithmetic, type Decimal, fromInteger, parseDecimal} from './consts.js'

export type Val =
  | {readonly k: 'bool'; readonly v: boolean; readonly lit: boolean}
  | {readonly k: 'num'; readonly v: Decimal; readonly lit: boolean}
  | {readonly k: 'str'; readonly v: string; readonly lit: boolean}
  | {readonly k: 'null' | 'filter' | 'opaque'; readonly lit: boolean}

/** What the evaluator records, or looks up, while a clause is sampled. */
export interface Sampling {
  /** The first pass: each term met (by key), and whether the clause tests it for NULL. */
  readonly terms: Map<string, boolean>
  /** The first pass: the constants met. */
  readonly constants: Val[]
  /** The first pass: a subquery's WHERE, classified on its own (where-self.ts), depended on literal values. */
  innerLiterals: boolean
  /** The first pass: the terms that are plain columns, by key, as their names are written. */
  readonly columns: Map<string, readonly string[]>
  /** Rows sampled so far (SAMPLE_BUDGET): past it, the clause reads as a restriction. */
  sampled: number
  /** A later pass: each term's value in the sampled row. */
  world: Map<string, Val> | undefined
  /** The first pass met arithmetic over a term: values far beyond the constants are sampled too. */
  computed: boolean
}

export const FILTER: Val = {k: 'filter', lit: false}
export const OPAQUE: Val = {k: 'opaque', lit: false}

const NULL_SAMPLE: Val = {k: 'null', lit: false}

/** The comparison operators, each as its test of a -1/0/1 ordering. */
export const COMPARE: Readonly<Record<string, (c: number) => boolean>> = {
  '=': (c) => c === 0,
  '<>': (c) => c !== 0,
  '!=': (c) => c !== 0,
  '<': (c) => c < 0,
  '>': (c) => c > 0,
  '<=': (c) => c <= 0,
  '>=': (c) => c >= 0,
}

/** Builtins whose value changes from row to row: a WHERE on them is a (random) filter, not a constant. */
export const VOLATILE = new Set([
  'random',
  'random_normal',
  'setseed',
  'nextval',
  'setval',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
])

/** The sampling in progress (the evaluator is synchronous), if any. */
export let sampling: Sampling | undefined

/** At most this many rows are sampled per type; a clause with more combinations is left a restriction. */
const MAX_ROWS = 2048
const MAX_TERMS = 4
/** At most this many rows are sampled for one clause in all (every type, every question asked of it). */
const SAMPLE_BUDGET = 3 * MAX_ROWS

const ONE = fromInteger(1)

function num(v: Decimal): Val {
  return {k: 'num', v, lit: false}
}

function str(v: string): Val {
  return {k: 'str', v, lit: false}
}

/** Far from any constant, for clauses that compute with their terms (`id + 10 > 3` fails for id = -1e9). */
const FAR: readonly Decimal[] = [
  fromInteger(-1_000_000_000),
  fromInteger(1_000_000_000),
  {m: -5n, e: -1, int: false},
]

/**
 * The samples of one type: the constants read as that type, their neighbours, and values unlike them.
 * `computed`: the clause computes with its terms, so a term is no longer compared with the constants
 * directly and values far beyond them are sampled too.
 */
function samplesOf(type: 'num' | 'str' | 'bool', constants: readonly Val[], computed = false): Val[] {
  const out: Val[] = []
  if (type === 'bool')
    return [
      {k: 'bool', v: true, lit: false},
      {k: 'bool', v: false, lit: false},
    ]
  if (type === 'num') {
    // Two values at least, so that two terms can differ (`x = y` is no tautology).
    out.push(num(fromInteger(0)), num(fromInteger(1)))
    if (computed) out.push(...FAR.map(num))
    for (const c of constants) {
      // A string constant compared with a number is read as one (`a <> '5'`): its value is a sample too.
      const v = c.k === 'num' ? c.v : c.k === 'str' ? parseDecimal(c.v, false) : undefined
      if (v === undefined) continue
      out.push(num(v))
      for (const op of ['-', '+']) {
        const d = arithmetic(op, v, ONE)
        if (d) out.push(num(d))
      }
      // Between integers too, for columns of other numeric types.
      const half = arithmetic('+', v, {m: 5n, e: -1, int: false})
      if (half) out.push(num(half))
    }
    return out
  }
  out.push(str(''), str('~'))
  let longest = ''
  for (const c of constants) {
    if (c.k !== 'str') continue
    out.push(str(c.v))
    if (c.v.length >= longest.length) longest = c.v
  }
  out.push(str(`${longest}~~`))
  return out
}

/**
 * True when `evaluate` (the clause's truth in the current world) is TRUE for every sampled row of some
 * type: the clause restricts nothing. `terms` and `constants` come from the first pass. The terms of
 * `notNull` are never NULL (their columns are assumed NOT NULL).
 */
export function tautology(s: Sampling, evaluate: () => Val, notNull?: ReadonlySet<string>): boolean {
  const keys = [...s.terms.keys()]
  if (keys.length === 0 || keys.length > MAX_TERMS) return false
  for (const type of ['num', 'str', 'bool'] as const) {
    const base = samplesOf(type, s.constants, s.computed)
    const domains = keys.map((k) =>
      s.terms.get(k) === true && !notNull?.has(k) ? [...base, NULL_SAMPLE] : base,
    )
    if (domains.reduce((n, d) => n * d.length, 1) > MAX_ROWS) return false
    if (everywhereTrue(s, keys, domains, evaluate)) return true
  }
  return false
}

function everywhereTrue(
  s: Sampling,
  keys: readonly string[],
  domains: readonly Val[][],
  evaluate: () => Val,
): boolean {
  const index = keys.map(() => 0)
  const world = new Map<string, Val>()
  s.world = world
  try {
    for (;;) {
      if (++s.sampled > SAMPLE_BUDGET) return false
      keys.forEach((k, i) => world.set(k, (domains[i] as Val[])[index[i] as number] as Val))
      const v = evaluate()
      if (v.k !== 'bool' || !v.v) return false
      let i = 0
      while (i < keys.length && (index[i] = ((index[i] as number) + 1) % (domains[i] as Val[]).length) === 0)
        i++
      if (i === keys.length) return true
    }
  } finally {
    s.world = undefined
  }
}

/** Runs `first` with a fresh sampling recorded, then `then` with it; no sampling outside. */
export function withSampling<T>(first: () => Val, then: (s: Sampling, v: Val) => T): T {
  const s: Sampling = {
    terms: new Map(),
    constants: [],
    innerLiterals: false,
    columns: new Map(),
    sampled: 0,
    world: undefined,
    computed: false,
  }
  const outer = sampling
  sampling = s
  try {
    return then(s, first())
  } finally {
    sampling = outer
  }
}

/**
 * True when a conjunct of the clause compares a column with a constant or parameter (`id = 5`, `a < $1`,
 * `x in (1, 2)`): some row fails it whatever the values, so the clause restricts without sampling, and
 * the verdict does not depend on literal values (the decision cache keeps sharing it).
 */
export function restricts(clause: unknown): boolean {
  const t = unwrap(clause)
  if (t?.type === 'BoolExpr' && field(t.node, 'boolop') === 'AND_EXPR')
    return list(t.node, 'args').some(restricts)
  if (t?.type !== 'A_Expr') return false
  const kind = field(t.node, 'kind')
  const op = operatorName(t.node)
  if (op === undefined) return false
  const column = (v: unknown): boolean => unwrap(v)?.type === 'ColumnRef'
  if (kind === 'AEXPR_OP' && COMPARE[op] !== undefined) {
    const {lexpr, rexpr} = t.node
    return (column(lexpr) && isValue(rexpr)) || (column(rexpr) && isValue(lexpr))
  }
  if (kind === 'AEXPR_IN' && (op === '=' || op === '<>')) {
    const items = listItems(t.node.rexpr) ?? []
    return column(t.node.lexpr) && items.length > 0 && items.every(isValue)
  }
  // BETWEEN, not NOT BETWEEN: `x NOT BETWEEN 5 AND 1` holds for every x.
  if (kind === 'AEXPR_BETWEEN') return column(t.node.lexpr) && (listItems(t.node.rexpr) ?? []).every(isValue)
  return false
}

/**
 * A constant or a parameter (through casts and unary signs), whatever its value, so that the shortcut never
 * depends on a literal. The parser folds a sign into a numeric constant (`-(1)` is one A_Const) but not into
 * others (`-('1')` stays an expression), so a sign must not decide it either. (`flag <= true` is true for
 * every non-NULL boolean; it is read as a restriction.)
 */
function isValue(value: unknown): boolean {
  let t = unwrap(value)
  for (;;) {
    if (t?.type === 'TypeCast') t = unwrap(t.node.arg)
    else if (t?.type === 'A_Expr' && unarySign(t.node)) t = unwrap(t.node.rexpr)
    else return t?.type === 'ParamRef' || t?.type === 'A_Const'
  }
}

function unarySign(node: AstObject): boolean {
  const op = operatorName(node)
  return node.lexpr === undefined && field(node, 'kind') === 'AEXPR_OP' && (op === '-' || op === '+')
}

/** A row-dependent term: FILTER, or while a clause is sampled its value in the sampled row. */
export function term(value: unknown): Val {
  const s = sampling
  if (s === undefined) return FILTER
  const key = termKey(value)
  if (s.world !== undefined) return s.world.get(key) ?? OPAQUE
  if (nullTests > 0 || !s.terms.has(key)) s.terms.set(key, nullTests > 0 || s.terms.get(key) === true)
  const fields = columnRefFields(value)
  if (fields !== undefined) s.columns.set(key, fields)
  return FILTER
}

/** How many NULL-aware tests (IS NULL, IS DISTINCT FROM, IS TRUE...) enclose the term being evaluated. */
let nullTests = 0

export function underNullTest(f: () => Val): Val {
  nullTests++
  try {
    return f()
  } finally {
    nullTests--
  }
}

/** A term's identity: its parse tree without positions, except that each volatile call is its own term. */
export function termKey(value: unknown): string {
  const keepPlaces = volatile(value)
  return JSON.stringify(value, (k, v: unknown) => (k === 'location' && !keepPlaces ? undefined : v))
}

/** True when a subtree calls a volatile built-in (VOLATILE). */
export function volatile(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(volatile)
  if (!isObject(value)) return false
  if (volatileCall(value)) return true
  for (const key in value) if (volatile(value[key])) return true
  return false
}

/** True when a node itself is a call of a volatile built-in. */
export function volatileCall(value: unknown): boolean {
  const t = unwrap(value)
  if (t?.type !== 'FuncCall') return false
  const name = stringList(list(t.node, 'funcname'))
  const last = name?.[name.length - 1]?.toLowerCase()
  return last !== undefined && VOLATILE.has(last)
}

/** The operator of an A_Expr: `=`, `<`... (OPERATOR(pg_catalog.=) too); undefined for other schemas. */
export function operatorName(node: AstObject): string | undefined {
  const names = stringList(list(node, 'name'))
  if (!names || names.length === 0 || names.length > 2) return undefined
  if (names.length === 2 && names[0] !== 'pg_catalog') return undefined
  return names[names.length - 1]
}
