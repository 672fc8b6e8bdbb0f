import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {parse as parseYaml} from 'yaml'

import {UsageError, messageOf} from '../errors.js'
import {resolvePaths, type Paths} from './paths.js'

export {resolvePaths, type Paths} from './paths.js'

/** Settings every command may use, resolved once: flags > DBGATE_* env > config file > defaults. */
export interface Settings extends Paths {
  /** Control plane URL (`--api`, DBGATE_API, `api:` in config.yaml). */
  readonly apiUrl: string | undefined
  /** Listener address for local proxies; loopback unless explicitly changed. */
  readonly listenHost: string
  /** Largest protocol message the proxy accepts from a client, in bytes. */
  readonly maxMessageBytes: number
}

/** Flag values a command passes in; undefined means "not given". */
export interface SettingFlags {
  api?: string | undefined
  host?: string | undefined
  maxMessageBytes?: number | undefined
}

interface FileSettings {
  api?: string
  host?: string
  maxMessageBytes?: number
}

function readConfigFile(path: string): FileSettings {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return {}
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new UsageError(`Config file ${path} is not valid YAML: ${messageOf(err)}`)
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`Config file ${path} must be a mapping.`)
  const out: FileSettings = {}
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'api' && typeof value === 'string') out.api = value
    else if (key === 'host' && typeof value === 'string') out.host = value
    else if (key === 'maxMessageBytes' && typeof value === 'number' && value > 0) out.maxMessageBytes = value
    else
      throw new UsageError(
        `Config file ${path}: unknown or invalid key "${key}" (allowed: api, host, maxMessageBytes).`,
      )
  }
  return out
}

function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${name} must be a positive integer, got "${raw}".`)
  return n
}

/** Resolves the settings once into a frozen object. */
export function resolveSettings(flags: SettingFlags = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const paths = resolvePaths(env)
  const file = readConfigFile(join(paths.configDir, 'config.yaml'))
  return Object.freeze({
    ...paths,
    apiUrl: flags.api ?? env.DBGATE_API ?? file.api,
    listenHost: flags.host ?? env.DBGATE_HOST ?? file.host ?? '127.0.0.1',
    maxMessageBytes:
      flags.maxMessageBytes ??
      envNumber(env, 'DBGATE_MAX_MESSAGE_BYTES') ??
      file.maxMessageBytes ??
      64 * 1024 * 1024,
  })
}
