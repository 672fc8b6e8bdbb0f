import {chmodSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'

import Database from 'better-sqlite3'

import {StoreConflictError} from './store.js'
import type {SqlDriver, SqlExecutor, SqlRow, SqlValue} from './driver.js'

/**
 * The embedded store's driver: one better-sqlite3 connection to `<dataDir>/control-plane.db`, in WAL mode
 * with synchronous=FULL so that every acknowledged write is on disk before the HTTP answer goes out
 * (it survives kill -9 and power loss). Work is serialised through a promise chain so an open transaction
 * never interleaves with another request's statements on the single connection.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const
  private readonly db: Database.Database
  private readonly statements = new Map<string, Database.Statement>()
  private tail: Promise<unknown> = Promise.resolve()

  /** Opens (creating if needed) the database file in `dataDir`. */
  constructor(dataDir: string) {
    mkdirSync(dataDir, {recursive: true, mode: 0o700})
    const file = join(dataDir, 'control-plane.db')
    this.db = new Database(file)
    chmodSync(file, 0o600)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
  }

  /** Runs a statement and returns its rows. */
  query(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return this.serial(() => this.querySync(sql, params))
  }

  /** Runs a statement and returns the number of changed rows. */
  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.serial(() => this.runSync(sql, params))
  }

  /** Runs `fn` inside BEGIN IMMEDIATE … COMMIT, holding the connection for its whole duration. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const tx: SqlExecutor = {
      query: (sql, params = []) => Promise.resolve(this.querySync(sql, params)),
      run: (sql, params = []) => Promise.resolve(this.runSync(sql, params)),
    }
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE')
      try {
        const out = await fn(tx)
        this.db.exec('COMMIT')
        return out
      } catch (err) {
        this.db.exec('ROLLBACK')
        throw err
      }
    })
  }

  /** Waits for queued work, then closes the file. */
  async close(): Promise<void> {
    await this.tail.catch(() => undefined)
    this.db.close()
  }

  private serial<T>(op: () => T | Promise<T>): Promise<T> {
    const next = this.tail.then(op, op)
    this.tail = next.catch(() => undefined)
    return next
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql)
    if (!stmt) {
      stmt = this.db.prepare(sql)
      this.statements.set(sql, stmt)
    }
    return stmt
  }

  private querySync(sql: string, params: readonly SqlValue[]): SqlRow[] {
    return translate(() => {
      const stmt = this.prepare(sql)
      if (!stmt.reader) {
        stmt.run(...params)
        return []
      }
      return stmt.all(...params) as SqlRow[]
    })
  }

  private runSync(sql: string, params: readonly SqlValue[]): number {
    return translate(() => this.prepare(sql).run(...params).changes)
  }
}

function translate<T>(op: () => T): T {
  try {
    return op()
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'SQLITE_CONSTRAINT_UNIQUE')
      throw new StoreConflictError(err.message)
    throw err
  }
}
