import {homedir} from 'node:os'
import {join} from 'node:path'

/** Where dbgate keeps its files, following the XDG base directories; DBGATE_* variables override. */
export interface Paths {
  /** Config files (config.yaml, and the token file when no keychain exists). */
  readonly configDir: string
  /** State that must survive restarts: the audit spool, device key fallback. */
  readonly stateDir: string
}

/** Resolves dbgate's directories from the environment. */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): Paths {
  const home = env.HOME ?? homedir()
  const configDir = env.DBGATE_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'dbgate')
  const stateDir = env.DBGATE_STATE_DIR ?? join(env.XDG_STATE_HOME ?? join(home, '.local', 'state'), 'dbgate')
  return Object.freeze({configDir, stateDir})
}
