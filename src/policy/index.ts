/** The policy engine's public surface: pure, no I/O. */
export * from './types.js'
export {analyze, loadParsers} from './analyze.js'
export {evaluate, evaluateOperations} from './evaluate.js'
export {Guard, type GuardCacheStats, type GuardOptions, type GuardVerdict} from './guard.js'
export {parsePolicy, formatPath, PolicyLanguageError, type PolicyIssue} from './language.js'
export {compileGlob, compileTableGlob, compileFunctionGlob, type GlobMatcher} from './glob.js'
export {normalize, normalizeMysql, normalizePostgres} from './normalize/index.js'
