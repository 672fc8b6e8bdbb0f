/**
 * The types of the policy language (product.md, version 1) and of the guard's decisions.
 * Pure data: no I/O anywhere in src/policy.
 */

/** SQL dialects the analyzers understand. */
export type Dialect = 'postgres' | 'mysql'

/** Statement kinds of the policy language. */
export const KINDS = [
  'select',
  'insert',
  'update',
  'delete',
  'merge',
  'copy',
  'create',
  'alter',
  'drop',
  'truncate',
  'grant',
  'revoke',
  'set',
  'show',
  'transaction',
  'explain',
  'prepare',
  'execute',
  'deallocate',
  'call',
  'do',
  'vacuum',
  'analyze',
  'lock',
  'listen',
  'notify',
  'comment',
  'other',
] as const
/** One statement kind. */
export type Kind = (typeof KINDS)[number]

/** Who is behind a session. */
export const ACTORS = ['human', 'agent', 'ci'] as const
/** One actor. */
export type Actor = (typeof ACTORS)[number]

/** What a rule, a default, or the whole decision says. Strictness: deny > review > allow. */
export const ACTIONS = ['allow', 'deny', 'review'] as const
/** One action. */
export type Action = (typeof ACTIONS)[number]

/** Value classifiers a masking rule can ask for. */
export const CLASSIFIERS = ['email', 'credit_card', 'ssn', 'phone', 'iban', 'secret'] as const
/** One classifier. */
export type Classifier = (typeof CLASSIFIERS)[number]

/** Masking styles. */
export const MASK_STYLES = ['redact', 'partial', 'hash', 'null'] as const
/** One masking style. */
export type MaskStyle = (typeof MASK_STYLES)[number]

/**
 * The WHERE clause of an UPDATE or DELETE: `absent` also covers a WHERE that is always true
 * (`WHERE true`, `WHERE 1=1`); `null` for operations that are not UPDATE or DELETE.
 */
export type WhereState = 'present' | 'absent' | null

/** One operation of a query: a statement, or something nested in one (a CTE write, EXPLAIN ANALYZE's statement...). */
export interface Operation {
  readonly kind: Kind
  /** Every table referenced anywhere in the operation, as `schema.table`, identifiers case-folded as the server would. */
  readonly tables: readonly string[]
  /**
   * Tables named without a schema, as `[schema.table as in tables, table, also named with that schema]`: the
   * session's search_path decides where they live, so rules judge them in every schema the policy names too
   * (Postgres).
   */
  readonly unqualified?: readonly (readonly [resolved: string, name: string, qualifiedToo: boolean])[]
  /** Every function called anywhere in the operation, as written (`schema.name` when qualified), case-folded. */
  readonly functions: readonly string[]
  readonly where: WhereState
  /**
   * A `present` WHERE that only drops rows where these columns of the written table are NULL (`id is not
   * null`): it is `absent` when the catalog says they cannot be. The engine asks (see applyNotNull).
   */
  readonly notNull?: NotNullCheck
}

/** Columns of a written table whose NOT NULL constraint would make the operation's WHERE absent. */
export interface NotNullCheck {
  /** The table's schema (MySQL: database) as the statement names it; null when unqualified. */
  readonly schema: string | null
  readonly table: string
  /** Column names, identifiers case-folded as the server would. */
  readonly columns: readonly string[]
}

/** Conditions of a rule's `when`; all given conditions must hold, a list matches if any element matches. */
export interface Condition {
  readonly kinds?: readonly Kind[]
  readonly tables?: readonly string[]
  readonly functions?: readonly string[]
  readonly where?: 'absent'
  readonly targets?: readonly string[]
  readonly identities?: readonly string[]
  readonly groups?: readonly string[]
  readonly actors?: readonly Actor[]
}

/** How a `review` is approved: the `approval:` of a rule, defaults filled in (docs/approvals.md). */
export interface ApprovalSettings {
  /** Distinct approvers needed (never the requester). */
  readonly approvers: number
  /** Groups whose members may approve besides holders of the approver role; empty: the role only. */
  readonly groups: readonly string[]
  /** `hold` keeps the statement in flight until decided; `reject` answers at once naming the request. */
  readonly mode: 'hold' | 'reject'
  /** How many times a grant may be used. */
  readonly uses: number
  /** Seconds a grant stays usable after approval. */
  readonly window: number
  /** Seconds a request waits for approval before it expires. */
  readonly expires: number
  /** When true a grant matches the statement's fingerprint with any literal values, not only its exact text. */
  readonly anyLiterals: boolean
}

/** A rule of `rules:`. */
export interface Rule {
  readonly name: string
  readonly when: Condition
  readonly action: Action
  readonly message?: string
  /** Approval settings of a `review` rule. */
  readonly approval?: ApprovalSettings
}

/** A rule of `masking:`: columns (`schema.table.column` globs) and/or value classifiers. */
export interface MaskingRule {
  readonly name: string
  readonly columns?: readonly string[]
  readonly detect?: readonly Classifier[]
  readonly style: MaskStyle
  readonly when?: Omit<Condition, 'kinds'>
}

/** A validated policy document. */
export interface Policy {
  readonly version: 1
  readonly defaults: {readonly action: Action; readonly unparseable: Action}
  readonly rules: readonly Rule[]
  readonly masking: readonly MaskingRule[]
}

/** Who runs a statement, where: what rules match on besides the SQL. */
export interface EvalContext {
  readonly actor: Actor
  readonly identity?: string | undefined
  readonly groups?: readonly string[] | undefined
  readonly target?: string | undefined
}

/** Session facts the analyzer needs to resolve names. */
export interface AnalyzeContext {
  /** Schema for unqualified tables: `public` for Postgres, the connection's database for MySQL. */
  readonly defaultSchema: string
  /**
   * Operations of statements prepared earlier in this session (SQL PREPARE or a named protocol-level
   * Parse), by name, so that `EXECUTE name` is judged by what it runs.
   */
  readonly prepared?: ReadonlyMap<string, readonly Operation[]> | undefined
}

/** A prepared statement a query creates, so the session can remember what it runs. */
export interface PreparedEffect {
  readonly name: string
  readonly operations: readonly Operation[]
}

/** Result of analyzing one query (which may hold several statements). */
export type Analysis =
  | {
      readonly ok: true
      readonly operations: readonly Operation[]
      /** Number of top-level statements in the query. */
      readonly statements: number
      /** Statements prepared by this query (SQL PREPARE), to be remembered by the session if allowed. */
      readonly prepares: readonly PreparedEffect[]
      /** Names deallocated by this query; `'all'` for DEALLOCATE ALL. */
      readonly deallocates: readonly string[] | 'all'
      /**
       * True when literal values (not only the structure) decided part of the analysis, e.g. a
       * constant WHERE clause. Such analyses must not be shared between statements that differ in literals.
       */
      readonly literalSensitive: boolean
      /** MySQL `USE db`: the schema unqualified names resolve to from the next query on. */
      readonly schemaChange?: string | undefined
    }
  | {
      readonly ok: false
      /** Why the statement could not be read; shown to the user. */
      readonly error: string
    }

/** What the guard decides for a query. */
export interface Decision {
  readonly decision: Action
  /** The rule that decided, or null when a default decided. */
  readonly rule: string | null
  readonly message: string | null
  readonly operations: readonly Operation[]
  /** True when the statement could not be parsed and `defaults.unparseable` decided. */
  readonly unparseable: boolean
  /** Masking rules that apply to this identity, actor and target. */
  readonly masking: readonly MaskingRule[]
}
