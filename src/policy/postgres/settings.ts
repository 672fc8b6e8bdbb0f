/**
 * Settings that change how the server tokenizes later queries. The guard parses with PostgreSQL's
 * defaults; with `standard_conforming_strings = off` the server would read `'x\''; DROP TABLE t; --'`
 * as two statements where the guard reads one string. Turning such a setting away from its default
 * is refused (fail closed), whether by SET, ALTER ROLE/DATABASE/SYSTEM ... SET, or set_config().
 */
import {type AstObject, list, obj, str, unwrap} from './ast.js'
import {parseBoolean} from './consts.js'

/** Settings whose non-default value changes the lexer, and the value the guard assumes. */
const LEXER_SETTINGS = new Set(['standard_conforming_strings'])

/** The error for a statement that would change how the server reads strings; undefined when harmless. */
export type SettingCheck = {readonly error: string | undefined; readonly literalSensitive: boolean}

const SAFE: SettingCheck = {error: undefined, literalSensitive: false}

function refusal(name: string): string {
  return `changing ${name} would make the server read later queries differently from the guard; refused`
}

/** True when a constant argument turns the setting on (its default). */
function turnsOn(value: unknown): boolean {
  const c = unwrap(value)
  if (c?.type !== 'A_Const') return false
  const sval = obj(c.node, 'sval')
  if (sval) return parseBoolean(str(sval, 'sval') ?? '') === true
  const boolval = obj(c.node, 'boolval')
  return boolval?.boolval === true
}

/** Checks a VariableSetStmt (bare or as the `setstmt` of ALTER ... SET). */
export function checkSet(setstmt: AstObject | undefined): SettingCheck {
  const name = setstmt && str(setstmt, 'name')?.toLowerCase()
  if (!setstmt || name === undefined || !LEXER_SETTINGS.has(name)) return SAFE
  // SET ... TO DEFAULT and RESET return to the default the guard assumes.
  if (str(setstmt, 'kind') !== 'VAR_SET_VALUE') return SAFE
  const args = list(setstmt, 'args')
  const ok = args.length === 1 && turnsOn(args[0])
  return {error: ok ? undefined : refusal(name), literalSensitive: true}
}

/** Checks a call of set_config(name, value, is_local) whose name is a constant. */
export function checkSetConfig(functionName: string, args: readonly unknown[]): SettingCheck {
  if (functionName !== 'set_config' && functionName !== 'pg_catalog.set_config') return SAFE
  const first = unwrap(args[0])
  if (first?.type !== 'A_Const') return SAFE
  const sval = obj(first.node, 'sval')
  const name = sval ? (str(sval, 'sval') ?? '').toLowerCase() : ''
  if (!LEXER_SETTINGS.has(name)) return {error: undefined, literalSensitive: true}
  return {error: turnsOn(args[1]) ? undefined : refusal(name), literalSensitive: true}
}
