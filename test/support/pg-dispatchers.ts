/**
 * One Postgres session's two dispatchers without sockets, for tests and the dispatch bench: the guard
 * with `policy`, a null audit sink, and `toClient` as the only socket that sees anything.
 */
import type {Socket} from 'node:net'

import {nullAuditSink} from '../../src/audit/types.js'
import {Guard, type Policy} from '../../src/policy/index.js'
import {auditedSource} from '../../src/proxy/audited-guard.js'
import {ReadGate} from '../../src/proxy/flow.js'
import {ClientDispatcher} from '../../src/proxy/postgres/client-dispatch.js'
import {ServerDispatcher} from '../../src/proxy/postgres/server-dispatch.js'
import {SessionState} from '../../src/proxy/postgres/session-state.js'
import {RunWriter} from '../../src/proxy/run-writer.js'
import {SessionAudit} from '../../src/proxy/session-audit.js'

/** A socket that takes every write at once and keeps nothing. */
export function nullSocket(): Socket {
  const s = {destroyed: false, writableLength: 0, write: () => true, pause: () => s, resume: () => s}
  return s as unknown as Socket
}

export interface PgDispatchers {
  readonly client: ClientDispatcher
  readonly server: ServerDispatcher
  readonly state: SessionState
  readonly guard: Guard
}

/** The dispatchers of one session; framing limits are `maxMessageBytes` both ways. */
export function pgDispatchers(o: {
  policy: Policy
  toClient?: Socket
  maxMessageBytes: number
  onFatal: (error: unknown) => void
}): PgDispatchers {
  const guard = new Guard(o.policy, 'postgres')
  const audit = new SessionAudit(nullAuditSink, {
    session_id: 'dispatchers',
    identity: 'test',
    actor: 'human',
    target: 'test',
    protocol: 'postgres',
    database: 'test',
    db_user: 'postgres',
    client_version: 'test',
    application_name: undefined,
  })
  const source = auditedSource(
    {guard, evalContext: {actor: 'human', identity: 'test', target: 'test'}},
    audit,
  )
  const toClient = new RunWriter(o.toClient ?? nullSocket())
  const state = new SessionState(source, toClient, audit, new Map([['client_encoding', 'UTF8']]))
  const client = new ClientDispatcher({
    state,
    policy: o.policy,
    toServer: new RunWriter(nullSocket()),
    clientGate: new ReadGate(nullSocket()),
    maxMessageBytes: o.maxMessageBytes,
    resolveFunction: () => Promise.reject(new Error('no fastpath here')),
    notNull: () => Promise.reject(new Error('no catalog here')),
    onTerminate: () => undefined,
    onFatal: o.onFatal,
  })
  const server = new ServerDispatcher({
    state,
    toClient,
    serverGate: new ReadGate(nullSocket()),
    maxMessageBytes: o.maxMessageBytes,
    onFatal: o.onFatal,
  })
  return {client, server, state, guard}
}
