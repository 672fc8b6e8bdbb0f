/**
 * The client's startup packet: what it asks for (TLS, GSS encryption, a cancel, a session), and
 * which of its parameters are settings that must pass the guard like a SET statement would.
 */
import {StartupCode} from './messages.js'
import {FieldReader, WireError} from './wire.js'

/** What an untyped startup-phase packet asks for. */
export type StartupPacket =
  | {readonly kind: 'ssl'}
  | {readonly kind: 'gssenc'}
  | {readonly kind: 'cancel'; readonly pid: number; readonly secret: number}
  | {readonly kind: 'startup'; readonly minor: number; readonly params: ReadonlyMap<string, string>}

/** Decodes a startup-phase packet (length included); throws WireError on anything else. */
export function parseStartupPacket(frame: Buffer): StartupPacket {
  const r = new FieldReader(frame, 4)
  const code = r.int32()
  switch (code) {
    case StartupCode.SSLRequest:
      return {kind: 'ssl'}
    case StartupCode.GSSENCRequest:
      return {kind: 'gssenc'}
    case StartupCode.CancelRequest:
      return {kind: 'cancel', pid: r.int32(), secret: r.int32()}
    default:
      break
  }
  const major = code >>> 16
  if (major !== 3) throw new WireError(`unsupported frontend protocol ${major}.${code & 0xffff}`)
  const params = new Map<string, string>()
  for (;;) {
    const key = r.cstring()
    if (key === '') break
    params.set(key, r.cstring())
  }
  if (r.remaining !== 0) throw new WireError('invalid startup packet layout')
  if (!params.has('user')) throw new WireError('no PostgreSQL user name specified in startup packet')
  return {kind: 'startup', minor: code & 0xffff, params}
}

/** Parameters passed to the server as they are: they cannot change how a statement is read or run. */
const HARMLESS = new Set([
  'application_name',
  'client_encoding',
  'datestyle',
  'timezone',
  'intervalstyle',
  'extra_float_digits',
])

/** Parameters that are not settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'options', 'replication'])

/** How the client's startup parameters are handled. */
export interface StartupSettings {
  /** Forwarded without a decision. */
  readonly passThrough: ReadonlyMap<string, string>
  /** Settings (from `options` and other parameters) to decide as SET statements before forwarding. */
  readonly settings: readonly (readonly [string, string])[]
  /** Protocol extensions (`_pq_.*`) the proxy does not support, for NegotiateProtocolVersion. */
  readonly unsupportedExtensions: readonly string[]
}

/** Splits `options` like the server does: whitespace separates, a backslash escapes the next character. */
export function splitOptions(options: string): string[] {
  const out: string[] = []
  let cur = ''
  let inToken = false
  for (let i = 0; i < options.length; i++) {
    const ch = options[i] as string
    if (ch === '\\' && i + 1 < options.length) {
      cur += options[++i]
      inToken = true
    } else if (/\s/.test(ch)) {
      if (inToken) out.push(cur)
      cur = ''
      inToken = false
    } else {
      cur += ch
      inToken = true
    }
  }
  if (inToken) out.push(cur)
  return out
}

function setting(arg: string): [string, string] {
  const eq = arg.indexOf('=')
  if (eq <= 0) throw new WireError(`invalid setting "${arg}" in options (expected name=value)`)
  return [arg.slice(0, eq).replaceAll('-', '_').toLowerCase(), arg.slice(eq + 1)]
}

/** Reads `-c name=value` and `--name=value` from `options`; anything else is refused. */
export function parseOptions(options: string): [string, string][] {
  const args = splitOptions(options)
  const out: [string, string][] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '-c') {
      const next = args[++i]
      if (next === undefined) throw new WireError('"-c" in options needs name=value')
      out.push(setting(next))
    } else if (arg.startsWith('-c')) out.push(setting(arg.slice(2)))
    else if (arg.startsWith('--')) out.push(setting(arg.slice(2)))
    else throw new WireError(`unsupported server option "${arg}" (only -c name=value is accepted)`)
  }
  return out
}

/** Sorts the client's parameters into pass-through ones and settings that need a decision. */
export function classifyParameters(params: ReadonlyMap<string, string>): StartupSettings {
  const passThrough = new Map<string, string>()
  const settings: [string, string][] = []
  const unsupportedExtensions: string[] = []
  for (const [key, value] of params) {
    const lower = key.toLowerCase()
    if (lower.startsWith('_pq_.')) unsupportedExtensions.push(key)
    else if (HARMLESS.has(lower)) passThrough.set(key, value)
    else if (!NOT_SETTINGS.has(lower)) settings.push([lower, value])
  }
  const options = params.get('options')
  if (options !== undefined && options.trim() !== '') settings.push(...parseOptions(options))
  return {passThrough, settings, unsupportedExtensions}
}

/** The SET statement equivalent to a setting, for the guard. */
export function settingAsSql(name: string, value: string): string {
  const ident = name
    .split('.')
    .map((p) => `"${p.replaceAll('"', '""')}"`)
    .join('.')
  return `SET ${ident} = '${value.replaceAll("'", "''")}'`
}

/** True when a `replication` startup parameter asks for a replication connection. */
export function wantsReplication(params: ReadonlyMap<string, string>): boolean {
  const v = params.get('replication')
  if (v === undefined) return false
  return !['false', 'off', 'no', '0'].includes(v.toLowerCase())
}
