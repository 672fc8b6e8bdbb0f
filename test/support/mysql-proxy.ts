/** Starts the MySQL engine in-process on 127.0.0.1:0 in front of the real MariaDB, and scratch databases. */
import {randomBytes} from 'node:crypto'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll} from 'vitest'

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
  /** The database as root, for a proxy in front of it. */
  readonly url: string
  /** Runs SQL directly against MariaDB as root (setup, not through the proxy). */
  admin(sql: string): Promise<unknown>
  drop(): Promise<void>
}

/** The scratch database `name` as root. */
const rootUrl = (name: string): string => `mysql://root@127.0.0.1:3306/${name}`

/** A name `dbg_<prefix>_<random>` for a scratch database. */
function scratchName(prefix: string): string {
  return `dbg_${prefix}_${randomBytes(4).toString('hex')}`
}

/** Creates the scratch database `name` and a root connection for its setup. */
async function openScratch(name: string): Promise<MysqlScratch> {
  const conn = await mysql.createConnection({...MARIADB, multipleStatements: true})
  await conn.query(`CREATE DATABASE \`${name}\``)
  return {
    name,
    url: rootUrl(name),
    admin: async (sql) => (await conn.query(sql))[0],
    drop: async () => {
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
      await conn.end()
    },
  }
}

/** Creates a scratch database named `dbg_<prefix>_<random>`. */
export function mysqlScratch(prefix: string): Promise<MysqlScratch> {
  return openScratch(scratchName(prefix))
}

/** What a test file's MySQL proxy runs on (mysqlProxyFixture). */
export interface MysqlFixtureOptions {
  /** SQL run as root once the database exists (it gets the database's name). */
  readonly setup?: (db: string) => string
  /** The proxy's policy (it gets the database's name); mysqlTestPolicy by default. */
  readonly policy?: (db: string) => Policy
  /** The upstream URL (it gets the scratch database); root on the database by default. */
  readonly url?: (db: MysqlScratch) => string
  readonly extra?: Parameters<typeof startMysqlTestProxy>[2]
}

/**
 * One test file's scratch database (`setup` run in it) and proxy in front of it, started by beforeAll and
 * stopped and dropped by afterAll. The two objects are returned at once for the file's tests to use: the
 * database's name is known now, the rest once beforeAll ran.
 */
export function mysqlProxyFixture(
  prefix: string,
  o: MysqlFixtureOptions = {},
): {readonly db: MysqlScratch; readonly proxy: MysqlTestProxy} {
  const name = scratchName(prefix)
  let scratch: MysqlScratch | undefined
  let started: MysqlTestProxy | undefined
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('mysqlProxyFixture: used before its beforeAll ran')
    return value
  }
  beforeAll(async () => {
    scratch = await openScratch(name)
    if (o.setup !== undefined) await scratch.admin(o.setup(name))
    const policy = (o.policy ?? mysqlTestPolicy)(name)
    started = await startMysqlTestProxy((o.url ?? ((d) => d.url))(scratch), policy, o.extra)
  })
  afterAll(async () => {
    await started?.close()
    await scratch?.drop()
  })
  const db: MysqlScratch = {
    name,
    url: rootUrl(name),
    admin: (sql) => ready(scratch).admin(sql),
    drop: () => ready(scratch).drop(),
  }
  const proxy: MysqlTestProxy = {
    get listener() {
      return ready(started).listener
    },
    get port() {
      return ready(started).port
    },
    get audit() {
      return ready(started).audit
    },
    close: () => ready(started).close(),
  }
  return {db, proxy}
}
