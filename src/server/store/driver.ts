/**
 * The small SQL surface both stores need: parameterised queries with `?` placeholders and transactions.
 * The SQLite and PostgreSQL drivers implement it; sql-store.ts holds the one copy of the SQL.
 */

/** A value bound to a placeholder or read from a column. */
export type SqlValue = string | number | null

/** A result row. */
export type SqlRow = Record<string, SqlValue>

/** Something that runs SQL: a driver, or a driver inside a transaction. */
export interface SqlExecutor {
  /** Runs a statement and returns its rows (statements without RETURNING give none). */
  query(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>
}

/** A connection (or pool) to one database. */
export interface SqlDriver extends SqlExecutor {
  /** Which SQL dialect the driver speaks. */
  readonly dialect: 'sqlite' | 'postgres'
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  /** Closes the connection(s). */
  close(): Promise<void>
}
