/**
 * Errors with a stable `code` users and scripts can match, the process exit code they map to, and
 * suggestions printed under the message. Library code throws these; only the CLI's top level exits.
 */

/** Exit codes of data commands, as documented in docs/errors.md. */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  denied: 3,
  approvalRequired: 4,
  notLoggedIn: 5,
  unreachable: 6,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Options for a DbgateError beyond its message. */
export interface DbgateErrorOptions {
  exitCode?: ExitCode
  suggestions?: readonly string[]
  cause?: unknown
}

/** Base class of every error dbgate reports to a user. */
export class DbgateError extends Error {
  readonly code: string
  readonly exitCode: ExitCode
  readonly suggestions: readonly string[]

  constructor(code: string, message: string, options: DbgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'DbgateError'
    this.code = code
    this.exitCode = options.exitCode ?? ExitCode.error
    this.suggestions = options.suggestions ?? []
  }
}

/** Bad flags, arguments or input files: exit 2. */
export class UsageError extends DbgateError {
  constructor(message: string, suggestions: readonly string[] = []) {
    super('E_USAGE', message, {exitCode: ExitCode.usage, suggestions})
    this.name = 'UsageError'
  }
}

/** A policy file that does not follow the policy language; names the file and the path inside it. */
export class PolicyFileError extends DbgateError {
  readonly file: string
  readonly issues: readonly {path: string; message: string}[]

  constructor(file: string, issues: readonly {path: string; message: string}[]) {
    const lines = issues.map((i) => `  ${i.path || '(document)'}: ${i.message}`)
    super('E_POLICY_INVALID', `Policy file ${file} is not valid:\n${lines.join('\n')}`, {
      exitCode: ExitCode.usage,
      suggestions: ['See docs/policy.md for the policy language.'],
    })
    this.name = 'PolicyFileError'
    this.file = file
    this.issues = issues
  }
}

/** A statement refused by policy: exit 3. */
export class DeniedError extends DbgateError {
  constructor(message: string, suggestions: readonly string[] = []) {
    super('E_DENIED', message, {exitCode: ExitCode.denied, suggestions})
    this.name = 'DeniedError'
  }
}

/** A statement that needs approval before it may run: exit 4. */
export class ApprovalRequiredError extends DbgateError {
  constructor(message: string, suggestions: readonly string[] = []) {
    super('E_APPROVAL_REQUIRED', message, {exitCode: ExitCode.approvalRequired, suggestions})
    this.name = 'ApprovalRequiredError'
  }
}

/** No login, or the session expired: exit 5. */
export class NotLoggedInError extends DbgateError {
  constructor(message = 'You are not logged in, or your session has expired.') {
    super('E_NOT_LOGGED_IN', message, {exitCode: ExitCode.notLoggedIn, suggestions: ['Run `dbgate login`.']})
    this.name = 'NotLoggedInError'
  }
}

/** The database or control plane could not be reached: exit 6. */
export class UnreachableError extends DbgateError {
  constructor(what: string, detail: string, cause?: unknown) {
    super('E_UNREACHABLE', `Cannot reach ${what}: ${detail}`, {exitCode: ExitCode.unreachable, cause})
    this.name = 'UnreachableError'
  }
}

/** Narrows an unknown thrown value to a message without leaking a stack trace. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
