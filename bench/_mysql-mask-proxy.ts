/**
 * The proxy process of bench/mysql-mask.ts: the MySQL engine in front of a URL, with the email column
 * masked (`masked`) or no masking rule (`plain`). Prints `port=N` when listening.
 * Run: `node --import tsx bench/_mysql-mask-proxy.ts URL masked|plain`.
 */
import {nullAuditSink} from '../src/audit/types.js'
import {Guard, loadParsers, type Policy} from '../src/policy/index.js'
import {startListener} from '../src/proxy/index.js'
import {MysqlEngine} from '../src/proxy/mysql/engine.js'
import {parseMysqlUrl} from '../src/proxy/mysql/target.js'

const [url = '', mode = 'plain'] = process.argv.slice(2)
const policy: Policy = {
  version: 1,
  defaults: {action: 'allow', unparseable: 'deny'},
  rules: [],
  masking: mode === 'masked' ? [{name: 'email', columns: ['*.*.email'], style: 'partial'}] : [],
}
await loadParsers()
const engine = new MysqlEngine({
  target: parseMysqlUrl(url),
  policy,
  guard: new Guard(policy, 'mysql'),
  evalContext: {actor: 'human', identity: 'bench', target: 'bench'},
  audit: nullAuditSink,
  identity: 'bench',
  clientVersion: 'bench',
  maxPacketBytes: 64 * 1024 * 1024,
})
const listener = await startListener({engine, host: '127.0.0.1', port: 0})
console.log(`port=${listener.port}`)
