/** The policy engine's public surface: pure, no I/O. */
export * from './types.js'
export {analyze, loadParsers} from './analyze.js'
export {evaluate, evaluateOperations} from './evaluate.js'
export {Guard, type GuardOptions, type GuardVerdict} from './guard.js'
