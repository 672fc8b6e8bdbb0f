/** What both engines' target URLs share. */

/** A URL that is not a usable target (postgres://, mysql://); the message never contains the password. */
export class TargetUrlError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TargetUrlError'
  }
}
