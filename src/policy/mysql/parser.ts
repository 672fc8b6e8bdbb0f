/**
 * node-sql-parser, MySQL grammar first and MariaDB's as a fallback (each parses statements the other
 * does not, e.g. only MySQL's reads `CREATE TABLE t AS SELECT`). The per-dialect builds are a tenth
 * of the size of the full bundle; each parser is created once, at the first MySQL statement: a
 * process that guards only Postgres never loads them (about 16 MB of memory).
 */
import {createRequire} from 'node:module'

import type mysqlBuild from 'node-sql-parser/build/mysql.js'

/** One statement as node-sql-parser read it. */
export interface Parsed {
  /** The AST, walked generically (node-sql-parser's own typings are incomplete). */
  readonly ast: unknown
  /** node-sql-parser's `op::db::table` list, used to cross-check the walker. */
  readonly tableList: readonly string[]
}

type Build = typeof mysqlBuild
let parsers:
  readonly {readonly parser: InstanceType<Build['Parser']>; readonly database: string}[] | undefined

/** The two parsers, loaded on first use (the builds are CommonJS: a synchronous require). */
function loaded(): NonNullable<typeof parsers> {
  if (parsers !== undefined) return parsers
  const require = createRequire(import.meta.url)
  const build = (name: string): Build => require(`node-sql-parser/build/${name}.js`) as Build
  parsers = [
    {parser: new (build('mysql').Parser)(), database: 'MySQL'},
    {parser: new (build('mariadb').Parser)(), database: 'MariaDB'},
  ]
  return parsers
}

/** Parses one statement of canonical text; null when neither grammar reads it as exactly one statement. */
export function parseStatement(text: string): Parsed | null {
  for (const {parser, database} of loaded()) {
    let result: {ast: unknown; tableList: string[]}
    try {
      result = parser.parse(text, {database})
    } catch {
      continue
    }
    const ast: unknown = Array.isArray(result.ast)
      ? result.ast.length === 1
        ? result.ast[0]
        : null
      : result.ast
    if (ast !== null && typeof ast === 'object') return {ast, tableList: result.tableList}
  }
  return null
}
