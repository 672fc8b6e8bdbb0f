/** Starts the MySQL engine in-process on 127.0.0.1:0 in front of the real MariaDB, and scratch databases. */
import {randomBytes} from 'node:crypto'

import mysql from 'mysql2/promise'

import type {AuditSink} from '../../src/audit/types.js'
import {Guard, loadParsers, type Policy} from '../../src/policy/index.js'
import {MysqlEngine} from '../../src/proxy/mysql/engine.js'
import {parseMysqlUrl, type MysqlTarget} from '../../src/proxy/mysql/target.js'
import {startListener, type ProxyListener, type ReviewHook} from '../../src/proxy/index.js'
import {MemoryAudit} from './proxy.js'

/** The MariaDB every MySQL test talks to. */
export const MARIADB = {host: '127.0.0.1', port: 3306, user: 'root', password: ''} as const

/** An allow-by-default MySQL policy with the deny/review rules the MySQL tests rely on. */
export function mysqlTestPolicy(db: string): Policy {
  return {
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
      {name: 'no-file-copy', when: {kinds: ['copy']}, action: 'deny', message: 'No file transfers.'},
      {
        name: 'secrets-need-review',
        when: {tables: [`${db}.secrets`]},
        action: 'review',
        message: 'Secrets need a second pair of eyes.',
      },
    ],
    masking: [],
  }
}

/** A running MySQL test proxy. */
export interface MysqlTestProxy {
  readonly listener: ProxyListener
  readonly port: number
  readonly audit: MemoryAudit
  close(): Promise<void>
}

/** Starts a MySQL proxy in front of `url` with `policy`; events go to `extra.sink` when given (else `audit`). */
export async function startMysqlTestProxy(
  url: string,
  policy: Policy,
  extra: {
    maxPacketBytes?: number
    localPassword?: string
    sink?: AuditSink
    /** Fields of the target the URL cannot say (the CA as PEM, the TLS server name). */
    target?: Partial<MysqlTarget>
    /** Control-plane mode's review hook, and where its waiting messages go. */
    review?: ReviewHook
    reviewNotice?: (message: string, detail?: string) => void
  } = {},
): Promise<MysqlTestProxy> {
  await loadParsers()
  const audit = new MemoryAudit()
  const engine = new MysqlEngine({
    target: {...parseMysqlUrl(url), ...extra.target},
    policy,
    guard: new Guard(policy, 'mysql'),
    evalContext: {actor: 'human', identity: 'tester', target: 'test'},
    audit: extra.sink ?? audit,
    identity: 'tester',
    clientVersion: 'test',
    maxPacketBytes: extra.maxPacketBytes ?? 64 * 1024 * 1024,
    localPassword: extra.localPassword,
    review: extra.review,
    reviewNotice: extra.reviewNotice,
  })
  const listener = await startListener({engine, host: '127.0.0.1', port: 0})
  return {listener, port: listener.port, audit, close: () => listener.close()}
}

/** A database of its own for one test file, dropped by `drop()`. */
export interface MysqlScratch {
  readonly name: string
  /** Runs SQL directly against MariaDB as root (setup, not through the proxy). */
  admin(sql: string): Promise<unknown>
  drop(): Promise<void>
}

/** Creates a scratch database named `dbg_<prefix>_<random>`. */
export async function mysqlScratch(prefix: string): Promise<MysqlScratch> {
  const name = `dbg_${prefix}_${randomBytes(4).toString('hex')}`
  const conn = await mysql.createConnection({...MARIADB, multipleStatements: true})
  await conn.query(`CREATE DATABASE \`${name}\``)
  return {
    name,
    admin: async (sql) => (await conn.query(sql))[0],
    drop: async () => {
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
      await conn.end()
    },
  }
}
