/** The policy engine's public surface: pure, no I/O. */
export * from './types.js'
export {analyze, loadParsers} from './analyze.js'
export {evaluate, evaluateOperations} from './evaluate.js'
export {Guard, type GuardCacheStats, type GuardOptions, type GuardVerdict} from './guard.js'
export {applyNotNull, hasNotNullChecks} from './not-null.js'
export {
  parsePolicy,
  formatPath,
  PolicyLanguageError,
  approvalSettingsOf,
  policyDuration,
  DEFAULT_APPROVAL,
  type PolicyIssue,
} from './language.js'
export {
  compileGlob,
  compileExactGlob,
  compileTableGlob,
  compileFunctionGlob,
  type GlobMatcher,
} from './glob.js'
export {
  normalize,
  normalizeMysql,
  normalizePostgres,
  scanMysql,
  scanPostgres,
  ShapeScan,
} from './normalize/index.js'
export {
  lineagePostgres,
  lineagePostgresStatements,
  applyLineageEffects,
  expressionColumns,
  UNKNOWN_LINEAGE,
  type LineageSessionState,
} from './lineage/postgres.js'
export {UNRESOLVED as UNRESOLVED_SCHEMA} from './lineage/from.js'
export {CHECKED, CONDITION, DELAY, FAILS, ORDER, ROW_COUNT, SERVER_FILE, SHARED_BY} from './lineage/types.js'
export {SHARES_ARGUMENT} from './lineage/functions.js'
export {LineageCache} from './lineage/cache.js'
export type {
  CatalogView,
  CursorLineage,
  LineageContext,
  LineageEffect,
  LineageResult,
  LineageSession,
  OutputColumn,
  StatementLineage,
} from './lineage/types.js'
export {
  planMasking,
  hasColumnRules,
  mayReadMaskedColumns,
  NO_MASKED_READS,
  ruleFor,
  typeCategory,
  type ColumnMatch,
  type DetectPlan,
  type FieldPlan,
  type PlanField,
  maskedCopy,
  strictestRule,
  type MaskedCopy,
  type StoredWrite,
} from './masking-plan.js'
