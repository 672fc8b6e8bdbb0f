import {messageOf} from '../../errors.js'
import type {ConfigTarget, ServerConfig} from '../config.js'
import {compilePolicies, selectPolicy, type CompiledPolicy} from './policies.js'

/**
 * The part of the config that reloads without a restart (SIGHUP, `POST /api/v1/admin/reload`): policies,
 * the targets' role mappings and credential TTLs, and the `sessions:` settings. A reload validates the whole
 * new config first and swaps it in only if every part is good; a bad file keeps the old state and reports
 * why. Other sections (oidc, roles, tokens, listen) still need a restart.
 */

/** What a target's sessions get: mapped database roles (first match) and the credential lifetime. */
export interface TargetAccess {
  readonly roles: readonly {readonly groups: readonly string[]; readonly db_role: string}[]
  /** Seconds. */
  readonly credentialTtl: number
}

/** A snapshot; replaced whole on reload, never mutated. */
interface Snapshot {
  readonly config: ServerConfig
  readonly policies: readonly CompiledPolicy[]
  readonly loadedAt: number
}

/** The outcome of a reload. */
export type ReloadOutcome =
  | {readonly kind: 'reloaded'; readonly policies: number; readonly targets: number; readonly at: number}
  | {readonly kind: 'failed'; readonly error: string}

/** Holds the current reloadable config. */
export class LiveConfig {
  private snapshot: Snapshot

  /** Compiles the starting config; throws ServerConfigError when a policy is bad (the server does not start). */
  constructor(
    config: ServerConfig,
    now: number,
    private readonly file = '(config)',
  ) {
    this.snapshot = {config, policies: compilePolicies(config.policies, file), loadedAt: now}
  }

  /** The config currently in force. */
  get config(): ServerConfig {
    return this.snapshot.config
  }

  /** How many policies are loaded. */
  get policyCount(): number {
    return this.snapshot.policies.length
  }

  /** The policy for a target and groups (first match), or undefined. */
  policyFor(target: string, groups: readonly string[]): CompiledPolicy | undefined {
    return selectPolicy(this.snapshot.policies, target, groups)
  }

  /** Role mapping and TTL of a config target; API targets have no role mapping. */
  accessFor(target: string): TargetAccess {
    const t: ConfigTarget | undefined = this.snapshot.config.targets.find((x) => x.name === target)
    return {
      roles: t?.roles ?? [],
      credentialTtl: t?.credential_ttl ?? this.snapshot.config.sessions.credential_ttl,
    }
  }

  /**
   * Loads a new config and swaps it in once it fully validated and `apply` (e.g. syncing targets into the
   * store) succeeded; on any error the old config stays.
   */
  async reload(
    load: () => ServerConfig,
    apply: (config: ServerConfig) => Promise<void>,
    now: number,
  ): Promise<ReloadOutcome> {
    let next: Snapshot
    try {
      const config = load()
      next = {config, policies: compilePolicies(config.policies, this.file), loadedAt: now}
      await apply(config)
    } catch (err) {
      return {kind: 'failed', error: messageOf(err)}
    }
    this.snapshot = next
    return {kind: 'reloaded', policies: next.policies.length, targets: next.config.targets.length, at: now}
  }
}

/** The first role entry naming one of the caller's groups ('*' = anyone), or undefined. */
export function mappedRole(access: TargetAccess, groups: readonly string[]): string | undefined {
  return access.roles.find((r) => r.groups.some((g) => g === '*' || groups.includes(g)))?.db_role
}
