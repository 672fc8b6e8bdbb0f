/** The Postgres engine: protocol 3.0 on both sides, every statement decided before it reaches the server. */
import type {Socket} from 'node:net'

import type {ConnectionHandler, Engine, SessionInfo} from '../engine.js'
import {CancelMap} from './cancel.js'
import type {PgEngineConfig} from './config.js'
import {PgConnection} from './session.js'

/** The Postgres implementation of Engine. */
export class PostgresEngine implements Engine {
  readonly protocol = 'postgres'
  private readonly cancels = new CancelMap()

  constructor(readonly config: PgEngineConfig) {}

  /** Takes over a client connection. */
  initializeConnection(client: Socket, session: SessionInfo): ConnectionHandler {
    return new PgConnection(client, session, this.config, this.cancels)
  }
}
