import {ROLES, type Role} from '../control/api-types.js'

/** Maps groups to roles with the config's `roles:` table; `*` in a role's list matches everyone. */
export function rolesFor(
  groups: readonly string[],
  table: Readonly<Record<Role, readonly string[]>>,
): Role[] {
  return ROLES.filter((role) => table[role].some((g) => g === '*' || groups.includes(g)))
}

/** True when the caller holds at least one of the roles. */
export function hasAnyRole(roles: readonly Role[], wanted: readonly Role[]): boolean {
  return wanted.some((r) => roles.includes(r))
}
