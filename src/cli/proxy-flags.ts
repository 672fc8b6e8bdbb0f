import {Args, Flags} from '@oclif/core'

/** The TARGET argument of `connect` and `exec`; piped stdin is never read into it (exec reads SQL there). */
export const targetArg = Args.string({
  description: 'Target name in the control plane (see `dbgate targets`).',
  ignoreStdin: true,
})

/** Flags that choose where a guarded session goes and who it acts for: shared by `connect` and `exec`. */
export const sessionFlags = {
  url: Flags.string({
    description: 'Standalone target: postgres://user:password@host:port/database?sslmode=...',
    env: 'DBGATE_URL',
  }),
  policy: Flags.string({description: 'Policy file (YAML or JSON), with --url.', env: 'DBGATE_POLICY'}),
  api: Flags.string({
    description: 'Control plane URL (default: DBGATE_API, config.yaml, or the last login).',
  }),
  agent: Flags.string({
    description: 'Name of the AI agent acting for you (actor "agent").',
    env: 'DBGATE_AGENT',
  }),
}
