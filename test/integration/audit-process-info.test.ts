import {spawn, type ChildProcess} from 'node:child_process'
import {realpathSync} from 'node:fs'
import {createServer, connect, type AddressInfo, type Server, type Socket} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {findPeerProcess} from '../../src/audit/process-info.js'

const servers: Server[] = []
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  for (const s of servers.splice(0)) s.close()
})

/** A server on loopback whose next accepted socket the test can await. */
async function listen(host: string): Promise<{port: number; accepted: () => Promise<Socket>}> {
  const queue: Socket[] = []
  const waiters: ((s: Socket) => void)[] = []
  const server = createServer((s) => {
    const w = waiters.shift()
    if (w === undefined) queue.push(s)
    else w(s)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    accepted: () => {
      const s = queue.shift()
      return s === undefined ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve(s)
    },
  }
}

function ends(s: Socket) {
  return {
    localAddress: s.localAddress!,
    localPort: s.localPort!,
    remoteAddress: s.remoteAddress!,
    remotePort: s.remotePort!,
  }
}

const CLIENT = (port: number, host: string, stay: boolean) =>
  `const s=require('net').connect(${port},'${host}',()=>{process.stdout.write('up\\n');${stay ? '' : 's.end();process.exit(0)'}});setInterval(()=>{},1000)`

function spawnClient(port: number, host: string, stay: boolean): ChildProcess {
  const child = spawn(process.execPath, ['-e', CLIENT(port, host, stay)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return child
}

describe.runIf(process.platform === 'linux')('process on the other end of a local connection', () => {
  it('names a child process, its executable, command line and parent (this test process)', async () => {
    const server = await listen('127.0.0.1')
    const child = spawnClient(server.port, '127.0.0.1', true)
    const sock = await server.accepted()
    const info = await findPeerProcess(ends(sock))
    expect(info).toMatchObject({found: true, pid: child.pid, exe: realpathSync(process.execPath)})
    if (!info.found) return
    expect(info.cmdline).toEqual([process.execPath, '-e', CLIENT(server.port, '127.0.0.1', true)])
    expect(info.parents[0]).toMatchObject({pid: process.pid})
    sock.destroy()
  })

  it('names this process when it connects to itself, over IPv4 and IPv6', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const server = await listen(host)
      const client = connect(server.port, host)
      const sock = await server.accepted()
      const info = await findPeerProcess(ends(sock))
      expect(info).toMatchObject({found: true, pid: process.pid})
      client.destroy()
      sock.destroy()
    }
  })

  it('says found:false with a reason when the client already exited', async () => {
    const server = await listen('127.0.0.1')
    const child = spawnClient(server.port, '127.0.0.1', false)
    const sock = await server.accepted()
    const seen = ends(sock)
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))
    const info = await findPeerProcess(seen)
    expect(info.found).toBe(false)
    if (!info.found)
      expect(info.reason, info.reason).toMatch(/no established local socket|no visible process/)
    sock.destroy()
  })

  it('says found:false on a platform it does not support', async () => {
    const info = await findPeerProcess(
      {localAddress: '127.0.0.1', localPort: 1, remoteAddress: '127.0.0.1', remotePort: 2},
      'win32',
    )
    expect(info).toEqual({found: false, reason: 'process lookup is not supported on win32'})
  })
})
