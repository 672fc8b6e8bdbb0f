/**
 * Typed access to libpg-query's JSON parse tree without trusting its shape: every reader checks
 * what it finds, so an unexpected tree degrades to "not found" instead of a crash.
 *
 * Shape of the tree: a field typed `Node` holds a one-key wrapper (`{"RangeVar": {...}}`); a field
 * typed with a concrete struct (`DeleteStmt.relation: RangeVar`) holds the struct bare; fields at
 * their default value (false, 0, empty) are omitted.
 */

/** One struct of the parse tree. */
export type AstObject = Readonly<Record<string, unknown>>

/** A node with its type, whether it came wrapped or bare. */
export interface TypedNode {
  readonly type: string
  readonly node: AstObject
}

/** True for a plain object (not null, not an array). */
export function isObject(value: unknown): value is AstObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The type name of a one-key wrapper `{"TypeName": {...}}`, or undefined for anything else. */
export function wrapperType(value: AstObject): string | undefined {
  let type: string | undefined
  for (const key in value) {
    if (type !== undefined) return undefined
    type = key
  }
  if (type === undefined) return undefined
  const first = type.charCodeAt(0)
  // Node type names start with an upper-case letter; struct fields never do.
  return first >= 65 && first <= 90 && isObject(value[type]) ? type : undefined
}

/** Unwraps `{"Type": {...}}`; undefined when the value is not a wrapper. */
export function unwrap(value: unknown): TypedNode | undefined {
  if (!isObject(value)) return undefined
  const type = wrapperType(value)
  if (type === undefined) return undefined
  return {type, node: value[type] as AstObject}
}

/** A string field, or undefined. */
export function str(node: AstObject, key: string): string | undefined {
  const value = node[key]
  return typeof value === 'string' ? value : undefined
}

/** An object field (bare struct), or undefined. */
export function obj(node: AstObject, key: string): AstObject | undefined {
  const value = node[key]
  return isObject(value) ? value : undefined
}

/** An array field; empty when absent (the parser omits empty lists). */
export function list(node: AstObject, key: string): readonly unknown[] {
  const value = node[key]
  return Array.isArray(value) ? (value as readonly unknown[]) : []
}

/** The svals of a list of `{"String": {"sval"}}` nodes (a qualified name); undefined if any item is not a String. */
export function stringList(items: readonly unknown[]): string[] | undefined {
  const out: string[] = []
  for (const item of items) {
    const s = unwrap(item)
    if (s?.type !== 'String') return undefined
    // An empty identifier is omitted like every default value.
    out.push(str(s.node, 'sval') ?? '')
  }
  return out
}

/** The names of a column reference (`{"ColumnRef": {"fields": [...]}}`, `t.c` as ['t', 'c']), or undefined. */
export function columnRefFields(value: unknown): string[] | undefined {
  const c = unwrap(value)
  if (c?.type !== 'ColumnRef' || !isObject(c.node)) return undefined
  return stringList(list(c.node, 'fields'))
}

/** The items of a `{"List": {"items": [...]}}` node, or undefined. */
export function listItems(value: unknown): readonly unknown[] | undefined {
  const l = unwrap(value)
  return l?.type === 'List' ? list(l.node, 'items') : undefined
}
