/**
 * Why an audit event could not be made durable. The proxy matches these classes to fail closed: a statement
 * whose event cannot be spooled must not run (at least when it writes).
 */
import {DbgateError, ExitCode} from '../errors.js'

/** The spool reached its size bound: nothing more is accepted until the uploader's acknowledgements free space. */
export class AuditSpoolFullError extends DbgateError {
  /** Builds the error for a spool holding `bytes` of its `limit`. */
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super('E_AUDIT_SPOOL_FULL', `The audit spool is full (${bytes} of ${limit} bytes not yet uploaded).`, {
      exitCode: ExitCode.error,
      suggestions: [
        'Check that the control plane is reachable so the spool can upload and shrink.',
        'Raise the spool bound (audit.spoolMaxBytes) if the backlog is expected.',
      ],
    })
    this.name = 'AuditSpoolFullError'
  }
}

/** The spool's directory or files cannot be written (permissions, disk full, I/O error). */
export class AuditSpoolUnavailableError extends DbgateError {
  /** Builds the error; `detail` says what failed, `cause` carries the system error. */
  constructor(dir: string, detail: string, cause?: unknown) {
    super('E_AUDIT_SPOOL_UNAVAILABLE', `The audit spool in ${dir} cannot be written: ${detail}`, {
      exitCode: ExitCode.error,
      suggestions: ['Check the permissions and free space of the state directory (DBGATE_STATE_DIR).'],
      cause,
    })
    this.name = 'AuditSpoolUnavailableError'
  }
}
