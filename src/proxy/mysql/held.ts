/**
 * Statements held for approval in one MySQL engine, by the connection id its clients were given (the server's
 * own). The mysql client's Ctrl-C opens another connection and sends `KILL QUERY <id>`: a held statement has not
 * reached the server, so the server's KILL finds nothing to stop, and the proxy ends the wait itself.
 */

/** Ends one held statement's wait (answering its client); false when the wait already ended. */
export type CancelHeld = () => boolean

/** The engine's held statements and the connection id of one session among them. */
export interface SessionHeld {
  readonly statements: HeldStatements
  readonly connectionId: number
}

/** The held statements of one engine's sessions. */
export class HeldStatements {
  private readonly byConnection = new Map<number, CancelHeld>()

  /** Registers the wait of connection `id`; the returned function unregisters it (once it ends). */
  register(id: number, cancel: CancelHeld): () => void {
    this.byConnection.set(id, cancel)
    return () => {
      if (this.byConnection.get(id) === cancel) this.byConnection.delete(id)
    }
  }

  /** Ends the wait of connection `id`, if one is held; true when one was. */
  cancel(id: number): boolean {
    const cancel = this.byConnection.get(id)
    if (cancel === undefined) return false
    this.byConnection.delete(id)
    return cancel()
  }
}

/**
 * The connection id a `KILL [HARD | SOFT] [CONNECTION | QUERY] id` statement names; undefined for anything
 * else (`KILL QUERY ID n` names a query id, `KILL USER u` a user: neither is a connection).
 */
export function killedConnection(sql: string): number | undefined {
  const m = /^\s*KILL\s+(?:(?:HARD|SOFT)\s+)?(?:(?:CONNECTION|QUERY)\s+)?(\d{1,10})\s*;?\s*$/i.exec(sql)
  if (m === null) return undefined
  const id = Number(m[1])
  return id <= 0xffffffff ? id : undefined
}
