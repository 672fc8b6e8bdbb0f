/** The fake catalog of the lineage and masking-plan suites: users, orders, and views over them. */
import type {CatalogView} from '../../src/policy/lineage/types.js'

const TABLES: Readonly<Record<string, readonly string[]>> = {
  'public.users': ['id', 'name', 'email', 'ssn'],
  'public.orders': ['id', 'user_id', 'card'],
  'public.notes': ['id', 'note'],
  'public.v_users': ['id', 'name', 'email'],
  'public.v_names': ['id', 'name'],
  'public.v_deep': ['who', 'contact'],
  'public.v_loop': ['x'],
  'public.v_wrong': ['a', 'b', 'c'],
}

const VIEWS: Readonly<Record<string, string>> = {
  'public.v_users': 'SELECT users.id, users.name, users.email FROM public.users',
  'public.v_names': "SELECT u.id, upper(u.name) AS name FROM public.users u WHERE u.email LIKE '%@x'",
  'public.v_deep': 'SELECT v.name, lower(v.email) FROM public.v_users v',
  // A view whose definition refers to itself (only a stale catalog could say so).
  'public.v_loop': 'SELECT x FROM public.v_loop',
  // A definition that does not match the view's columns (a stale catalog).
  'public.v_wrong': 'SELECT id, ssn FROM public.users',
}

/** users(id, name, email, ssn), orders(id, user_id, card), notes(id, note), and views v_users, v_names, v_deep over them; notes.note takes any value. */
export const catalog: CatalogView = {
  columns: (schema, table) => TABLES[`${schema}.${table}`],
  viewDefinition: (schema, name) => VIEWS[`${schema}.${name}`],
  // notes.note is text of no constraint or index: storing any value there cannot fail.
  acceptsAny: (schema, table, column) => `${schema}.${table}.${column}` === 'public.notes.note',
}
