/** Starts the Postgres engine in-process on 127.0.0.1:0 for tests. */
import pg from 'pg'

import {Guard, loadParsers, type Policy} from '../../src/policy/index.js'
import type {AuditEvent, AuditSink} from '../../src/audit/types.js'
import {
  PostgresEngine,
  parsePgUrl,
  startListener,
  type ProxyListener,
  type ReviewHook,
} from '../../src/proxy/index.js'

/** An allow-everything policy with a few deny/review rules tests rely on. */
export const TEST_POLICY: Policy = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {
      name: 'no-drop',
      when: {kinds: ['drop', 'truncate']},
      action: 'deny',
      message: 'Schema changes go through migrations.',
    },
    {name: 'no-unbounded-delete', when: {kinds: ['delete', 'update'], where: 'absent'}, action: 'deny'},
    {
      name: 'secrets-need-review',
      when: {tables: ['public.secrets']},
      action: 'review',
      message: 'Secrets need a second pair of eyes.',
    },
    {
      name: 'no-file-functions',
      when: {functions: ['pg_read_file', 'pg_catalog.pg_read_file']},
      action: 'deny',
    },
  ],
  masking: [],
}

/** Audit events kept in memory. */
export class MemoryAudit implements AuditSink {
  readonly events: AuditEvent[] = []
  write(event: AuditEvent): void {
    this.events.push(event)
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

/** A running test proxy. */
export interface TestProxy {
  readonly listener: ProxyListener
  readonly port: number
  readonly audit: MemoryAudit
  readonly database: string
  /** Connection settings for pg.Client. */
  readonly clientConfig: {host: string; port: number; user: string; database: string}
  close(): Promise<void>
}

/** Starts a proxy in front of `url` with `policy`. */
export async function startTestProxy(
  url: string,
  policy: Policy = TEST_POLICY,
  extra: {maxMessageBytes?: number; localPassword?: string; sink?: AuditSink; review?: ReviewHook} = {},
): Promise<TestProxy> {
  await loadParsers()
  const target = parsePgUrl(url)
  const audit = new MemoryAudit()
  const engine = new PostgresEngine({
    target,
    policy,
    guard: new Guard(policy, 'postgres'),
    evalContext: {actor: 'human', identity: 'tester', target: 'test'},
    audit: extra.sink ?? audit,
    identity: 'tester',
    clientVersion: 'test',
    maxMessageBytes: extra.maxMessageBytes ?? 64 * 1024 * 1024,
    localPassword: extra.localPassword,
    review: extra.review,
  })
  const listener = await startListener({engine, host: '127.0.0.1', port: 0})
  return {
    listener,
    port: listener.port,
    audit,
    database: target.database,
    clientConfig: {host: '127.0.0.1', port: listener.port, user: target.user, database: target.database},
    close: () => listener.close(),
  }
}

/** A connected node-postgres client of the proxy (connection errors after a test's end are ignored). */
export async function pgClient(p: TestProxy, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({...p.clientConfig, ...extra})
  c.on('error', () => undefined)
  await c.connect()
  return c
}
