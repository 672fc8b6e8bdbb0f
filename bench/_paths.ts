/** What the proxy benchmarks share: waiting for a child's port, and the bare Node pipe baseline. */
import {spawn, type ChildProcess} from 'node:child_process'

/** Resolves with the port a child prints (matched by `pattern`'s first group). */
export async function waitForPort(child: ChildProcess, pattern: RegExp): Promise<number> {
  let text = ''
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()))
  for (let i = 0; i < 600; i++) {
    const m = pattern.exec(text)
    if (m) return Number(m[1])
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no port from ${child.spawnargs.join(' ')}: ${text}`)
}

/** A byte pipe to 127.0.0.1:`upstreamPort` with nothing else: the floor for any Node proxy. */
export async function nodePipe(
  upstreamPort: number,
): Promise<{port: number; pid: number | undefined; stop: () => void}> {
  const script = `
const net = require('net')
const s = net.createServer({noDelay: true}, (c) => {
  const u = net.connect({host: '127.0.0.1', port: ${upstreamPort}})
  c.setNoDelay(true); u.setNoDelay(true)
  c.pipe(u); u.pipe(c)
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy())
})
s.listen(0, '127.0.0.1', () => console.log('port=' + s.address().port))
`
  const child = spawn('node', ['-e', script])
  const port = await waitForPort(child, /port=(\d+)/)
  return {port, pid: child.pid, stop: () => child.kill()}
}
