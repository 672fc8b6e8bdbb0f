/** The one canonical JSON form that dbgate hashes and signs. */

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, `undefined` members dropped,
 * no NaN or Infinity. Audit events and policy bundles
 * are hashed and signed over this form, so the signed bytes never depend on key order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v ?? null)).join(',')}]`
      const keys = Object.keys(value).sort()
      let out = '{'
      for (const k of keys) {
        const v = (value as Record<string, unknown>)[k]
        if (v === undefined) continue
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`
      }
      return `${out}}`
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      break
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`)
}
