/**
 * The guarded MySQL engine in a process of its own, with the audit sink chosen by name: the bench's way
 * to run the MySQL path with audit off, which the CLI does not offer. Prints `port=N` when listening.
 * Run: `node --import tsx bench/_mysql-engine.ts off|written|synced|nosync DB`.
 */
import {pathToFileURL} from 'node:url'

import {Guard, loadParsers, type Policy} from '../src/policy/index.js'
import {startListener} from '../src/proxy/index.js'
import {MysqlEngine} from '../src/proxy/mysql/engine.js'
import {parseMysqlUrl} from '../src/proxy/mysql/target.js'
import {benchAuditSink, type AuditMode} from './_engine.js'

/** The MySQL bench policy: several rules, as bench/mysql.ts gives `dbgate connect`. */
export const MYSQL_BENCH_POLICY: Policy = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [
    {name: 'no-ddl', when: {kinds: ['create', 'alter', 'drop', 'truncate']}, action: 'deny'},
    {name: 'unbounded-writes', when: {kinds: ['update', 'delete'], where: 'absent'}, action: 'deny'},
    {name: 'no-files', when: {kinds: ['copy']}, action: 'deny'},
    {name: 'secrets', when: {tables: ['*.secrets']}, action: 'review'},
  ],
  masking: [],
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode = 'off', db = ''] = process.argv.slice(2)
  await loadParsers()
  const audit = await benchAuditSink(mode as AuditMode)
  const engine = new MysqlEngine({
    target: parseMysqlUrl(`mysql://root@127.0.0.1:3306/${db}?ssl-mode=disabled`),
    policy: MYSQL_BENCH_POLICY,
    guard: new Guard(MYSQL_BENCH_POLICY, 'mysql'),
    evalContext: {actor: 'human', identity: 'bench', target: 'bench'},
    audit,
    identity: 'bench',
    clientVersion: 'bench',
    maxPacketBytes: 64 * 1024 * 1024,
  })
  const listener = await startListener({engine, host: '127.0.0.1', port: 0})
  console.log(`port=${listener.port}`)
  const stop = (): void => void listener.close().then(() => audit.close().then(() => process.exit(0)))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
