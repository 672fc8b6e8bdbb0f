/**
 * Column lineage: which stored columns each output column of a statement is computed from, so that a
 * value derived from a masked column (`lower(email)`, `row_to_json(u)`) is masked like the column.
 */

/**
 * What lineage needs to know of the database, filled by the proxy from the catalog (cached). Names are
 * exact (as the parser folds them: unquoted identifiers lower-case).
 */
export interface CatalogView {
  /** Column names, in attribute order, of a table, view or materialized view; undefined when unknown. */
  columns(schema: string, table: string): readonly string[] | undefined
  /**
   * The SQL of a view (`pg_get_viewdef`), undefined for a table or an unknown name. Fetch it with an
   * empty search_path so that every relation in it comes back schema-qualified.
   */
  viewDefinition?(schema: string, name: string): string | undefined
  /**
   * The columns a generated column of a table is computed from (`GENERATED ALWAYS AS (lower(email))`:
   * `['email']`); null when its expression could not be read; undefined for any other column, or
   * when not known.
   */
  generatedFrom?(schema: string, table: string, column: string): readonly string[] | null | undefined
  /**
   * The tables a table inherits from, nearest first, as `schema.table` (a partition's partitioned
   * tables, an inheritance child's parents): its rows are theirs, so a rule on a parent's column
   * covers the child's column of that name. Empty or undefined for none.
   */
  ancestors?(schema: string, table: string): readonly string[] | undefined
  /**
   * True when storing any value in a table's column cannot fail, so whether a write fails answers
   * nothing about what it stores (CHECKED): a column of unbounded text of no constraint, index, domain
   * or generated column over it, in a table no trigger, rule, partition bound or row security checks.
   * undefined or false: it may refuse some values.
   */
  acceptsAny?(schema: string, table: string, column: string): boolean | undefined
  /**
   * The schema an unqualified relation name resolves to on the session's search_path; undefined when
   * not known (the relation is then unknown). Without it, unqualified names resolve to `defaultSchema`.
   */
  schemaOf?(name: string): string | undefined
  /**
   * True when an unqualified name may stand for a relation the session made in its temporary schema,
   * which PostgreSQL searches before every other (pg_catalog included): the name is then unknown.
   */
  temporary?(name: string): boolean
  /**
   * Whether PostgreSQL may run user-defined code for an operator or a cast: `operator` of that name
   * defined outside the system schemas; `cast` to a type of that name through a user's function or
   * a domain of that name with constraints (name `*implicit*`: some implicit or assignment cast runs a
   * user's function); `function`: a function or procedure of that name (lower-case) is defined outside
   * the system schemas. undefined while not known (the proxy loads it; unknown counts as code).
   */
  code?(kind: 'operator' | 'cast' | 'function', name: string): boolean | undefined
  /**
   * Whether reading (`write` false: rules of a view, row security policies) or writing (triggers,
   * rules, defaults, constraints, index expressions, domain checks) a relation may run user-defined
   * code; undefined when the relation is unknown.
   */
  relationCode?(schema: string, table: string, write: boolean): boolean | undefined
}

/** The name lineage gives a file (or program) on the database server that a statement stores rows in. */
export const SERVER_FILE = '\u0000server file '

/** The name lineage gives what a built-in keeps for other sessions (`setval`'s sequence, `pg_notify`'s listeners). */
export const SHARED_BY = '\u0000shared by '

/**
 * The name lineage gives the number of rows a statement returns, when a value computed from columns
 * decides it (rowCountArguments): a copy of those columns to the client that masking cannot hide.
 */
export const ROW_COUNT = '\u0000row count through '

/**
 * The row count of a statement whose conditions compute from columns (conditions.ts): which rows it
 * returns or changes shows their values.
 */
export const CONDITION = `${ROW_COUNT}a condition`

/**
 * The order of the rows a statement returns or changes, when keys computed from columns decide it
 * (ORDER BY, and GROUP BY, DISTINCT, UNION and windows, which the server runs by sorting): a row of a
 * value the client knows, sorted among a masked column's values, shows how they compare, and so finds
 * them one character at a time whatever masking does to the rows.
 */
export const ORDER = '\u0000the order of rows'

/**
 * Whether a statement fails, when a computation that can fail for some inputs (a cast, arithmetic, a
 * date or a pattern built from a column; fallible.ts) reads columns: `make_date(2000, ascii(email) - 96,
 * 1)` fails when the first character comes after 'l', so the error answers a question about the value
 * whatever masking does to the rows.
 */
export const FAILS = '\u0000whether it fails'

/**
 * Whether a write fails, when it stores values computed from columns in a table whose column types and
 * constraints check them (a length, a numeric range, CHECK, a UNIQUE key): `UPDATE users SET email = email
 * || repeat('x', 25)` fails when the value is longer than 15 characters in a `varchar(40)`, so the error
 * answers a question about it. A column's own value stored back unchanged checks nothing new.
 */
export const CHECKED = '\u0000whether what it stores fits'

/**
 * The name lineage gives the time a statement takes when it calls a delay (`pg_sleep`, MySQL `SLEEP`,
 * `BENCHMARK`): `SELECT CASE WHEN ascii(email) > 100 THEN pg_sleep(1) END` answers in its duration,
 * whatever masking does to the rows, so the delay may show anything the statement reads.
 */
export const DELAY = '\u0000the time taken through '

/** One output column of a statement. */
export interface OutputColumn {
  /** The column's name as PostgreSQL would likely label it; informative only (fields match by position). */
  readonly name: string
  /** Every stored column (`schema.table.column`) its value is computed from, sorted. */
  readonly sources: readonly string[]
  /** True when its lineage could not be established: it may carry anything the statement reads. */
  readonly opaque: boolean
  /**
   * True when it holds one stored column's value unchanged (a bare column, passed on through
   * subqueries, views and unions): whether it is NULL is then what `IS NULL` looks up. A computed
   * value's NULL can answer a question about what it was computed from (`nullif(substr(email, 1, 1),
   * 'a')`), so masking hides it too (masking-plan.ts).
   */
  readonly whole?: boolean
}

/** The lineage of one statement's result. */
export interface StatementLineage {
  /** Output columns in order ([] for a statement that returns no rows); null when even their number is unknown. */
  readonly columns: readonly OutputColumn[] | null
  /** Every column (`schema.table.column`) of every relation the statement reads, as far as it is known. */
  readonly reads: readonly string[]
  /** True when the statement reads something whose columns are unknown (an unknown relation, cursor, function...). */
  readonly readsUnknown: boolean
  /**
   * True when the statement may run user-defined code (an operator, a cast, a trigger...): that code
   * may copy any value anywhere, so every column it returns is opaque and the proxy masks the session.
   */
  readonly runsCode?: boolean
}

/** Session state lineage depends on, kept by the proxy and updated with each result's effects. */
export interface LineageSession {
  /** Open cursors (DECLARE), by name. */
  readonly cursors?: ReadonlyMap<string, CursorLineage> | undefined
  /** Prepared statements (SQL PREPARE and named protocol-level Parse), by name. */
  readonly prepared?: ReadonlyMap<string, StatementLineage> | undefined
}

/** What lineage reads besides the SQL. */
export interface LineageContext extends LineageSession {
  /**
   * Schema of unqualified relations when the catalog view cannot say (no `schemaOf`): the first
   * schema of the session's search_path.
   */
  readonly defaultSchema: string
  /**
   * The statements of a PL/pgSQL body: names may be variables that carry values between them, so every
   * write is reported, even one that reads no relation itself.
   */
  readonly variables?: boolean | undefined
}

/** A declared cursor: what FETCH returns from it, and whether it survives the end of its transaction. */
export interface CursorLineage {
  readonly lineage: StatementLineage
  readonly holdable: boolean
}

/** A change of session state a query makes, in the order its statements make them. */
export type LineageEffect =
  | {readonly kind: 'declare'; readonly name: string; readonly cursor: CursorLineage}
  | {readonly kind: 'close'; readonly name: string}
  | {readonly kind: 'close-all'}
  /**
   * COMMIT, ROLLBACK (to a savepoint too), PREPARE TRANSACTION: non-holdable cursors may be gone. `how`:
   * whether settings made in the transaction stay (commit), are undone (rollback), or some may be
   * (partial: ROLLBACK TO SAVEPOINT, PREPARE TRANSACTION).
   */
  | {readonly kind: 'transaction-end'; readonly how: 'commit' | 'rollback' | 'partial'}
  /**
   * The statement sets search_path: `value` as set_config takes it, null for the session's default
   * (RESET, SET ... TO DEFAULT, RESET ALL, DISCARD ALL), undefined when it cannot be known (SET ROLE
   * changes what `$user` names). `local`: SET LOCAL, undone at the end of the transaction.
   */
  | {readonly kind: 'search-path'; readonly value: string | null | undefined; readonly local: boolean}
  | {readonly kind: 'prepare'; readonly name: string; readonly lineage: StatementLineage}
  /** The statement may create (or rename to) a relation of this name in the session's temporary schema. */
  | {readonly kind: 'temporary'; readonly name: string}
  | {readonly kind: 'deallocate'; readonly name: string}
  | {readonly kind: 'deallocate-all'}
  /**
   * The statement ran code lineage cannot see (a user function, DO, CALL) that could close and reopen
   * cursors or prepared statements under known names: drop every remembered lineage (they become unknown).
   */
  | {readonly kind: 'forget'}
  /**
   * The statement writes rows into `table` (`schema.table`) from what it reads (CREATE TABLE AS,
   * SELECT INTO, INSERT ... SELECT, UPDATE or MERGE from other columns): `reads` are every column of the
   * relations it reads, `unknown` when it reads something lineage cannot see. The proxy masks the
   * table like its sources for the rest of the session. `columns`: each column it stores and what the
   * stored value is computed from (null when that is not known: any column may get anything it reads),
   * so that a copy of a masked column into a table other sessions read can be refused before it runs.
   */
  | {
      readonly kind: 'write'
      readonly table: string
      readonly reads: readonly string[]
      readonly unknown: boolean
      readonly columns: readonly OutputColumn[] | null
      /** The target is certainly one of the session's temporary relations (no other session sees it). */
      readonly temporary: boolean
      /**
       * An earlier statement of the same query may have changed the catalog (DDL, user code): what
       * lineage read of it may be stale.
       */
      readonly afterDdl: boolean
      /** The tables the target inherits from (`schema.table`): rules on their columns cover the target's. */
      readonly ancestors?: readonly string[]
      /**
       * Not a store: a condition compares the target column with `reads` (`u.email = o.email`), so which
       * rows match shows one through the other; judged as a copy (decides.ts).
       */
      readonly compared?: boolean
    }

/** The lineage of a query (one or several statements). */
export type LineageResult =
  | {
      readonly ok: true
      /** One entry per top-level statement, in order (the n-th result set belongs to the n-th statement). */
      readonly statements: readonly StatementLineage[]
      /**
       * Cursor and prepared-statement changes, one list per statement: apply the n-th with
       * `applyLineageEffects` when the n-th statement completed (CommandComplete), not before.
       */
      readonly effects: readonly (readonly LineageEffect[])[]
      /**
       * True when the result used or changed session state (cursors, prepared statements), or asked the
       * catalog view what it had not loaded yet: never cache it.
       */
      readonly sessionDependent: boolean
    }
  | {readonly ok: false; readonly error: string}
