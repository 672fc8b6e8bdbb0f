/** The MySQL/MariaDB engine: protocol 4.1 on both sides, every command decided before it reaches the server. */
import type {Socket} from 'node:net'

import type {ConnectionHandler, Engine, SessionInfo} from '../engine.js'
import type {MysqlEngineConfig} from './config.js'
import {HeldStatements} from './held.js'
import {MysqlConnection} from './session.js'

/** The MySQL implementation of Engine. */
export class MysqlEngine implements Engine {
  readonly protocol = 'mysql'

  /** Statements its sessions hold for approval: a KILL from another of its sessions ends their wait. */
  private readonly held = new HeldStatements()

  constructor(readonly config: MysqlEngineConfig) {}

  /** Takes over a client connection. */
  initializeConnection(client: Socket, session: SessionInfo): ConnectionHandler {
    return new MysqlConnection(client, session, this.config, this.held)
  }
}
