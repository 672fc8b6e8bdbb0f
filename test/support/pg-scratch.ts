/**
 * Scratch PostgreSQL objects for tests: a uniquely named database (and roles) on the real server at
 * 127.0.0.1:5432, dropped afterwards.
 */
import {randomBytes} from 'node:crypto'

import pg from 'pg'

export const PG_HOST = '127.0.0.1'
export const PG_PORT = 5432
export const PG_ADMIN_URL = `postgres://postgres@${PG_HOST}:${PG_PORT}/postgres`

/** A unique lower-case identifier with a prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
}

/** Runs statements as the admin user on a database. */
export async function adminQuery(sql: string, database = 'postgres'): Promise<pg.QueryResult> {
  const client = new pg.Client({host: PG_HOST, port: PG_PORT, user: 'postgres', database})
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/** A scratch database; `url` connects as postgres (trust auth on 127.0.0.1). */
export interface ScratchDb {
  readonly name: string
  readonly url: string
  drop(): Promise<void>
}

/** Creates a uniquely named database, optionally running setup SQL in it. */
export async function createScratchDb(prefix = 'dbgate_t', setupSql?: string): Promise<ScratchDb> {
  const name = uniqueName(prefix)
  await adminQuery(`CREATE DATABASE ${name}`)
  if (setupSql !== undefined) await adminQuery(setupSql, name)
  return {
    name,
    url: `postgres://postgres@${PG_HOST}:${PG_PORT}/${name}?sslmode=disable`,
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    },
  }
}

/** Creates a login role with a password stored with the given method; returns a drop function. */
export async function createRole(
  name: string,
  password: string,
  method: 'scram-sha-256' | 'md5',
): Promise<() => Promise<void>> {
  await adminQuery(`SET password_encryption = '${method}'; CREATE ROLE ${name} LOGIN PASSWORD '${password}'`)
  return async () => {
    await adminQuery(`DROP ROLE IF EXISTS ${name}`)
  }
}
