/**
 * Reads policy text (YAML, or JSON, which YAML reads too) into a validated Policy. Pure: the caller reads
 * the file and names it in errors. Every problem is reported with its path inside the document
 * (`rules[2].when.kinds[0]`) and what is allowed there; nothing unknown is silently ignored.
 */
import {parseDocument} from 'yaml'
import type {z} from 'zod'

import {ALLOWED_KEYS, VALUE_NOUNS, policySchema} from './language-schema.js'
import type {ApprovalSettings, Policy, Rule} from './types.js'

/** One problem in a policy document. */
export interface PolicyIssue {
  /** Where in the document, e.g. `rules[2].when.kinds[0]`; empty for the document itself. */
  readonly path: string
  readonly message: string
}

/** A policy document that does not follow the policy language. */
export class PolicyLanguageError extends Error {
  readonly issues: readonly PolicyIssue[]

  constructor(issues: readonly PolicyIssue[]) {
    super(issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('\n'))
    this.name = 'PolicyLanguageError'
    this.issues = issues
  }
}

type Segment = string | number

/** Formats a path as `rules[2].when.kinds[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? String(seg) : `.${String(seg)}`
  }
  return out
}

/** Parses and validates policy text; throws PolicyLanguageError listing every problem found. */
export function parsePolicy(text: string): Policy {
  const raw = readDocument(text)
  const parsed = policySchema.safeParse(raw)
  if (!parsed.success) throw new PolicyLanguageError(parsed.error.issues.flatMap((i) => describe(i, raw)))
  const policy = build(parsed.data)
  const issues = [...approvalIssues(parsed.data), ...crossChecks(policy)]
  if (issues.length > 0) throw new PolicyLanguageError(issues)
  return policy
}

function readDocument(text: string): unknown {
  const doc = parseDocument(text, {uniqueKeys: true, prettyErrors: true})
  if (doc.errors.length > 0) {
    throw new PolicyLanguageError(
      doc.errors.map((e) => {
        const first = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')
        const where = e.linePos === undefined ? '' : `line ${e.linePos[0].line}, column ${e.linePos[0].col}: `
        return {path: '', message: `syntax error at ${where}${first}`}
      }),
    )
  }
  const value: unknown = doc.toJS({maxAliasCount: 100})
  if (value === null || value === undefined) {
    throw new PolicyLanguageError([
      {path: '', message: 'the document is empty; it needs at least "version: 1"'},
    ])
  }
  return value
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[seg]
  }
  return cur
}

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `a string ("${v}")`
  if (typeof v === 'number' || typeof v === 'boolean') return `a ${typeof v} (${v})`
  return typeof v
}

const EXPECTED: Readonly<Record<string, string>> = {
  array: 'a list',
  object: 'a mapping',
  string: 'a string',
  number: 'a number',
}

function lastKey(path: readonly PropertyKey[]): string {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string
  return ''
}

function describe(issue: z.core.$ZodIssue, raw: unknown): PolicyIssue[] {
  const path = issue.path.filter((s): s is Segment => typeof s === 'string' || typeof s === 'number')
  const value = valueAt(raw, path)
  switch (issue.code) {
    case 'unrecognized_keys': {
      const shape = formatPath(path.map((s) => (typeof s === 'number' ? '[]' : s))).replaceAll('.[]', '[]')
      const allowed = ALLOWED_KEYS[shape] ?? []
      return issue.keys.map((key) => ({
        path: formatPath([...path, key]),
        message:
          key === 'kinds' && shape === 'masking[].when'
            ? 'masking rules take no "kinds": they apply to whatever the statement returns'
            : `unknown key "${key}"; allowed: ${allowed.join(', ')}`,
      }))
    }
    case 'invalid_value': {
      const key = lastKey(path)
      if (value === undefined) return [{path: formatPath(path), message: invalidType('', value, key)}]
      const noun = VALUE_NOUNS[key] ?? 'value'
      const shown =
        typeof value === 'string'
          ? `"${value}"`
          : typeof value === 'number' || typeof value === 'boolean'
            ? String(value)
            : typeName(value)
      const allowed = issue.values.map(String).join(', ')
      return [{path: formatPath(path), message: `unknown ${noun} ${shown}; allowed: ${allowed}`}]
    }
    case 'invalid_type':
      return [{path: formatPath(path), message: invalidType(issue.expected, value, lastKey(path))}]
    case 'too_small':
      return [
        {
          path: formatPath(path),
          message:
            issue.origin === 'array'
              ? 'must list at least one value (an empty list would never match)'
              : 'must not be empty',
        },
      ]
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
    case 'too_big':
      return [{path: formatPath(path), message: issue.message}]
  }
}

function invalidType(expected: string, value: unknown, key: string): string {
  if (value === undefined) {
    if (key === 'when') return 'required; write "when: {}" to match every statement'
    if (key === 'action') return 'required: every rule needs an action (allow, deny, review)'
    if (key === 'version') return 'required: write "version: 1"'
    return 'required'
  }
  const want = EXPECTED[expected] ?? expected
  const hint = expected === 'array' && typeof value === 'string' ? ` (write [${value}])` : ''
  return `expected ${want}, got ${typeName(value)}${hint}`
}

type Parsed = z.output<typeof policySchema>

function build(doc: Parsed): Policy {
  return {
    version: 1,
    defaults: {action: doc.defaults?.action ?? 'allow', unparseable: doc.defaults?.unparseable ?? 'deny'},
    rules: (doc.rules ?? []).map((r): Rule => ({
      name: r.name,
      when: r.when,
      action: r.action,
      ...(r.message === undefined ? {} : {message: r.message}),
      ...(r.approval === undefined ? {} : {approval: approvalFrom(r.approval)}),
    })),
    masking: doc.masking ?? [],
  }
}

/** What a `review` without `approval:` gets: one approver, reject mode, one use within an hour. */
export const DEFAULT_APPROVAL: ApprovalSettings = {
  approvers: 1,
  groups: [],
  mode: 'reject',
  uses: 1,
  window: 3600,
  expires: 3600,
  anyLiterals: false,
}

const DURATION_UNITS: Readonly<Record<string, number>> = {s: 1, m: 60, h: 3600, d: 86_400}

/** Seconds of a policy duration (`90`, `90s`, `10m`, `1h`, `2d`), or undefined when it is not one. */
export function policyDuration(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 ? v : undefined
  const m = /^(\d+)\s*([smhd]?)$/.exec(v.trim())
  if (!m) return undefined
  const n = Number(m[1]) * (DURATION_UNITS[m[2] || 's'] ?? 1)
  return n > 0 && Number.isSafeInteger(n) ? n : undefined
}

type ParsedApproval = NonNullable<NonNullable<Parsed['rules']>[number]['approval']>

function approvalFrom(a: ParsedApproval): ApprovalSettings {
  const d = DEFAULT_APPROVAL
  return {
    approvers: a.approvers ?? d.approvers,
    groups: a.groups ?? d.groups,
    mode: a.mode ?? d.mode,
    uses: a.uses ?? d.uses,
    // Invalid durations are reported by crossChecks; the fallback is never used by a valid policy.
    window: (a.window === undefined ? undefined : policyDuration(a.window)) ?? d.window,
    expires: (a.expires === undefined ? undefined : policyDuration(a.expires)) ?? d.expires,
    anyLiterals: a.any_literals ?? d.anyLiterals,
  }
}

/** The approval settings of the rule that asked for review (or the defaults: a default action, or no `approval:`). */
export function approvalSettingsOf(policy: Policy, rule: string | null): ApprovalSettings {
  const found = rule === null ? undefined : policy.rules.find((r) => r.name === rule)
  return found?.approval ?? DEFAULT_APPROVAL
}

function approvalIssues(doc: Parsed): PolicyIssue[] {
  const out: PolicyIssue[] = []
  ;(doc.rules ?? []).forEach((r, i) => {
    if (r.approval === undefined) return
    if (r.action !== 'review')
      out.push({
        path: `rules[${i}].approval`,
        message: 'only a rule with "action: review" takes approval settings',
      })
    for (const key of ['window', 'expires'] as const) {
      const v = r.approval[key]
      if (v !== undefined && policyDuration(v) === undefined)
        out.push({
          path: `rules[${i}].approval.${key}`,
          message: `"${v}" is not a duration; write seconds or e.g. 90s, 10m, 1h, 2d`,
        })
    }
  })
  return out
}

const SEGMENTS = {tables: [1, 2], functions: [1, 2], columns: [3, 3]} as const
const SEGMENT_HELP = {
  tables: '"table" or "schema.table"',
  functions: '"name" or "schema.name"',
  columns: '"schema.table.column"',
} as const

function globIssues(
  base: readonly Segment[],
  key: keyof typeof SEGMENTS,
  globs?: readonly string[],
): PolicyIssue[] {
  const [min, max] = SEGMENTS[key]
  const out: PolicyIssue[] = []
  globs?.forEach((g, i) => {
    const parts = g.split('.')
    if (parts.length < min || parts.length > max || parts.some((p) => p === '')) {
      out.push({
        path: formatPath([...base, key, i]),
        message: `"${g}" is not a valid glob; write ${SEGMENT_HELP[key]}`,
      })
    }
  })
  return out
}

function crossChecks(policy: Policy): PolicyIssue[] {
  const out: PolicyIssue[] = []
  const seen = new Map<string, string>()
  const unique = (name: string, path: string): void => {
    const first = seen.get(name)
    if (first === undefined) seen.set(name, path)
    else out.push({path: `${path}.name`, message: `duplicate name "${name}" (already used by ${first})`})
  }
  policy.rules.forEach((r, i) => {
    unique(r.name, `rules[${i}]`)
    out.push(...globIssues(['rules', i, 'when'], 'tables', r.when.tables))
    out.push(...globIssues(['rules', i, 'when'], 'functions', r.when.functions))
  })
  policy.masking.forEach((m, i) => {
    unique(m.name, `masking[${i}]`)
    if (m.columns === undefined && m.detect === undefined) {
      out.push({path: `masking[${i}]`, message: 'a masking rule needs "columns", "detect", or both'})
    }
    out.push(...globIssues(['masking', i], 'columns', m.columns))
    out.push(...globIssues(['masking', i, 'when'], 'tables', m.when?.tables))
    out.push(...globIssues(['masking', i, 'when'], 'functions', m.when?.functions))
  })
  return out
}
