/** The real psql against a test proxy, without blocking the event loop the in-process proxy needs. */
import {spawn} from 'node:child_process'

/** What psql printed, and its exit status. */
export interface PsqlRun {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `psql -X ARGS` as postgres on the proxy's port and database, with `input` on stdin. */
export function psqlThrough(
  port: number,
  database: string,
  o: {args?: readonly string[]; input?: string; env?: Record<string, string>} = {},
): Promise<PsqlRun> {
  return new Promise((resolve) => {
    const child = spawn('psql', ['-X', ...(o.args ?? [])], {
      env: {
        ...process.env,
        ...o.env,
        PGHOST: '127.0.0.1',
        PGPORT: String(port),
        PGUSER: 'postgres',
        PGDATABASE: database,
      },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => resolve({status, stdout, stderr}))
    child.stdin.end(o.input ?? '')
  })
}
