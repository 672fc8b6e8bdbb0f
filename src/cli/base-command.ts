import {Command, Errors} from '@oclif/core'

import {DbgateError, ExitCode, messageOf} from '../errors.js'

/**
 * Every dbgate command extends this: `--json` prints the typed result of `run()`, and every error
 * becomes a message with its exit code and suggestions (never a stack trace) in this one place.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  /** Writes a status line to stderr, so stdout stays clean for data and scripts. */
  protected status(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message)
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    const cli = toCliError(err)
    // With --json, oclif takes the exit code from `exitCode` (it reads `oclif.exit` otherwise).
    return super.catch(Object.assign(cli, {exitCode: cli.oclif.exit}))
  }
}

/** Maps any thrown value to an oclif CLIError carrying dbgate's exit code and suggestions. */
export function toCliError(err: unknown): Errors.CLIError {
  if (err instanceof Errors.CLIError) return err
  if (err instanceof Errors.ExitError) return err
  if (err instanceof DbgateError) {
    return new Errors.CLIError(err.message, {
      exit: err.exitCode,
      code: err.code,
      suggestions: [...err.suggestions],
    })
  }
  // An oclif parse error (unknown flag, missing argument) is a usage error.
  const name = err instanceof Error ? err.constructor.name : ''
  if (/Flag|Arg|Parse|Validation/.test(name)) {
    return new Errors.CLIError(messageOf(err), {exit: ExitCode.usage, code: 'E_USAGE'})
  }
  return new Errors.CLIError(`internal error: ${messageOf(err)}`, {exit: ExitCode.error, code: 'E_INTERNAL'})
}
