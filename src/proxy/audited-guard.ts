/**
 * The guard a session decides with, whatever its protocol: the engine's guard in force now (a renewed
 * bundle swaps it), wrapped so that statements that write are refused while the audit trail cannot
 * record them. Both engines build their sessions' guard here.
 */
import {DbgateError} from '../errors.js'
import type {Decision, EvalContext, Guard} from '../policy/index.js'
import {mayWrite, type SessionAudit} from './session-audit.js'

/** Where a session reads its guard and context: read per statement, so a renewed bundle applies at once. */
export interface GuardSource {
  readonly guard: Guard
  readonly evalContext: EvalContext
}

/** The session's guard source: the engine's guard in force now (it changes on renewal), audited. */
export function auditedSource(config: GuardSource, audit: SessionAudit): GuardSource {
  let base: Guard | undefined
  let audited: Guard | undefined
  return {
    get guard(): Guard {
      const g = config.guard
      if (g !== base || audited === undefined) {
        base = g
        audited = auditedGuard(g, audit)
      }
      return audited
    },
    get evalContext() {
      return config.evalContext
    },
  }
}

/** `E_CODE: message` of an error that has a stable code. */
export function codeAndMessage(error: Error): string {
  return error instanceof DbgateError ? `${error.code}: ${error.message}` : error.message
}

/**
 * The guard of a session whose statements that write are refused while the audit trail cannot record
 * them (spool full or unwritable), with an error naming why; reads still run. Everything else is the guard.
 */
function auditedGuard(guard: Guard, audit: SessionAudit): Guard {
  const refuse = (d: Decision): Decision => {
    if (d.decision !== 'allow' || !mayWrite(d)) return d
    const why = audit.refusal()
    if (why === undefined) return d
    return {
      ...d,
      decision: 'deny',
      rule: 'dbgate-audit-trail',
      message: `${codeAndMessage(why)} Statements that write are refused until the audit trail can record them`,
    }
  }
  const g = Object.create(guard) as Guard
  g.decide = (sql, ctx, actx) => {
    const v = guard.decide(sql, ctx, actx)
    const d = refuse(v.decision)
    return d === v.decision ? v : {decision: d, analysis: v.analysis}
  }
  g.decideOperations = (ops, ctx) => refuse(guard.decideOperations(ops, ctx))
  return g
}
