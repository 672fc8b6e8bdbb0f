import {readFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'

import {parse as parseYaml} from 'yaml'
import {z} from 'zod'

import {DbgateError, ExitCode, messageOf} from '../errors.js'
import type {Role} from '../control/api-types.js'

/**
 * The control plane's config file (YAML), validated with zod into a frozen ServerConfig. Unknown keys are
 * errors, so a typo never silently becomes a default. docs/server.md is the reference.
 */

/** A config file that cannot be read or does not follow the schema: names the file and each bad path. */
export class ServerConfigError extends DbgateError {
  /** Builds the error from the file name and one line per problem. */
  constructor(file: string, problems: readonly string[]) {
    super(
      'E_SERVER_CONFIG',
      `Server config ${file} is not valid:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      {
        exitCode: ExitCode.usage,
        suggestions: ['See docs/server.md for the config file reference.'],
      },
    )
    this.name = 'ServerConfigError'
  }
}

const UNITS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}

/** Parses "90s", "10m", "12h", "30d", "2w" or a bare number of seconds into seconds; undefined if invalid. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text > 0 ? text : undefined
  const m = /^(\d+)\s*([smhdw]?)$/.exec(text.trim())
  if (!m) return undefined
  const n = Number(m[1]) * (UNITS[m[2] || 's'] ?? 1)
  return n > 0 && Number.isSafeInteger(n) ? n : undefined
}

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = parseDuration(v)
  if (s === undefined) {
    ctx.addIssue({code: 'custom', message: `"${v}" is not a duration (use e.g. 90s, 10m, 12h, 30d)`})
    return z.NEVER
  }
  return s
})

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'use letters, digits, ".", "_", "-" (max 63)')
const group = z.string().min(1).max(200)

const devUser = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'use letters, digits, ".", "_", "@", "-"'),
  password: z.string().min(1),
  name: z.string().min(1).optional(),
  email: z.email().optional(),
  groups: z.array(group).default([]),
})

const tls = z.strictObject({
  mode: z.enum(['disable', 'require', 'verify-full']).default('disable'),
  ca: z.string().optional(),
  server_name: z.string().optional(),
})

const target = z.strictObject({
  name,
  protocol: z.enum(['postgres', 'mysql']),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  database: z.string().min(1),
  tls: tls.default({mode: 'disable'}),
  admin: z.strictObject({user: z.string().min(1), password: z.string()}),
  groups: z.array(group).default([]),
  /** Which database role a session's minted user joins: the first entry naming one of the caller's groups. */
  roles: z
    .array(z.strictObject({groups: z.array(group).min(1), db_role: z.string().min(1).max(63)}))
    .default([]),
  /** Lifetime of minted credentials before renewal; default `sessions.credential_ttl`. */
  credential_ttl: duration.optional(),
})

const policyEntry = z
  .strictObject({
    name,
    /** Globs over target names; default every target. */
    targets: z.array(z.string().min(1)).default(['*']),
    /** Groups it applies to ('*' = everyone); default everyone. */
    groups: z.array(group).default(['*']),
    document: z.record(z.string(), z.unknown()).optional(),
    file: z.string().min(1).optional(),
  })
  .refine((p) => (p.document === undefined) !== (p.file === undefined), {
    message: 'give exactly one of document or file',
  })

const sessionsSection = z
  .strictObject({
    credential_ttl: duration.default(900),
    bundle_ttl: duration.default(3600),
    reaper_interval: duration.default(60),
  })
  .default({credential_ttl: 900, bundle_ttl: 3600, reaper_interval: 60})

/** Where approval requests are announced (docs/approvals.md); each delivery is signed with `secret`. */
const notifySink = z.strictObject({
  name,
  kind: z.enum(['slack', 'webhook']),
  url: z.url({protocol: /^https?$/}),
  secret: z.string().min(16, 'use at least 16 characters'),
  /** Target globs whose requests go here; default every target. */
  targets: z.array(z.string().min(1)).default(['*']),
  /** Rule names whose requests go here; default every rule. */
  rules: z.array(z.string().min(1)).optional(),
})

const approvalsSection = z
  .strictObject({
    notify: z.array(notifySink).default([]),
    /** Attempts after the first failed delivery, with doubling delays from retry_delay. */
    retries: z.number().int().min(0).max(10).default(4),
    retry_delay: duration.default(1),
  })
  .default({notify: [], retries: 4, retry_delay: 1})

const schema = z
  .strictObject({
    public_url: z.url({protocol: /^https?$/}).optional(),
    listen: z.string().optional(),
    oidc: z
      .strictObject({
        issuer: z.url(),
        client_id: z.string().min(1),
        client_secret: z.string().optional(),
        groups_claim: z.string().min(1).default('groups'),
        scopes: z.array(z.string()).default(['openid', 'profile', 'email']),
      })
      .optional(),
    dev: z.strictObject({users: z.array(devUser).min(1)}).optional(),
    roles: z
      .strictObject({
        admin: z.array(group).default([]),
        approver: z.array(group).default([]),
        auditor: z.array(group).default([]),
        user: z.array(group).default(['*']),
      })
      .default({admin: [], approver: [], auditor: [], user: ['*']}),
    tokens: z
      .strictObject({
        access_ttl: duration.default(600),
        refresh_ttl: duration.default(30 * 86_400),
        session_max_age: duration.default(90 * 86_400),
        machine_default_ttl: duration.default(90 * 86_400),
        device_code_ttl: duration.default(600),
        device_poll_interval: duration.default(5),
        key_rotation: duration.default(30 * 86_400),
      })
      .default({
        access_ttl: 600,
        refresh_ttl: 30 * 86_400,
        session_max_age: 90 * 86_400,
        machine_default_ttl: 90 * 86_400,
        device_code_ttl: 600,
        device_poll_interval: 5,
        key_rotation: 30 * 86_400,
      }),
    targets: z.array(target).default([]),
    sessions: sessionsSection,
    policies: z.array(policyEntry).default([]),
    approvals: approvalsSection,
  })
  .superRefine((doc, ctx) => {
    if (doc.oidc && doc.dev)
      ctx.addIssue({code: 'custom', path: ['dev'], message: 'use either oidc or dev, not both'})
    const seen = new Set<string>()
    doc.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({code: 'custom', path: ['targets', i, 'name'], message: 'duplicate name'})
      seen.add(t.name)
    })
    const policyNames = new Set<string>()
    doc.policies.forEach((p, i) => {
      if (policyNames.has(p.name))
        ctx.addIssue({code: 'custom', path: ['policies', i, 'name'], message: 'duplicate name'})
      policyNames.add(p.name)
    })
    const users = new Set<string>()
    doc.dev?.users.forEach((u, i) => {
      if (users.has(u.username))
        ctx.addIssue({code: 'custom', path: ['dev', 'users', i, 'username'], message: 'duplicate user'})
      users.add(u.username)
    })
  })

type Parsed = z.output<typeof schema>

/** A development user of the embedded identity provider. */
export type DevUser = z.output<typeof devUser>

/** A target as written in the config file. */
export type ConfigTarget = z.output<typeof target>

/** A notification receiver of approval requests. */
export type NotifySink = z.output<typeof notifySink>

/** A policy entry as written in the config file (`file` resolved against the config file's directory). */
export type ConfigPolicy = z.output<typeof policyEntry>

/** The validated server configuration; durations are in seconds. */
export interface ServerConfig {
  readonly publicUrl: string | undefined
  readonly listen: string | undefined
  readonly oidc: Parsed['oidc']
  readonly dev: {users: DevUser[]} | undefined
  readonly roles: Readonly<Record<Role, readonly string[]>>
  readonly tokens: Readonly<Parsed['tokens']>
  readonly targets: readonly ConfigTarget[]
  /** Minted credentials, bundles and the reaper. */
  readonly sessions: Readonly<Parsed['sessions']>
  /** Policies served in signed bundles, first match wins. */
  readonly policies: readonly ConfigPolicy[]
  /** Where approval requests are announced, and how deliveries are retried. */
  readonly approvals: Readonly<Parsed['approvals']>
}

/** The users `--dev` gets when the config file names none: alice (eng, approvers), bob (eng), carol (admins). */
export const DEFAULT_DEV_USERS: DevUser[] = [
  {
    username: 'alice',
    password: 'alice',
    name: 'Alice Example',
    email: 'alice@example.com',
    groups: ['eng', 'approvers'],
  },
  {username: 'bob', password: 'bob', name: 'Bob Example', email: 'bob@example.com', groups: ['eng']},
  {
    username: 'carol',
    password: 'carol',
    name: 'Carol Example',
    email: 'carol@example.com',
    groups: ['admins', 'security'],
  },
]

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
  return `${path.replace(/^\./, '') || '(document)'}: ${issue.message}`
}

/** Validates an already-parsed document; `file` only names it in errors. */
export function validateServerConfig(doc: unknown, file: string): ServerConfig {
  const result = schema.safeParse(doc ?? {})
  if (!result.success) throw new ServerConfigError(file, result.error.issues.map(formatIssue))
  const d = result.data
  return Object.freeze({
    publicUrl: d.public_url?.replace(/\/+$/, ''),
    listen: d.listen,
    oidc: d.oidc,
    dev: d.dev,
    roles: Object.freeze({...d.roles}),
    tokens: Object.freeze({...d.tokens}),
    targets: Object.freeze(d.targets),
    sessions: Object.freeze({...d.sessions}),
    policies: Object.freeze(d.policies),
    approvals: Object.freeze(d.approvals),
  })
}

/** Reads and validates a YAML config file; a missing path means an empty config. */
export function loadServerConfig(file: string | undefined): ServerConfig {
  if (file === undefined) return validateServerConfig({}, '(defaults)')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ServerConfigError(file, [`cannot read the file: ${messageOf(err)}`])
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new ServerConfigError(file, [`not valid YAML: ${messageOf(err)}`])
  }
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc)))
    throw new ServerConfigError(file, ['(document): must be a mapping'])
  const config = validateServerConfig(doc, file)
  const base = dirname(resolve(file))
  const policies = config.policies.map((p) =>
    p.file === undefined ? p : {...p, file: resolve(base, p.file)},
  )
  return Object.freeze({...config, policies: Object.freeze(policies)})
}

/** With `--dev`: the config's dev users, or the default ones (and carol's `admins` group as admin). */
export function withDevMode(config: ServerConfig, dev: boolean): ServerConfig {
  if (!dev || config.dev) return config
  if (config.oidc)
    throw new ServerConfigError('(flags)', ['--dev: the config file already names an oidc issuer'])
  const roles =
    config.roles.admin.length > 0 ? config.roles : {...config.roles, admin: ['admins'], auditor: ['security']}
  return Object.freeze({...config, roles: Object.freeze(roles), dev: {users: DEFAULT_DEV_USERS}})
  return Object.freeze({...config, dev: {users: DEFAULT_DEV_USERS}})
}
