import {readFileSync} from 'node:fs'

import {parse as parseYaml} from 'yaml'

import {policyVersion} from '../../control/bundle.js'
import {messageOf} from '../../errors.js'
import {parsePolicy, PolicyLanguageError} from '../../policy/index.js'
import type {ConfigPolicy} from '../config.js'
import {ServerConfigError} from '../config.js'

/**
 * The config's `policies:` compiled: each document read (inline, or from its file), checked with the policy
 * language parser, and hashed into its policy_version. Selection is first match in config order: the first
 * entry whose target globs match the target and whose groups share one with the caller ('*' = everyone).
 */

/** One policy ready to be put in bundles. */
export interface CompiledPolicy {
  readonly name: string
  readonly targets: readonly string[]
  readonly groups: readonly string[]
  /** The document as plain JSON (what the bundle carries). */
  readonly document: Record<string, unknown>
  /** `sha256:<hex>` of the canonical document. */
  readonly version: string
}

/** A target glob: `*` matches any run of characters (dots included), `?` one; case-sensitive. */
export function targetGlobMatches(pattern: string, target: string): boolean {
  const body = pattern
    .replace(/[\\^$.|+()[\]{}]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.')
  return new RegExp(`^${body}$`, 'su').test(target)
}

function issuesOf(err: unknown): string[] {
  if (err instanceof PolicyLanguageError)
    return err.issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
  return [messageOf(err)]
}

function readDocument(entry: ConfigPolicy, where: string): {text: string; document: unknown} {
  if (entry.document !== undefined) return {text: JSON.stringify(entry.document), document: entry.document}
  const file = entry.file ?? ''
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ServerConfigError(where, [`cannot read policy file ${file}: ${messageOf(err)}`])
  }
  return {text, document: parseYaml(text) as unknown}
}

/** Reads and validates every policy; a problem names the entry (`policies[1] (name)`) and each issue. */
export function compilePolicies(entries: readonly ConfigPolicy[], file: string): CompiledPolicy[] {
  return entries.map((entry, i) => {
    const where = `policies[${i}] (${entry.name})`
    let loaded: {text: string; document: unknown}
    try {
      loaded = readDocument(entry, file)
      parsePolicy(loaded.text)
    } catch (err) {
      if (err instanceof ServerConfigError) throw err
      throw new ServerConfigError(
        file,
        issuesOf(err).map(
          (m) => `${where}${entry.file === undefined ? '.document' : ` ${entry.file}`}: ${m}`,
        ),
      )
    }
    const document = JSON.parse(JSON.stringify(loaded.document)) as Record<string, unknown>
    return {
      name: entry.name,
      targets: [...entry.targets],
      groups: [...entry.groups],
      document,
      version: policyVersion(document),
    }
  })
}

/** The first policy for this target and these groups, or undefined (no bundle: the session is refused). */
export function selectPolicy(
  policies: readonly CompiledPolicy[],
  target: string,
  groups: readonly string[],
): CompiledPolicy | undefined {
  return policies.find(
    (p) =>
      p.targets.some((g) => targetGlobMatches(g, target)) &&
      p.groups.some((g) => g === '*' || groups.includes(g)),
  )
}
