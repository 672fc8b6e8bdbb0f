/**
 * Decides whether the WHERE of an UPDATE or DELETE bounds the rows it touches. A condition that does
 * not depend on the row is constant for the whole statement: unless it is provably false (then the
 * statement touches nothing) it counts as absent, so `WHERE 1`, `WHERE 'a'='a'`, `WHERE NOT 0`,
 * `WHERE 1 OR x`, `WHERE @v` and `WHERE id = id` all read as no WHERE at all (fail closed).
 */
import {isObj, mentionsColumn} from './walk.js'

type Scalar = number | string | null
/** `row`: depends on the row; `const`: same for every row, value unknown; otherwise a known value. */
type Value = 'row' | 'const' | {readonly v: Scalar}

/** The analysis of a WHERE clause. */
export interface WhereVerdict {
  readonly where: 'present' | 'absent'
  /** A literal's value decided the verdict (`WHERE 1=1` vs `WHERE 1=2`): see Analysis.literalSensitive. */
  readonly literalSensitive: boolean
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

const isAscii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s)

class Evaluator {
  consulted = false

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
    if (literal !== undefined) return literal
    if (type === 'bool') return node.value === true ? TRUE : FALSE
    if (type === 'null') return NULL
    if (type === 'unary_expr') return this.unary(String(node.operator).toUpperCase(), node.expr)
    if (type === 'binary_expr') return this.binary(node)
    return mentionsColumn(node) ? 'row' : 'const'
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
    if (['=', '<=>', '>=', '<='].includes(op) && sameColumn(node.left, node.right)) return TRUE
    const left = this.eval(node.left)
    const right = this.evalList(node.right)
    if (left === 'row' || right === 'row') return 'row'
    if (left === 'const' || right === 'const') return 'const'
    return this.compare(op, this.read(left), this.read(right))
  }

  /** `IN (...)` and `BETWEEN` lists are not computed: row-dependent or an unknown constant. */
  private evalList(node: unknown): Value {
    if (Array.isArray(node) || (isObj(node) && node.type === 'expr_list')) {
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
    if (op === 'IS' || op === 'IS NOT') {
      const same = b === null ? a === null : a !== null && (toNumber(a) !== 0) === (toNumber(b) !== 0)
      return (op === 'IS') === same ? TRUE : FALSE
    }
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

/** Compares as MySQL does with a case- and trailing-space-insensitive collation; 'unknown' beyond ASCII. */
function compareScalars(a: Scalar, b: Scalar): number | null | 'unknown' {
  if (a === null || b === null) return null
  if (typeof a === 'string' && typeof b === 'string') {
    if (!isAscii(a) || !isAscii(b)) return 'unknown'
    const x = a.toLowerCase().trimEnd()
    const y = b.toLowerCase().trimEnd()
    return x === y ? 0 : x < y ? -1 : 1
  }
  const x = toNumber(a)!
  const y = toNumber(b)!
  return x === y ? 0 : x < y ? -1 : 1
}

/** `x = x`: true on every row where x is not NULL. */
function sameColumn(a: unknown, b: unknown): boolean {
  return isObj(a) && a.type === 'column_ref' && JSON.stringify(a) === JSON.stringify(b)
}

/** Classifies the WHERE of an UPDATE or DELETE (null or undefined: no WHERE). */
export function judgeWhere(where: unknown): WhereVerdict {
  if (where === null || where === undefined) return {where: 'absent', literalSensitive: false}
  const e = new Evaluator()
  const t = e.truth(e.eval(where))
  // Only a provably false (or NULL) constant bounds the statement: it touches no row.
  const present = t === 'row' || t === false || t === null
  return {where: present ? 'present' : 'absent', literalSensitive: e.consulted}
}
