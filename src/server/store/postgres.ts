import pg from 'pg'

import {StoreConflictError} from './store.js'
import type {SqlDriver, SqlExecutor, SqlRow, SqlValue} from './driver.js'

/**
 * The PostgreSQL driver, for several control-plane replicas sharing one database. `?` placeholders become
 * `$n`; BIGINT columns come back as numbers (epoch milliseconds fit in a double).
 */

const INT8_OID = 20

function toPg(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary'): ((v: string) => unknown) =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser(oid, format) as (v: string) => unknown),
}

async function translate<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === '23505')
      throw new StoreConflictError(err.message)
    throw err
  }
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    query: (sql, params = []) =>
      translate(async () => (await client.query<SqlRow>(toPg(sql), params as SqlValue[])).rows),
    run: (sql, params = []) =>
      translate(async () => (await client.query(toPg(sql), params as SqlValue[])).rowCount ?? 0),
  }
}

/** A pool of connections to the database named by a postgres:// URL. */
export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const
  private readonly pool: pg.Pool
  private readonly exec: SqlExecutor

  /** Creates the pool; connections open lazily. */
  constructor(databaseUrl: string) {
    this.pool = new pg.Pool({connectionString: databaseUrl, max: 10, types})
    // An idle client losing its connection must not crash the server; the next query reconnects.
    this.pool.on('error', () => undefined)
    this.exec = executor(this.pool)
  }

  /** Runs a statement and returns its rows. */
  query(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.exec.query(sql, params)
  }

  /** Runs a statement and returns the number of changed rows. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.exec.run(sql, params)
  }

  /** Runs `fn` in a transaction on one pooled connection. */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const out = await fn(executor(client))
      await client.query('COMMIT')
      return out
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
  }

  /** Ends the pool. */
  async close(): Promise<void> {
    await this.pool.end()
  }
}
