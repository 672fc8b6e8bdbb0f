/**
 * `where: absent` for a WHERE that only drops the rows whose columns are NULL (`id is not null`) when the
 * catalog says those columns are NOT NULL: the analysis names them (Operation.notNull), the engine asks its
 * catalog, and the operations are decided again with the facts applied. Pure: facts in, operations out.
 */
import type {NotNullCheck, Operation} from './types.js'

/** True when some operation's WHERE depends on NOT NULL facts. */
export function hasNotNullChecks(operations: readonly Operation[]): boolean {
  return operations.some((o) => o.notNull !== undefined)
}

/**
 * The operations with `where: absent` where `holds` says every column of their check is NOT NULL (each
 * check, once). With `holds` always true: the strictest reading, to learn whether the facts matter at all.
 */
export function applyNotNull(
  operations: readonly Operation[],
  holds: (check: NotNullCheck) => boolean,
): Operation[] {
  return operations.map((o) => {
    if (o.notNull === undefined) return o
    const {notNull, ...rest} = o
    return holds(notNull) ? {...rest, where: 'absent'} : o
  })
}

/**
 * Columns that are never NULL whatever the catalog says, so a WHERE that only drops their NULLs bounds
 * nothing (`DELETE FROM t WHERE ctid IS NOT NULL`): Postgres system columns, which every row has, and
 * MariaDB's `_rowid`, the alias of a table's integer primary key (a table without one has no such column,
 * and the statement fails).
 */
export const NEVER_NULL: Readonly<Record<'postgres' | 'mysql', ReadonlySet<string>>> = {
  postgres: new Set(['ctid', 'xmin', 'xmax', 'cmin', 'cmax', 'tableoid']),
  mysql: new Set(['_rowid']),
}

/**
 * The fewest NULL-tested columns whose NOT NULL makes a WHERE true everywhere (`holds`, given their sampling
 * keys): one alone (`id is not null or v is null`), else all of them; undefined when none does. Columns of
 * `never` (NEVER_NULL) are taken as NOT NULL without asking: an empty list when they alone make it true.
 */
export function fewestNotNull(
  found: readonly {readonly key: string; readonly column: string}[],
  holds: (keys: ReadonlySet<string>) => boolean,
  never: ReadonlySet<string>,
): string[] | undefined {
  const known = found.filter((f) => never.has(f.column)).map((f) => f.key)
  const asked = found.filter((f) => !never.has(f.column))
  if (known.length > 0 && holds(new Set(known))) return []
  const groups = asked.map((f) => [f])
  if (asked.length > 1) groups.push([...asked])
  const group = groups.find((g) => holds(new Set([...known, ...g.map((f) => f.key)])))
  return group?.map((f) => f.column)
}
