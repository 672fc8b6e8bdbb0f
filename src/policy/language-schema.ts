/**
 * The zod schema of the policy language (version 1): strict objects, so an unknown key is an error
 * instead of a silently ignored condition.
 */
import {z} from 'zod'

import {ACTIONS, ACTORS, CLASSIFIERS, KINDS, MASK_STYLES} from './types.js'

const name = z.string().min(1)
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1)
const glob = z.string().min(1)

const conditionShape = {
  tables: list(glob).optional(),
  functions: list(glob).optional(),
  where: z.literal('absent').optional(),
  targets: list(name).optional(),
  identities: list(name).optional(),
  groups: list(name).optional(),
  actors: list(z.enum(ACTORS)).optional(),
}

/** A rule's `when`. */
export const conditionSchema = z.strictObject({kinds: list(z.enum(KINDS)).optional(), ...conditionShape})

/** A masking rule's `when`: the same conditions without `kinds`. */
export const maskingConditionSchema = z.strictObject(conditionShape)

/** A duration: seconds, or a number with s, m, h or d. */
const duration = z.union([z.number(), z.string()])

/** A rule's `approval:` (only meaningful with `action: review`). */
export const approvalSchema = z.strictObject({
  approvers: z.number().int().min(1).max(10).optional(),
  groups: list(name).optional(),
  mode: z.enum(['hold', 'reject']).optional(),
  uses: z.number().int().min(1).max(1000).optional(),
  window: duration.optional(),
  expires: duration.optional(),
  any_literals: z.boolean().optional(),
})

/** One rule of `rules:`. */
export const ruleSchema = z.strictObject({
  name,
  when: conditionSchema,
  action: z.enum(ACTIONS),
  message: z.string().optional(),
  approval: approvalSchema.optional(),
})

/** One rule of `masking:`. YAML reads `style: null` as a null value: it means the `null` style. */
export const maskingRuleSchema = z.strictObject({
  name,
  columns: list(glob).optional(),
  detect: list(z.enum(CLASSIFIERS)).optional(),
  style: z.preprocess((v) => (v === null ? 'null' : v), z.enum(MASK_STYLES)),
  when: maskingConditionSchema.optional(),
})

/** The whole document. */
export const policySchema = z.strictObject({
  version: z.literal(1),
  defaults: z
    .strictObject({action: z.enum(ACTIONS).optional(), unparseable: z.enum(ACTIONS).optional()})
    .optional(),
  rules: z.array(ruleSchema).optional(),
  masking: z.array(maskingRuleSchema).optional(),
})

/** The keys allowed in each kind of object, by the path with list indices removed. */
export const ALLOWED_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(policySchema.shape),
  defaults: ['action', 'unparseable'],
  'rules[]': Object.keys(ruleSchema.shape),
  'rules[].when': Object.keys(conditionSchema.shape),
  'rules[].approval': Object.keys(approvalSchema.shape),
  'masking[]': Object.keys(maskingRuleSchema.shape),
  'masking[].when': Object.keys(maskingConditionSchema.shape),
}

/** What a value of an enumerated field is called in messages, by the key holding it. */
export const VALUE_NOUNS: Readonly<Record<string, string>> = {
  kinds: 'kind',
  actors: 'actor',
  action: 'action',
  unparseable: 'action',
  detect: 'classifier',
  style: 'style',
  where: 'value',
  version: 'version',
  mode: 'mode',
}
