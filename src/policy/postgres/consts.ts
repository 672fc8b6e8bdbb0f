/**
 * Exact values of SQL constants for the WHERE classifier: numbers as decimals (BigInt mantissa and a
 * power of ten, so `0.30000000000000001 > 0.3` is true as in PostgreSQL's numeric), booleans as
 * boolin reads them. Anything not modelled exactly is reported as unknown (`undefined`).
 */

/** An exact decimal m × 10^e; `int` when PostgreSQL would type it as an integer. */
export interface Decimal {
  readonly m: bigint
  readonly e: number
  readonly int: boolean
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/

/** Parses a numeric literal or the text of a numeric cast (`' 12 '::int`); undefined when invalid. */
export function parseDecimal(text: string, int: boolean): Decimal | undefined {
  const t = text.trim()
  const match = DECIMAL.exec(t)
  if (!match) return undefined
  const [, sign = '', whole = '', frac = '', exp] = match
  if (whole === '' && frac === '') return undefined
  // int4in and friends accept no fraction or exponent; numeric keeps them exactly.
  if (int && (frac !== '' || exp !== undefined || t.includes('.'))) return undefined
  const digits = `${whole}${frac}` || '0'
  const m = BigInt(`${sign === '-' ? '-' : ''}${digits}`)
  return {m, e: Number(exp ?? '0') - frac.length, int}
}

/** A decimal from a JavaScript integer (A_Const ival). */
export function fromInteger(value: number): Decimal {
  return {m: BigInt(value), e: 0, int: true}
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const e = Math.min(a.e, b.e)
  // Exponents are bounded by the literal syntax above, so the scale factor stays small enough.
  return [a.m * 10n ** BigInt(a.e - e), b.m * 10n ** BigInt(b.e - e), e]
}

/** -1, 0 or 1. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  const [x, y] = align(a, b)
  return x < y ? -1 : x > y ? 1 : 0
}

const MAX_EXPONENT_GAP = 1000

/** a op b for + - * / %, exactly; undefined when PostgreSQL would not compute it exactly here. */
export function arithmetic(op: string, a: Decimal, b: Decimal): Decimal | undefined {
  if (Math.abs(a.e - b.e) > MAX_EXPONENT_GAP) return undefined
  const int = a.int && b.int
  switch (op) {
    case '+':
    case '-': {
      const [x, y, e] = align(a, b)
      return {m: op === '+' ? x + y : x - y, e, int}
    }
    case '*':
      return {m: a.m * b.m, e: a.e + b.e, int}
    case '/':
    case '%': {
      // Integer division truncates; numeric division rounds to a scale we do not model.
      if (!int || b.m === 0n) return undefined
      return {m: op === '/' ? a.m / b.m : a.m % b.m, e: 0, int}
    }
    default:
      return undefined
  }
}

/** A decimal's truth when cast to boolean (int4 → bool: non-zero is true); only integers cast. */
export function decimalToBoolean(d: Decimal): boolean | undefined {
  return d.int ? d.m !== 0n : undefined
}

/**
 * boolin: prefixes of true/false/yes/no, `on`, `of`/`off`, `1`/`0`, any case,
 * surrounding whitespace ignored.
 */
export function parseBoolean(text: string): boolean | undefined {
  const t = text.trim().toLowerCase()
  if (t === '') return undefined
  if ('true'.startsWith(t) || 'yes'.startsWith(t)) return true
  if ('false'.startsWith(t) || 'no'.startsWith(t)) return false
  if (t === 'on') return true
  if (t === 'off' || t === 'of') return false
  if (t === '1') return true
  if (t === '0') return false
  return undefined
}
