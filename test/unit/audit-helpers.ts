/** Builders shared by the audit tests. */
import type {AuditEventBody} from '../../src/audit/event.js'

/** A statement event body; `n` makes the id and statement unique. */
export function body(n: number, overrides: Partial<AuditEventBody> = {}): AuditEventBody {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    type: 'statement',
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, n % 60)).toISOString(),
    session_id: 'sess-1',
    identity: 'alice@example.com',
    groups: ['dev'],
    actor: 'human',
    agent: null,
    process: {
      found: true,
      pid: 4242,
      exe: '/usr/bin/psql',
      cmdline: ['psql', '-h', '127.0.0.1'],
      parents: [],
    },
    target: 'prod-pg',
    protocol: 'postgres',
    database: 'app',
    db_user: 'alice_tmp',
    statement: `select ${n}`,
    fingerprint: null,
    kinds: ['select'],
    tables: [],
    decision: 'allow',
    rule: null,
    approval_id: null,
    masked_columns: [],
    rows: 1,
    duration_ms: 0.4,
    error: null,
    policy_version: null,
    client_version: '0.1.0',
    application_name: 'psql',
    ...overrides,
  }
}
