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
 * The fewest NULL-tested columns whose NOT NULL makes a WHERE true everywhere (`holds`, given their sampling
 * keys): one alone (`id is not null or v is null`), else all of them; undefined when none does.
 */
export function fewestNotNull(
  found: readonly {readonly key: string; readonly column: string}[],
  holds: (keys: ReadonlySet<string>) => boolean,
): string[] | undefined {
  const groups = found.map((f) => [f])
  if (found.length > 1) groups.push([...found])
  const group = groups.find((g) => holds(new Set(g.map((f) => f.key))))
  return group?.map((f) => f.column)
}
