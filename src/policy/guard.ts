import {analyze} from './analyze.js'
import {evaluate, evaluateOperations} from './evaluate.js'
import type {Analysis, AnalyzeContext, Decision, Dialect, EvalContext, Operation, Policy} from './types.js'

/** A decision together with the analysis it was made from. */
export interface GuardVerdict {
  readonly decision: Decision
  readonly analysis: Analysis
}

/** Options of a Guard. */
export interface GuardOptions {
  /** Entries kept in the decision cache (0 disables it). */
  readonly cacheSize?: number
}

/**
 * The proxy's hot-path entry point: decides queries for one policy and dialect.
 * (The decision cache is being written; until then every query takes the cold path.)
 */
export class Guard {
  constructor(
    readonly policy: Policy,
    readonly dialect: Dialect,
    _options: GuardOptions = {},
  ) {}

  /** Decides a query (one or several statements) for a session. */
  decide(sql: string, ctx: EvalContext, actx: AnalyzeContext): GuardVerdict {
    const analysis = analyze(sql, this.dialect, actx)
    return {analysis, decision: evaluate(this.policy, analysis, ctx)}
  }

  /** Decides operations that did not come from SQL text, e.g. a protocol-level function call. */
  decideOperations(operations: readonly Operation[], ctx: EvalContext): Decision {
    return evaluateOperations(this.policy, operations, ctx)
  }
}
