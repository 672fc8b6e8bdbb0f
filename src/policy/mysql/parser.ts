/**
 * node-sql-parser, MySQL grammar first and MariaDB's as a fallback (each parses statements the other
 * does not, e.g. only MySQL's reads `CREATE TABLE t AS SELECT`). The per-dialect builds are a tenth
 * of the size of the full bundle; each parser is created once.
 */
import mariadbBuild from 'node-sql-parser/build/mariadb.js'
import mysqlBuild from 'node-sql-parser/build/mysql.js'

/** One statement as node-sql-parser read it. */
export interface Parsed {
  /** The AST, walked generically (node-sql-parser's own typings are incomplete). */
  readonly ast: unknown
  /** node-sql-parser's `op::db::table` list, used to cross-check the walker. */
  readonly tableList: readonly string[]
}

const parsers = [
  {parser: new mysqlBuild.Parser(), database: 'MySQL'},
  {parser: new mariadbBuild.Parser(), database: 'MariaDB'},
] as const

/** Parses one statement of canonical text; null when neither grammar reads it as exactly one statement. */
export function parseStatement(text: string): Parsed | null {
  for (const {parser, database} of parsers) {
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
