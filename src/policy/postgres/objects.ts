/**
 * Relations that DDL names with a plain dotted name instead of a RangeVar: `DROP TABLE a, s.b`,
 * `COMMENT ON COLUMN s.t.c`, `DROP TRIGGER tr ON t`, `SECURITY LABEL ON TABLE t`, `ALTER ... OWNER TO`.
 */
import {type AstObject, listItems, str, stringList} from './ast.js'

/** Object types that are relations (pg_class rows) named by their full name. */
const RELATIONS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
])

/** Object types named `table.member`: the relation is every part but the last. */
const MEMBERS = new Set([
  'OBJECT_COLUMN',
  'OBJECT_TRIGGER',
  'OBJECT_RULE',
  'OBJECT_POLICY',
  'OBJECT_TABCONSTRAINT',
])

/** Where each statement keeps its object type and its object name(s). */
const FIELDS: Readonly<Record<string, readonly [typeField: string, objectField: string, many: boolean]>> = {
  DropStmt: ['removeType', 'objects', true],
  CommentStmt: ['objtype', 'object', false],
  SecLabelStmt: ['objtype', 'object', false],
  AlterObjectSchemaStmt: ['objectType', 'object', false],
  AlterOwnerStmt: ['objectType', 'object', false],
  RenameStmt: ['renameType', 'object', false],
  AlterObjectDependsStmt: ['objectType', 'object', false],
}

/** The dotted names (as parts) of the relations a DDL statement names without a RangeVar. */
export function namedRelations(type: string, node: AstObject): string[][] {
  const fields = FIELDS[type]
  if (!fields) return []
  const [typeField, objectField, many] = fields
  const objectType = str(node, typeField)
  if (objectType === undefined) return []
  const member = MEMBERS.has(objectType)
  if (!member && !RELATIONS.has(objectType)) return []
  const value = node[objectField]
  const objects = many ? (Array.isArray(value) ? (value as readonly unknown[]) : []) : [value]
  const out: string[][] = []
  for (const o of objects) {
    const parts = stringList(listItems(o) ?? [])
    if (!parts) continue
    const name = member ? parts.slice(0, -1) : parts
    if (name.length > 0) out.push(name)
  }
  return out
}
