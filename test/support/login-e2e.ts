/**
 * End-to-end helpers for the login tests: a real dev control plane (`dbgate server start --dev`) on port 0,
 * and the CLI run as a child process with its own config directory and the file token store.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin', 'run.js')

/** A dev control plane for one test file. Short access tokens make every command refresh. */
export const DEV_SERVER_CONFIG = `
dev:
  users:
    - {username: alice, password: alice-password, name: Alice Example, email: alice@example.com, groups: [eng, approvers]}
    - {username: bob, password: bob-password, name: Bob Example, groups: [eng]}
roles:
  admin: [admins]
  approver: [approvers]
  auditor: []
  user: ['*']
tokens:
  access_ttl: 30s
  device_poll_interval: 1s
targets:
  - name: eng-pg
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    admin: {user: postgres, password: ''}
    groups: [eng]
  - name: finance-mysql
    protocol: mysql
    host: 127.0.0.1
    port: 3306
    database: test
    admin: {user: root, password: ''}
    groups: [finance]
`

/** A running dev control plane. */
export interface DevServer {
  readonly url: string
  readonly dir: string
  readonly configPath: string
  readonly dataDir: string
  /** Everything the server wrote to stderr so far (for failure messages). */
  log(): string
  stop(): Promise<void>
  /** Stops the server but keeps its config and data, for restartDevServer. */
  halt(): Promise<void>
}

/** Starts a halted dev server again on the same port, config and data (its tokens and trail survive). */
export function restartDevServer(old: DevServer): Promise<DevServer> {
  return startDevServer('', {dir: old.dir, listen: new URL(old.url).host})
}

/** Starts `dbgate server start --dev` on 127.0.0.1:0 and waits for the URL it prints on stderr. */
export async function startDevServer(
  config = DEV_SERVER_CONFIG,
  again?: {readonly dir: string; readonly listen: string},
): Promise<DevServer> {
  const dir = again?.dir ?? mkdtempSync(join(tmpdir(), 'dbgate-e2e-server-'))
  const configPath = join(dir, 'server.yaml')
  const dataDir = join(dir, 'data')
  if (again === undefined) writeFileSync(configPath, config)
  const listen = again?.listen ?? '127.0.0.1:0'
  const child = spawn(
    process.execPath,
    [BIN, 'server', 'start', '--dev', '--config', configPath, '--data', dataDir, '--listen', listen],
    {env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe']},
  )
  let stderr = ''
  child.stdout.setEncoding('utf8').resume()
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not print its URL in 30 s:\n${stderr}`)),
      30_000,
    )
    child.stderr.on('data', () => {
      const m = /(https?:\/\/127\.0\.0\.1:\d+)/.exec(stderr)
      if (m) {
        clearTimeout(timer)
        resolveUrl(m[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${stderr}`))
    })
  })
  return {
    url,
    dir,
    configPath,
    dataDir,
    log: () => stderr,
    stop: async () => {
      await stopChild(child)
      rmSync(dir, {recursive: true, force: true})
    },
    halt: () => stopChild(child),
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** The environment of a CLI child: ours minus anything dbgate reads, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DBGATE_')) env[k] = v
  return {...env, NO_COLOR: '1', ...extra}
}

/** A fresh config directory for the CLI, using the file token store. */
export function cliHome(): {env: Record<string, string>; configDir: string; remove(): void} {
  const configDir = mkdtempSync(join(tmpdir(), 'dbgate-e2e-cli-'))
  return {
    configDir,
    env: {DBGATE_CONFIG_DIR: configDir, DBGATE_TOKEN_STORE: 'file', DBGATE_NO_BROWSER: '1'},
    remove: () => rmSync(configDir, {recursive: true, force: true}),
  }
}

/** How a CLI run ended. */
export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A CLI child still running: wait for stderr text, or for its end. */
export interface RunningCli {
  readonly child: ChildProcess
  /** Resolves with the first match of `re` in stderr. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  readonly done: Promise<CliResult>
}

/** Starts `dbgate ARGS` as a child process. */
export function spawnCli(args: readonly string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const done = new Promise<CliResult>((resolveDone) =>
    child.once('close', (code) => resolveDone({code, stdout, stderr})),
  )
  const waitForStderr = (re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> =>
    new Promise((resolveMatch, reject) => {
      const check = (): boolean => {
        const m = re.exec(stderr)
        if (m) resolveMatch(m)
        return m !== null
      }
      if (check()) return
      const timer = setTimeout(() => reject(new Error(`no ${re} on stderr in time:\n${stderr}`)), timeoutMs)
      child.stderr.on('data', () => check() && clearTimeout(timer))
      void done.then(() => {
        clearTimeout(timer)
        if (!check()) reject(new Error(`CLI exited without ${re} on stderr:\n${stderr}\n${stdout}`))
      })
    })
  return {child, waitForStderr, done}
}

/** Runs `dbgate ARGS` to completion. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return spawnCli(args, env).done
}
