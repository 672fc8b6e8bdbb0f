/**
 * Who is on the other end of a local connection: the socket's inode from /proc/net/tcp{,6}, the process
 * holding it from /proc/<pid>/fd, then its executable, command line and parents. Runs once per session
 * start, off the hot path, caches no answer (only which process to look at first), and says why when it
 * cannot tell rather than guessing.
 */
import {execFile} from 'node:child_process'
import {open, readdir, readFile, readlink, type FileHandle} from 'node:fs/promises'
import {basename} from 'node:path'
import {promisify} from 'node:util'

import {messageOf} from '../errors.js'
import {safeCmdlines} from './cmdline-redact.js'
import type {ProcessFound, ProcessInfo, ProcessRef} from './event.js'
import {
  normaliseAddress,
  parseCmdline,
  parsePpid,
  parseTcpTable,
  TCP_ESTABLISHED,
  type TcpRow,
} from './proc-net.js'

const execFileAsync = promisify(execFile)

/** The proxy's view of an accepted connection (a net.Socket has all four). */
export interface ConnectionEnds {
  /** The proxy's own address and port. */
  readonly localAddress: string
  readonly localPort: number
  /** The client's address and port. */
  readonly remoteAddress: string
  readonly remotePort: number
}

/** How far up the parent chain to go. */
const MAX_PARENTS = 5

/** Finds the local process that opened a connection to the proxy. */
export async function findPeerProcess(
  ends: ConnectionEnds,
  platform: NodeJS.Platform = process.platform,
): Promise<ProcessInfo> {
  // A socket that already closed has no addresses any more (net.Socket clears them).
  const known = [ends.localAddress, ends.localPort, ends.remoteAddress, ends.remotePort]
  if (known.some((v) => v === undefined)) return {found: false, reason: 'the connection is already closed'}
  if (platform === 'linux') return findOnLinux(ends, '/proc')
  if (platform === 'darwin') return findOnMac(ends)
  return {found: false, reason: `process lookup is not supported on ${platform}`}
}

/** Bytes asked of each read of a /proc table (the kernel answers a page or so at a time). */
const TABLE_READ_BYTES = 64 * 1024

/**
 * The first row of the /proc table at `path` that has `port` at either end and satisfies `match`, read a
 * chunk at a time and no further than that row. Reading such a table is costly for the kernel and grows with
 * every socket on the host (TIME_WAIT ones included): each read walks the socket hash from where the last
 * stopped, and the read that reaches the end walks the rest of it (measured here: ~3 ms of a ~7 ms table
 * of 900 sockets). Undefined when no row matches or the table cannot be read.
 */
export async function findTcpRow(
  path: string,
  port: number,
  match: (row: TcpRow) => boolean,
): Promise<TcpRow | undefined> {
  let file: FileHandle
  try {
    file = await open(path, 'r')
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.allocUnsafe(TABLE_READ_BYTES)
    let carry = ''
    for (;;) {
      const {bytesRead} = await file.read(buf, 0, buf.length, null)
      // At the end, the last line may lack its newline: parse what is left as a whole line.
      const text = carry + (bytesRead === 0 ? '\n' : buf.toString('latin1', 0, bytesRead))
      const cut = text.lastIndexOf('\n')
      carry = text.slice(cut + 1)
      if (cut < 0) continue
      const row = parseTcpTable(text.slice(0, cut), port).find(match)
      if (row !== undefined || bytesRead === 0) return row
    }
  } catch {
    return undefined
  } finally {
    await file.close().catch(() => undefined)
  }
}

/** The inode of the client's socket: the row whose local end is the client and remote end the proxy. */
async function clientSocketInode(ends: ConnectionEnds, proc: string): Promise<number | undefined> {
  const client = normaliseAddress(ends.remoteAddress)
  const proxy = normaliseAddress(ends.localAddress)
  for (const table of ['net/tcp', 'net/tcp6']) {
    const row = await findTcpRow(
      `${proc}/${table}`,
      ends.remotePort,
      (r) =>
        r.localPort === ends.remotePort &&
        r.remotePort === ends.localPort &&
        r.localAddress === client &&
        r.remoteAddress === proxy &&
        r.state === TCP_ESTABLISHED &&
        r.inode > 0,
    )
    if (row !== undefined) return row.inode
  }
  return undefined
}

/**
 * The pid that held the last socket found, per procfs mount: a client that opens many connections (a pool,
 * pgbench, mysqlslap) is looked at first, so its later connections skip the scan of every process. Only
 * where to look first: the answer is always read from /proc again, never taken from here.
 */
const lastOwner = new Map<string, string>()

/** True when process `pid` holds `wanted` (`socket:[inode]`) among its fds. */
async function holds(proc: string, pid: string, wanted: string): Promise<boolean> {
  let fds: string[]
  try {
    fds = await readdir(`${proc}/${pid}/fd`)
  } catch {
    return false
  }
  for (const fd of fds) {
    try {
      if ((await readlink(`${proc}/${pid}/fd/${fd}`)) === wanted) return true
    } catch {
      // The fd closed while we looked.
    }
  }
  return false
}

/** Finds the process holding socket `inode` by reading every visible /proc/<pid>/fd. */
async function ownerOf(inode: number, proc: string): Promise<number | undefined> {
  const wanted = `socket:[${inode}]`
  const last = lastOwner.get(proc)
  if (last !== undefined && (await holds(proc, last, wanted))) return Number(last)
  // Newest first: the client is nearly always a recent process, so the scan usually ends early.
  const pids = (await readdir(proc)).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a))
  for (const pid of pids) {
    if (pid === last || !(await holds(proc, pid, wanted))) continue
    lastOwner.set(proc, pid)
    return Number(pid)
  }
  return undefined
}

/** A process's executable and command line; undefined when it is gone. */
async function describeLinux(
  pid: number,
  proc: string,
): Promise<{ref: ProcessRef; ppid: number} | undefined> {
  let status: string
  let cmdline: string[]
  try {
    status = await readFile(`${proc}/${pid}/status`, 'utf8')
    cmdline = parseCmdline(await readFile(`${proc}/${pid}/cmdline`))
  } catch {
    return undefined
  }
  const exe = await readlink(`${proc}/${pid}/exe`).catch(() => null)
  return {ref: {pid, exe, cmdline}, ppid: parsePpid(status) ?? 0}
}

/** The Linux lookup; `proc` is the procfs mount. */
export async function findOnLinux(ends: ConnectionEnds, proc = '/proc'): Promise<ProcessInfo> {
  try {
    const inode = await clientSocketInode(ends, proc)
    const where = `${ends.remoteAddress}:${ends.remotePort} → ${ends.localAddress}:${ends.localPort}`
    if (inode === undefined) return {found: false, reason: `no established local socket matches ${where}`}
    const pid = await ownerOf(inode, proc)
    if (pid === undefined) {
      return {
        found: false,
        reason: `no visible process holds the socket of ${where} (exited, or another user's)`,
      }
    }
    const self = await describeLinux(pid, proc)
    if (self === undefined) return {found: false, reason: `process ${pid} exited during the lookup`}
    const parents: ProcessRef[] = []
    for (let ppid = self.ppid; ppid > 1 && parents.length < MAX_PARENTS;) {
      const p = await describeLinux(ppid, proc)
      if (p === undefined) break
      parents.push(p.ref)
      ppid = p.ppid
    }
    return recordable(self.ref, parents)
  } catch (err) {
    return {found: false, reason: `process lookup failed: ${messageOf(err)}`}
  }
}

/** macOS: lsof names the process whose socket's local end is the client's port; ps gives the rest. */
async function findOnMac(ends: ConnectionEnds): Promise<ProcessInfo> {
  const run = async (cmd: string, args: string[]) =>
    (await execFileAsync(cmd, args, {timeout: 3000, encoding: 'utf8'})).stdout
  try {
    const spec = `-iTCP@${normaliseAddress(ends.remoteAddress)}:${ends.remotePort}`
    const out = await run('lsof', ['-nP', spec, '-sTCP:ESTABLISHED', '-Fpcn'])
    let pid: number | undefined
    let current: number | undefined
    for (const line of out.split('\n')) {
      if (line.startsWith('p')) current = Number(line.slice(1))
      const [local, remote] = line.startsWith('n') ? line.slice(1).split('->') : []
      if (local?.endsWith(`:${ends.remotePort}`) && remote?.endsWith(`:${ends.localPort}`)) pid = current
    }
    if (pid === undefined) return {found: false, reason: 'lsof found no process on the client end'}
    const chain: ProcessRef[] = []
    for (let p = pid; p > 1 && chain.length <= MAX_PARENTS;) {
      const [ppid, ...command] = (await run('ps', ['-o', 'ppid=,command=', '-p', String(p)]))
        .trim()
        .split(/\s+/)
      if (ppid === undefined || command.length === 0) break
      chain.push({pid: p, exe: null, cmdline: command})
      p = Number(ppid)
    }
    const [self, ...parents] = chain
    if (self === undefined) return {found: false, reason: `process ${pid} exited during the lookup`}
    return recordable(self, parents)
  } catch (err) {
    return {found: false, reason: `process lookup failed: ${messageOf(err)}`}
  }
}

/**
 * The record as the audit trail may hold it: every command line redacted and bounded (cmdline-redact.ts),
 * the client's first; pids and executables as read.
 */
function recordable(self: ProcessRef, parents: readonly ProcessRef[]): ProcessFound {
  const [cmdline = [], ...rest] = safeCmdlines([self.cmdline, ...parents.map((p) => p.cmdline)])
  return {
    found: true,
    ...self,
    cmdline,
    parents: parents.map((p, i) => ({...p, cmdline: rest[i] ?? []})),
  }
}

/** The short name of a process: its executable's base name, else argv[0]'s. */
function nameOf(p: ProcessRef): string {
  const path = p.exe ?? p.cmdline[0] ?? '?'
  return basename(path)
}

/** One line for people: "psql (pid 123), started by bash (pid 100)". */
export function describeProcess(info: ProcessInfo): string {
  if (!info.found) return `unknown process (${info.reason})`
  const found: ProcessFound = info
  const parent = found.parents[0]
  const self = `${nameOf(found)} (pid ${found.pid})`
  return parent === undefined ? self : `${self}, started by ${nameOf(parent)} (pid ${parent.pid})`
}
